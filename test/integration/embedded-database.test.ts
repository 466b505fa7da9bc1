import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const repo = resolve(import.meta.dirname, '../..');

/**
 * Run in a process of its own, which records every module it loads: which data sources load
 * PGlite, before and after the embedded one connects.
 */
const probe = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r; } });
const hasPglite = () => loaded.some((url) => url.includes('@electric-sql/pglite'));
const { createDataSource } = await import('./src/db/data-source.ts');
createDataSource({ url: 'postgres://postgres@127.0.0.1:1/none' });
const withUrl = hasPglite();
const embedded = createDataSource({ pgliteDir: process.env.PROBE_DIR });
const beforeConnect = hasPglite();
await embedded.initialize();
const [{ answer }] = await embedded.query('SELECT 6 * 7 AS answer');
await embedded.destroy();
console.log(JSON.stringify({ withUrl, beforeConnect, afterConnect: hasPglite(), answer }));
`;

describe('the embedded database', () => {
  it('is loaded only when a process uses it: never with DATABASE_URL', async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), 'tobira-pglite-'));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], {
        cwd: repo, env: { ...process.env, PROBE_DIR: join(dir, 'pglite') },
      });
      expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).to.deep.equal({
        withUrl: false, beforeConnect: false, afterConnect: true, answer: 42,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
