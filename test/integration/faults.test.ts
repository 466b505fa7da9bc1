import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { freePort, startTobira, type TestTobira } from '../helpers/tobira.ts';
import { eventually } from '../helpers/eventually.ts';
import { api, authorize, createRp, device, passkeySignIn, signUp, type TestRp } from '../helpers/oidc-flow.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import type { UaResponse } from '../helpers/user-agent.ts';
import { translator } from '../../src/i18n/i18n.ts';

/** How long a request may take while a store is down: it must fail fast, not hang. */
const fastFailMs = 4000;

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** A redis-server of the test's own, on a fixed port so it can come back where it was. */
function redisServer(port: number) {
  let child: ChildProcess | undefined;
  return {
    async start() {
      let failed: Error | undefined;
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      child.once('error', (error) => { failed = error; });
      await eventually(`redis-server listening on ${port}`, async () => {
        if (failed) throw new Error(`cannot run redis-server: ${failed.message}`);
        return accepts(port);
      }, 5000).catch((error) => { throw failed ? new Error(`cannot run redis-server: ${failed.message}`) : error; });
    },
    /** Kills it like a crash would (SIGKILL) and waits until it is gone. */
    async kill() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** A TCP proxy to Postgres that the test can cut (closing every connection) and restore on the same port. */
function tcpProxy(port: number, target: { host: string; port: number }) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    async start() {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => { client.destroy(); upstream.destroy(); });
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async cut() {
      const closed = new Promise((resolve) => server?.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Asserts a quick 503 service.unavailable JSON answer in the request's language. */
async function expectUnavailable(request: () => Promise<UaResponse>, locale: 'en' | 'ja' = 'en') {
  const started = Date.now();
  const res = await request();
  expect(Date.now() - started, 'answered quickly').to.be.below(fastFailMs);
  expect(res.status, res.text).to.equal(503);
  expect(res.json).to.deep.equal({ error: 'service.unavailable', message: translator(locale)('errors.service.unavailable') });
  expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
}

describe('faults: a store goes away and comes back', () => {
  describe('Redis', () => {
    let redis: ReturnType<typeof redisServer>;
    let t: TestTobira;
    let rp: TestRp;
    let authenticator: SoftAuthenticator;
    let memberNumber: string;
    before(async () => {
      const port = await freePort();
      redis = redisServer(port);
      await redis.start();
      t = await startTobira({ REDIS_URL: `redis://127.0.0.1:${port}` });
      rp = await createRp(t);
      authenticator = createSoftAuthenticator();
      const ua = device(t);
      ({ memberNumber } = await signUp(ua, t, await authorize(ua, rp), authenticator));
    });
    after(async () => {
      await t?.close();
      await redis?.kill();
    });

    it('answers 503 service.unavailable at once while Redis is down, and works again without a restart when it is back', async () => {
      const ua = device(t, 'ja');
      const auth = await authorize(ua, rp);
      expect((await api(ua, t, auth, '/passkey/options', {})).status).to.equal(200);

      await redis.kill();
      const ready = await ua.get(`${t.url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(ready.json).to.deep.equal({ status: 'unavailable', database: 'ok', store: 'unavailable' });
      await expectUnavailable(() => api(ua, t, auth, '/passkey/options', {}), 'ja');
      await expectUnavailable(() => api(ua, t, auth, '/passkey/options', { identifier: memberNumber }), 'ja');
      await expectUnavailable(() => api(ua, t, auth, '/email/start', { identifier: memberNumber }), 'ja');
      const page = await ua.get(auth.interactionUrl);
      expect(page.status).to.equal(503);
      expect(page.text).to.contain(translator('ja')('errors.service.unavailable'));

      await redis.start();
      await eventually('/readyz is 200 again', async () => (await ua.get(`${t.url}/readyz`)).status === 200, 15_000, 50);
      // Redis lost its data (no persistence): a new sign-in goes all the way through.
      const again = device(t);
      const signIn = await passkeySignIn(again, t, await authorize(again, rp), authenticator, memberNumber);
      expect(signIn.status, signIn.text).to.equal(200);
      expect(signIn.json.redirectTo).to.be.a('string');
    });
  });

  describe('Postgres', () => {
    let proxy: ReturnType<typeof tcpProxy>;
    let t: TestTobira;
    let rp: TestRp;
    let authenticator: SoftAuthenticator;
    let memberNumber: string;
    before(async function () {
      if (!process.env.DATABASE_URL) {
        console.log('      (skipped: set DATABASE_URL to a real Postgres to cut its connection; the embedded PGlite cannot be cut)');
        this.skip();
      }
      const url = new URL(process.env.DATABASE_URL!);
      const port = await freePort();
      proxy = tcpProxy(port, { host: url.hostname, port: Number(url.port || 5432) });
      await proxy.start();
      url.host = `127.0.0.1:${port}`;
      t = await startTobira({ DATABASE_URL: url.href });
      rp = await createRp(t);
      authenticator = createSoftAuthenticator();
      const ua = device(t);
      ({ memberNumber } = await signUp(ua, t, await authorize(ua, rp), authenticator));
    });
    after(async () => {
      await t?.close();
      await proxy?.cut();
    });

    it('answers 503 service.unavailable at once while Postgres is unreachable, and recovers when it is back', async () => {
      const ua = device(t);
      const auth = await authorize(ua, rp);

      await proxy.cut();
      const ready = await ua.get(`${t.url}/readyz`);
      expect(ready.status).to.equal(503);
      expect(ready.json).to.include({ status: 'unavailable', database: 'unavailable' });
      await expectUnavailable(() => api(ua, t, auth, '/passkey/options', { identifier: memberNumber }));
      const response = authenticator.authenticate((await api(ua, t, auth, '/passkey/options', {})).json, t.url);
      await expectUnavailable(() => api(ua, t, auth, '/passkey/verify', response));

      await proxy.start();
      await eventually('/readyz is 200 again', async () => (await ua.get(`${t.url}/readyz`)).status === 200, 15_000, 50);
      const signIn = await passkeySignIn(ua, t, auth, authenticator, memberNumber);
      expect(signIn.status, signIn.text).to.equal(200);
    });
  });
});
