import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createPgliteDriver } from './pglite-driver.ts';
import { migrations } from '../../migrations/index.ts';
import { AccountEntity } from '../accounts/account.entity.ts';
import { PasskeyEntity } from '../passkeys/passkey.entity.ts';
import { lockPgliteDir } from './pglite-lock.ts';

/** Where the data source points: a PostgreSQL URL, or an embedded PGlite directory. */
export type DatabaseTarget = { url: string } | { pgliteDir: string };

/**
 * Builds (does not connect) the TypeORM data source. Schema changes only come from
 * `migrations/`; `synchronize` is never used. An embedded directory is locked from
 * `initialize()` to `destroy()`: one process at a time (see `pglite-lock.ts`).
 */
export function createDataSource(target: DatabaseTarget): DataSource {
  const common = {
    type: 'postgres' as const,
    entities: [AccountEntity, PasskeyEntity],
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    uuidExtension: 'pgcrypto' as const,
    logging: false,
  };
  if ('url' in target) {
    return new DataSource({
      ...common,
      url: target.url,
      // Fail fast (503) rather than hang when PostgreSQL stops answering.
      extra: { max: 10, connectionTimeoutMillis: 3000, query_timeout: 5000 },
    });
  }
  mkdirSync(target.pgliteDir, { recursive: true });
  const ds = new DataSource({ ...common, driver: createPgliteDriver({ dataDir: target.pgliteDir }) });
  return withDirectoryLock(ds, target.pgliteDir);
}

function withDirectoryLock(ds: DataSource, dir: string): DataSource {
  const initialize = ds.initialize.bind(ds);
  const destroy = ds.destroy.bind(ds);
  let release: (() => void) | undefined;
  ds.initialize = async () => {
    release = lockPgliteDir(dir);
    try {
      return await initialize();
    } catch (error) {
      release();
      throw error;
    }
  };
  ds.destroy = async () => {
    try {
      await destroy();
    } finally {
      release?.();
    }
  };
  return ds;
}

/** The data directory PGlite uses under DATA_DIR. */
export function pgliteDirOf(dataDir: string): string {
  return join(dataDir, 'pglite');
}

/** Where the configuration points: DATABASE_URL when set, else the embedded directory under DATA_DIR. */
export function databaseTargetOf(config: { databaseUrl?: string; dataDir: string }): DatabaseTarget {
  return config.databaseUrl ? { url: config.databaseUrl } : { pgliteDir: pgliteDirOf(config.dataDir) };
}
