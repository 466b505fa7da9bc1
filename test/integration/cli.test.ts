import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, freePort, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { authorize, device, exchange, followToCallback, signUp, uniqueEmail, type TestRp } from '../helpers/oidc-flow.ts';
import type { ClientRecord } from '../../src/admin/client-service.ts';

const root = resolve(import.meta.dirname, '../..');

/** What a CLI run printed and how it exited. */
interface CliRun { code: number; stdout: string; stderr: string; json: any }

/** Runs the real CLI (`node src/cli.ts ...`) in a child process, as an operator would. */
function runCli(env: Record<string, string>, args: string[]): Promise<CliRun> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['src/cli.ts', ...args], { cwd: root, env, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') { fail(error); return; }
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      done({ code: error ? (error.code as number) : 0, stdout, stderr, json });
    });
  });
}

/** A relying party in openid-client for a registered client and secret. */
async function rpFor(t: TestTobira, client: ClientRecord, secret = client.client_secret): Promise<TestRp> {
  const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
  const config = await oidc.discovery(new URL(t.url), client.client_id, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  return { client, config, redirectUri: client.redirect_uris[0] };
}

const hex = () => randomBytes(4).toString('hex');

/** A Tobira server process (`node src/main.ts`), as an operator runs it. */
interface ServerProcess { url: string; child: ChildProcess; stop(): Promise<void> }

async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const child = spawn(process.execPath, ['src/main.ts'], { cwd: root, env: { ...env, PORT: String(port), ISSUER: url, LOG_LEVEL: 'silent' }, stdio: 'ignore' });
  const exited = once(child, 'exit');
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Tobira exited with ${child.exitCode} before listening`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('Tobira did not start within 60 s'); }
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, async stop() { child.kill('SIGTERM'); await exited; } };
}

async function publishedKids(server: ServerProcess): Promise<string[]> {
  const jwks = await (await fetch(`${server.url}/jwks`)).json() as { keys: { kid: string }[] };
  return jwks.keys.map((k) => k.kid);
}

describe(`tobira CLI (${backendLabel()})`, function () {
  // Every call starts a Node process and opens the database (PGlite: about two seconds).
  this.timeout(120_000);
  let t: TestTobira;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(env, args);

  before(async () => {
    t = await sharedTobira();
    // The CLI runs in the server's environment: same database and the same DATA_ENCRYPTION_KEY
    // (signing keys it writes must open in the server). Without DATABASE_URL it uses PGlite in its own DATA_DIR.
    env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'tobira-cli-')),
      DATA_ENCRYPTION_KEY: t.config.dataEncryptionKey,
      COOKIE_KEYS: t.config.cookieKeys.join(','),
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    };
  });

  it('migrate applies what is pending once, then says the database is up to date', async () => {
    const first = await cli('migrate', '--format', 'json');
    expect(first.code, first.stderr).to.equal(0);
    // A fresh embedded database gets the schema now; a shared PostgreSQL was migrated by the running Tobira.
    if (!process.env.DATABASE_URL) expect(first.json.applied).to.include('InitialSchema1763800000000');
    const again = await cli('migrate');
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('up to date');
  });

  describe('clients', () => {
    const clientId = `cli-${hex()}`;
    let secret: string;

    it('create --format json prints the client with its secret, once', async () => {
      const run = await cli('clients', 'create', '--client-id', clientId, '--name', 'Mileage Club',
        '--redirect-uri', 'https://club.example.com/callback', '--post-logout-redirect-uri', 'https://club.example.com/',
        '--first-party', '--format', 'json');
      expect(run.code, run.stderr).to.equal(0);
      expect(run.json).to.include({ client_id: clientId, client_name: 'Mileage Club', token_endpoint_auth_method: 'client_secret_basic', first_party: true, disabled: false });
      expect(run.json.redirect_uris).to.deep.equal(['https://club.example.com/callback']);
      expect(run.json.grant_types).to.deep.equal(['authorization_code', 'refresh_token']);
      expect(run.json.client_secret).to.match(/^[A-Za-z0-9_-]{43}$/);
      secret = run.json.client_secret;
    });

    it('list and get show the client but never its secret', async () => {
      const list = await cli('clients', 'list', '--format', 'json');
      expect(list.code, list.stderr).to.equal(0);
      const listed = (list.json as ClientRecord[]).find((c) => c.client_id === clientId);
      expect(listed).to.include({ client_name: 'Mileage Club' });
      expect(listed).not.to.have.property('client_secret');

      const get = await cli('clients', 'get', clientId, '--format', 'json');
      expect(get.code, get.stderr).to.equal(0);
      expect(get.json).to.include({ client_id: clientId, first_party: true });
      expect(get.json).not.to.have.property('client_secret');

      const table = await cli('clients', 'get', clientId);
      expect(table.stdout).to.contain(clientId).and.to.contain('https://club.example.com/callback').and.not.to.contain(secret);
      expect((await cli('clients', 'list')).stdout).to.match(new RegExp(`${clientId}\\s+Mileage Club\\s+confidential\\s+yes\\s+enabled`)).and.not.to.contain(secret);
    });

    it('rotate-secret prints a new secret, once', async () => {
      const run = await cli('clients', 'rotate-secret', clientId, '--format', 'json');
      expect(run.code, run.stderr).to.equal(0);
      expect(run.json.client_secret).to.match(/^[A-Za-z0-9_-]{43}$/).and.not.to.equal(secret);
    });

    it('update replaces the redirect URIs and keeps what was not given', async () => {
      const run = await cli('clients', 'update', clientId, '--redirect-uri', 'https://club.example.com/cb2', '--redirect-uri', 'http://localhost:8080/cb', '--format', 'json');
      expect(run.code, run.stderr).to.equal(0);
      const get = await cli('clients', 'get', clientId, '--format', 'json');
      expect(get.json.redirect_uris).to.deep.equal(['https://club.example.com/cb2', 'http://localhost:8080/cb']);
      expect(get.json).to.include({ client_name: 'Mileage Club', first_party: true });
      expect(get.json.post_logout_redirect_uris).to.deep.equal(['https://club.example.com/']);
    });

    it('update refuses a bad value with exit code 2 and leaves the client as it was', async () => {
      const run = await cli('clients', 'update', clientId, '--redirect-uri', 'https://club.example.com/#/cb');
      expect(run.code).to.equal(2);
      expect(run.stderr).to.contain('request.invalid').and.to.contain('redirect_uris.0').and.to.contain('fragments are not allowed');
      expect((await cli('clients', 'get', clientId, '--format', 'json')).json.redirect_uris).to.deep.equal(['https://club.example.com/cb2', 'http://localhost:8080/cb']);
    });

    it('disable and enable switch the client off and on', async () => {
      expect((await cli('clients', 'disable', clientId, '--format', 'json')).json).to.include({ client_id: clientId, disabled: true });
      expect((await cli('clients', 'list')).stdout).to.match(new RegExp(`${clientId}\\s.*disabled`));
      expect((await cli('clients', 'enable', clientId, '--format', 'json')).json).to.include({ disabled: false });
    });

    it('delete removes the client; then get and delete exit 4', async () => {
      const run = await cli('clients', 'delete', clientId);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.contain(`Deleted client ${clientId}`);
      const get = await cli('clients', 'get', clientId);
      expect(get.code).to.equal(4);
      expect(get.stderr).to.contain(`client ${clientId} does not exist`);
      expect((await cli('clients', 'delete', clientId)).code).to.equal(4);
    });

    it('create refuses a plain-http redirect URI with exit code 2 and says why; nothing is stored', async () => {
      const name = `Bad ${hex()}`;
      const run = await cli('clients', 'create', '--name', name, '--redirect-uri', 'http://club.example.com/callback');
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.contain('request.invalid: The request is not valid: redirect_uris.0: http://club.example.com/callback: http is only allowed for loopback addresses');
      const json = await cli('clients', 'create', '--name', name, '--redirect-uri', 'javascript:alert(1)', '--format', 'json');
      expect(json.code).to.equal(2);
      expect(JSON.parse(json.stderr)).to.include({ error: 'request.invalid' });
      expect(JSON.parse(json.stderr).message).to.contain('javascript: URIs are not allowed');
      expect((await cli('clients', 'list')).stdout).not.to.contain(name);
    });

    it('creates a public native-app client without a secret', async () => {
      const run = await cli('clients', 'create', '--name', 'Club app', '--public', '--redirect-uri', 'com.example.club:/callback', '--format', 'json');
      expect(run.code, run.stderr).to.equal(0);
      expect(run.json).to.include({ token_endpoint_auth_method: 'none' });
      expect(run.json).not.to.have.property('client_secret');
      expect((await cli('clients', 'rotate-secret', run.json.client_id)).stderr).to.contain('a public client has no secret');
    });
  });

  describe('members and admins', () => {
    const email = uniqueEmail('cli');
    let memberNumber: string;

    it('members create prints the new member number', async () => {
      const run = await cli('members', 'create', '--email', email.toUpperCase(), '--name', 'Hanako Yamada', '--locale', 'ja', '--format', 'json');
      expect(run.code, run.stderr).to.equal(0);
      expect(run.json).to.include({ email, name: 'Hanako Yamada', locale: 'ja', email_verified: true, disabled: false });
      expect(run.json.member_number).to.match(/^[1-9]\d{9}$/);
      expect(run.json.roles).to.deep.equal([]);
      memberNumber = run.json.member_number;
    });

    it('refuses a second member with the same email (exit 2)', async () => {
      const run = await cli('members', 'create', '--email', email);
      expect(run.code).to.equal(2);
      expect(run.stderr).to.contain('already belongs to a member');
    });

    it('members find finds them by member number (any spacing) and by email', async () => {
      const byNumber = await cli('members', 'find', `${memberNumber.slice(0, 4)}-${memberNumber.slice(4)}`, '--format', 'json');
      expect(byNumber.code, byNumber.stderr).to.equal(0);
      expect(byNumber.json).to.include({ member_number: memberNumber, email });
      const byEmail = await cli('members', 'find', email.toUpperCase());
      expect(byEmail.code, byEmail.stderr).to.equal(0);
      expect(byEmail.stdout).to.contain(memberNumber).and.to.contain('Hanako Yamada').and.to.contain('passkeys');
      const unknown = await cli('members', 'find', uniqueEmail('nobody'));
      expect(unknown.code).to.equal(4);
    });

    it('admins grant gives the admin role once, revoke takes it away', async () => {
      const grant = await cli('admins', 'grant', email, '--format', 'json');
      expect(grant.code, grant.stderr).to.equal(0);
      expect(grant.json.roles).to.deep.equal(['admin']);
      expect((await cli('admins', 'grant', memberNumber, '--format', 'json')).json.roles, 'granted twice').to.deep.equal(['admin']);
      expect((await cli('admins', 'revoke', memberNumber, '--format', 'json')).json.roles).to.deep.equal([]);
      expect((await cli('admins', 'grant', uniqueEmail('nobody'))).code).to.equal(4);
    });

    it('members disable and enable', async () => {
      expect((await cli('members', 'disable', memberNumber, '--format', 'json')).json).to.include({ disabled: true });
      expect((await cli('members', 'find', email)).stdout).to.match(/status\s+disabled/);
      expect((await cli('members', 'enable', email, '--format', 'json')).json).to.include({ disabled: false });
    });
  });

  describe('usage', () => {
    it('--help works on every level, exits 0 and shows examples', async () => {
      const levels: [string[], string][] = [
        [['--help'], 'tobira admins grant MEMBER'],
        [['clients', '--help'], 'tobira clients rotate-secret CLIENT_ID'],
        [['members', 'find', '-h'], 'tobira members find hanako@example.com'],
      ];
      for (const [args, shown] of levels) {
        const run = await cli(...args);
        expect(run.code, args.join(' ')).to.equal(0);
        expect(run.stdout, args.join(' ')).to.contain(shown);
      }
      const create = await cli('clients', 'create', '--help');
      expect(create.stdout).to.contain('--redirect-uri URI').and.to.contain('Examples:').and.to.contain('Exit codes');
      expect((await cli('keys', 'rotate', '--help')).stdout).to.contain('restart');
    });

    it('a usage mistake exits 2 and points to the help', async () => {
      const missing = await cli('clients', 'create', '--redirect-uri', 'https://club.example.com/cb');
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.contain('--name is required').and.to.contain('tobira clients create --help');
      const unknown = await cli('clients', 'list', '--colour');
      expect(unknown.code).to.equal(2);
      expect(unknown.stderr).to.contain("Unknown option '--colour'");
      expect((await cli('clients', 'get')).stderr).to.contain('missing CLIENT_ID');
      expect((await cli('frobnicate')).code).to.equal(2);
      expect((await cli('clients', 'list', '--format', 'xml')).code).to.equal(2);
    });
  });

  describe('beside a Tobira process on the embedded database', () => {
    // Its own DATA_DIR and no DATABASE_URL, whatever the suite runs on: these are the no-setup
    // default's rules, and a key rotation here cannot disturb other tests' shared database.
    let embedded: Record<string, string>;
    let server: ServerProcess | undefined;
    before(() => {
      const { DATABASE_URL: _db, REDIS_URL: _redis, ...rest } = env;
      embedded = { ...rest, DATA_DIR: mkdtempSync(join(tmpdir(), 'tobira-cli-embedded-')) };
    });
    afterEach(async () => { await server?.stop(); server = undefined; });

    it('refuses the data directory while the server holds it (exit 1, says which process)', async () => {
      server = await startServer(embedded);
      const run = await runCli(embedded, ['clients', 'list']);
      expect(run.code).to.equal(1);
      expect(run.stderr).to.contain(`in use by process ${server.child.pid}`).and.to.contain('DATABASE_URL');
    });

    it('keys rotate adds a key per algorithm that the server publishes after a restart, beside the old ones', async () => {
      server = await startServer(embedded);
      const before = await publishedKids(server);
      await server.stop();
      server = undefined;

      const run = await runCli(embedded, ['keys', 'rotate', '--format', 'json']);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.json.keys.map((k: { alg: string }) => k.alg)).to.deep.equal(['ES256', 'RS256']);
      const rotated = run.json.keys.map((k: { kid: string }) => k.kid);
      expect(before).not.to.include.members(rotated);

      server = await startServer(embedded);
      expect(await publishedKids(server)).to.include.members([...rotated, ...before]);
    });
  });

  it('a client registered with the CLI works at once for a complete sign-in; secret rotation and disabling apply at once', async () => {
    // The CLI and the running Tobira must share a database. With PostgreSQL they do. With the
    // embedded PGlite default only one process may open a data directory (the running Tobira holds
    // its own), so there the same changes go through the client service the CLI calls.
    const viaCli = Boolean(process.env.DATABASE_URL);
    const admin = {
      async create(redirectUri: string): Promise<ClientRecord> {
        if (!viaCli) return t.container.clients.create({ client_name: 'CLI RP', redirect_uris: [redirectUri], first_party: true });
        const run = await cli('clients', 'create', '--name', 'CLI RP', '--redirect-uri', redirectUri, '--first-party', '--format', 'json');
        expect(run.code, run.stderr).to.equal(0);
        return run.json;
      },
      async rotate(clientId: string): Promise<string> {
        if (!viaCli) return (await t.container.clients.rotateSecret(clientId)).client_secret!;
        const run = await cli('clients', 'rotate-secret', clientId, '--format', 'json');
        expect(run.code, `exit ${run.code}: ${run.stderr}${run.stdout}`).to.equal(0);
        return run.json.client_secret;
      },
      async disable(clientId: string): Promise<void> {
        if (!viaCli) await t.container.clients.setDisabled(clientId, true);
        else expect((await cli('clients', 'disable', clientId)).code).to.equal(0);
      },
    };

    const client = await admin.create(`http://127.0.0.1:9/cb/${hex()}`);
    const rp = await rpFor(t, client);
    const ua = device(t);
    const auth = await authorize(ua, rp);
    const { result, memberNumber } = await signUp(ua, t, auth, createSoftAuthenticator());
    expect(result.status, result.text).to.equal(200);
    const tokens = await exchange(rp, auth, await followToCallback(ua, rp, result.json.redirectTo));
    expect(tokens.claims()!.aud).to.equal(client.client_id);
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.member_number).to.equal(memberNumber);

    const newSecret = await admin.rotate(client.client_id);
    const refused = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!).then(() => null, (error: unknown) => error);
    expect(refused, 'the old secret is refused').to.be.instanceOf(oidc.WWWAuthenticateChallengeError);
    const challenge = (refused as oidc.WWWAuthenticateChallengeError).cause[0];
    expect([(refused as oidc.WWWAuthenticateChallengeError).status, challenge.parameters.error]).to.deep.equal([401, 'invalid_client']);
    const refreshed = await oidc.refreshTokenGrant((await rpFor(t, client, newSecret)).config, tokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string');

    await admin.disable(client.client_id);
    const url = oidc.buildAuthorizationUrl(rp.config, { redirect_uri: rp.redirectUri, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const res = await device(t).get(url.href);
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('invalid_client');

    if (viaCli) {
      const rows = await t.container.ds.query(
        "SELECT data->>'action' AS action, data->>'via' AS via FROM audit_events WHERE type = 'admin.client_changed' AND client_id = $1 ORDER BY id",
        [client.client_id],
      );
      expect(rows).to.deep.equal(['create', 'rotate_secret', 'disable'].map((action) => ({ action, via: 'cli' })));
    }
  });
});
