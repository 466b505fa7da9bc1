import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** Runs one parameterized statement and resolves to its rows. */
export type Sql = (text: string, params?: unknown[]) => Promise<any[]>;

/**
 * The query function for hot paths (every sign-in, token and userinfo call): on PostgreSQL the pg
 * pool's own `query`, which skips TypeORM's query runner (about 30 µs of CPU per statement), with
 * named statements, so that each connection parses and plans a statement once; on the embedded
 * database the data source's. Statements must be fixed texts (parameters in `params`), so that
 * each text gets one name; and SELECTs, or end in one (a CTE over an INSERT/UPDATE/DELETE), or
 * have their result ignored: both paths then give the same rows. Use it after the data source is
 * initialized.
 */
export function plainSql(ds: DataSource): Sql {
  const embedded = Boolean((ds.options as { driver?: unknown }).driver);
  const pool = (ds.driver as { master?: { query?: unknown } }).master;
  if (!embedded && pool && typeof pool.query === 'function') {
    const query = pool.query as (config: { name: string; text: string; values?: unknown[] }) => Promise<{ rows: any[] }>;
    // Named (prepared) statements: each connection parses and plans a statement once, not per call.
    const names = new Map<string, string>();
    const nameOf = (text: string) => {
      let name = names.get(text);
      if (!name) names.set(text, (name = `tobira_${createHash('sha256').update(text).digest('base64url').slice(0, 16)}`));
      return name;
    };
    return async (text, params) => (await query.call(pool, { name: nameOf(text), text, values: params })).rows;
  }
  return (text, params) => ds.query(text, params);
}
