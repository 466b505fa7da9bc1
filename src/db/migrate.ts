import type { DataSource } from 'typeorm';

/**
 * Runs pending migrations. On PostgreSQL, under an advisory lock, so that several instances
 * starting together apply each migration once. (The embedded database is one process only,
 * guarded by its lock file, and has a single connection: no advisory lock there.)
 * Returns the names of the migrations applied.
 */
export async function migrate(ds: DataSource): Promise<string[]> {
  const embedded = Boolean((ds.options as { driver?: unknown }).driver);
  if (embedded) return (await ds.runMigrations({ transaction: 'each' })).map((m) => m.name);
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(4243)');
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock(4243)').catch(() => {});
    await runner.release();
  }
}
