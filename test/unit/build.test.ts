import { expect } from 'chai';
import { existsSync, mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { appRoot, appRootFrom } from '../../src/config/app-root.ts';
import { productionNodeArgs } from '../../bench/options.ts';

const repo = resolve(import.meta.dirname, '../..');

describe('the build and the image', () => {
  it('finds views/ and static/ from the sources and from the compiled copy in dist/', () => {
    expect(appRoot).to.equal(repo);
    expect(existsSync(join(appRoot, 'views'))).to.equal(true);
    expect(appRootFrom(join(repo, 'dist'))).to.equal(repo);
    // A directory named dist that is itself the root (it has views/) stays the root.
    const other = join(mkdtempSync(join(tmpdir(), 'tobira-root-')), 'dist');
    mkdirSync(join(other, 'views'), { recursive: true });
    expect(appRootFrom(other)).to.equal(other);
  });

  it('the Dockerfile and the README run the compiled server on Node 24 with the V8 settings the benchmark measures', () => {
    const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8');
    expect(dockerfile).to.match(/^FROM node:24-/m);
    expect(dockerfile).to.contain('RUN npm run build');
    expect(/TOBIRA_NODE_ARGS="([^"]+)"/.exec(dockerfile)?.[1]).to.equal(productionNodeArgs);
    expect(dockerfile).to.contain('exec node $TOBIRA_NODE_ARGS dist/src/main.js');
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).to.contain(`node ${productionNodeArgs} dist/src/main.js`);
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    expect(pkg.scripts.build).to.contain('tsconfig.build.json');
  });
});
