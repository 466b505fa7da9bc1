import { EventEmitter } from 'node:events';
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';

type Done = () => void;

/** TypeORM's postgres driver sends booleans as JS values; PGlite wants SQL literals. */
const serializeBoolean = (value: unknown): string => (value === true || value === 'true' || value === 1 ? 'TRUE'
  : value === false || value === 'false' || value === 0 ? 'FALSE' : String(value));

/**
 * A `pg`-shaped driver for TypeORM (`new DataSource({ type: 'postgres', driver })`) over one
 * PGlite instance per data source. (typeorm-pglite keeps one PGlite per process, so a second
 * data source silently shared the first one's files and `destroy()` closed it for both.)
 *
 * PGlite is a single connection, so checkouts are serialized: a query runner holds the
 * connection from `connect` to its release, and transactions of concurrent requests can never
 * interleave.
 *
 * PGlite (its JavaScript and its WebAssembly) is loaded on the first connection, so a process
 * that uses PostgreSQL (`DATABASE_URL`) never holds it in memory.
 */
export function createPgliteDriver(options: PGliteOptions): { Pool: new () => unknown } {
  let db: Promise<PGlite> | undefined;
  const open = () => (db ??= import('@electric-sql/pglite').then(({ PGlite, types }) =>
    PGlite.create({ ...options, serializers: { [types.BOOL]: serializeBoolean, ...options.serializers } })));
  const waiting: (() => void)[] = [];
  let busy = false;

  function acquire(): Promise<Done> {
    return new Promise((resolve) => {
      const grant = () => {
        busy = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          busy = false;
          waiting.shift()?.();
        });
      };
      if (busy) waiting.push(grant);
      else grant();
    });
  }

  async function run(sql: string, params?: unknown[]) {
    const instance = await open();
    if (params && params.length) return instance.query(sql, params);
    const results = await instance.exec(sql);
    return results[results.length - 1] ?? { rows: [], fields: [] };
  }

  class Pool extends EventEmitter {
    connect(callback: (error: unknown, client: unknown, done: Done) => void): void {
      acquire().then(async (done) => {
        try {
          await open();
          const client = Object.assign(new EventEmitter(), {
            query: (sql: string, params: unknown, cb?: unknown) => this.query(sql, params, cb, true),
            release: done,
          });
          callback(null, client, done);
        } catch (error) {
          done();
          callback(error, null, () => {});
        }
      });
    }

    async query(sql: string, params?: unknown, callback?: unknown, checkedOut = false): Promise<unknown> {
      const cb = (typeof params === 'function' ? params : callback) as ((e: unknown, r: unknown) => void) | undefined;
      const values = Array.isArray(params) ? params : undefined;
      const done = checkedOut ? undefined : await acquire();
      try {
        const result = await run(sql, values);
        cb?.(null, result);
        return result;
      } catch (error) {
        cb?.(error, null);
        if (!cb) throw error;
        return undefined;
      } finally {
        done?.();
      }
    }

    end(callback?: (error: unknown) => void): void {
      const closing = db;
      db = undefined;
      (closing ? closing.then((instance) => instance.close()) : Promise.resolve()).then(() => callback?.(null), (e) => callback?.(e));
    }
  }
  return { Pool };
}
