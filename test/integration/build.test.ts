import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/tobira.ts';
import { buildTobira } from '../../bench/tobira-server.ts';

const repo = resolve(import.meta.dirname, '../..');

// What the Dockerfile runs: `npm run build`, then `node dist/src/main.js`. The build goes to a
// directory of its own (next to links to views/, static/, config/ and node_modules/, as in the
// image), and Node runs it with TypeScript stripping turned off, so a module left as .ts fails.
describe('the compiled build (npm run build, dist/)', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'tobira-build-'));
  let server: string;

  before(() => {
    server = buildTobira(repo, join(dir, 'dist'));
    for (const name of ['views', 'static', 'config', 'node_modules']) symlinkSync(join(repo, name), join(dir, name));
  });

  it('serves pages, static files and discovery on the embedded database without TypeScript', async () => {
    const port = await freePort();
    const url = `http://localhost:${port}`;
    const env = { PATH: process.env.PATH ?? '', PORT: String(port), ISSUER: url, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent' };
    const child = spawn(process.execPath, ['--no-experimental-strip-types', server], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => { stderr += chunk; });
    const exited = once(child, 'exit');
    try {
      await eventually('the compiled server answers /readyz', async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${stderr}`);
        return (await fetch(`${url}/readyz`)).ok;
      }, 60_000, 200).catch((error) => { throw new Error(`${error.message}\n${stderr}`); });
      const discovery = await (await fetch(`${url}/.well-known/openid-configuration`)).json() as { issuer: string };
      expect(discovery.issuer).to.equal(url);
      const css = await fetch(`${url}/static/app.css`);
      expect(css.status).to.equal(200);
      expect(css.headers.get('content-type')).to.contain('text/css');
      const demo = await fetch(`${url}/demo`, { headers: { 'accept-language': 'ja' } });
      expect(demo.status).to.equal(200);
      expect(await demo.text()).to.contain('<html lang="ja"');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
