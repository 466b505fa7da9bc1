import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Directories this process holds, so a lock file left with our pid by an earlier process (pid 1 in a container) counts as stale. */
const held = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function tryCreate(path: string): boolean {
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Takes the embedded database directory for this process. PGlite has no locking of its own:
 * a second process on the same files (the CLI while the server runs) sees stale data and can
 * corrupt it. A lock file holding the pid is enough for one machine; a lock whose process is
 * gone is taken over. Returns the function that releases it.
 */
export function lockPgliteDir(dir: string): () => void {
  const path = join(dir, 'tobira.lock');
  if (held.has(dir)) throw new Error(`The embedded database in ${dir} is already open in this process.`);
  for (let attempt = 0; !tryCreate(path); attempt++) {
    const pid = holderOf(path);
    if ((pid !== null && pid !== process.pid && isRunning(pid)) || attempt === 2) {
      throw new Error(
        `The embedded database in ${dir} is in use by process ${pid ?? '?'} (a running Tobira?). ` +
        'PGlite allows one process at a time: stop that process first, or set DATABASE_URL to a PostgreSQL database both can share.',
      );
    }
    rmSync(path, { force: true });
  }
  held.add(dir);
  return () => {
    if (!held.delete(dir)) return;
    if (holderOf(path) === process.pid) unlinkSync(path);
  };
}
