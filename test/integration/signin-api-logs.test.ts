import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startSmtpSink } from '../helpers/smtp-sink.ts';
import { api, authorize, codeFromMail, createRp, device, exchange, followToCallback, passkeySignIn, uniqueEmail } from '../helpers/oidc-flow.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { createContainer } from '../../src/container.ts';
import { createApp } from '../../src/app.ts';

/**
 * Starts Tobira like test/helpers/tobira.ts does, but with every log line (down to trace)
 * captured in `lines`. Like the shared Tobira's neighbours elsewhere, it uses the shared one's
 * DATA_ENCRYPTION_KEY and leaves an embedded database open when it stops (typeorm-pglite keeps
 * one PGlite per process).
 */
async function startLoggedTobira(): Promise<TestTobira & { lines: string[] }> {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  const shared = await sharedTobira();
  const smtp = await startSmtpSink();
  const dataDir = mkdtempSync(join(tmpdir(), 'tobira-logs-'));
  const probe = (await import('node:net')).createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const config = loadConfig({
    NODE_ENV: 'test', PORT: String(port), ISSUER: `http://localhost:${port}`, DATA_DIR: dataDir, SMTP_URL: smtp.url, LOG_LEVEL: 'trace',
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    DATA_ENCRYPTION_KEY: shared.config.dataEncryptionKey,
    REDIS_PREFIX: `tobira-test-${randomBytes(4).toString('hex')}:`, DEMO: 'false',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  });
  const container = await createContainer(config, createLogger('trace', sink));
  const server: Server = (await createApp(container)).listen(port);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    url: config.issuer, config, container, smtp, server, lines,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      if (config.databaseUrl) await container.close();
      else await Promise.all([container.mailer.close(), container.store.close()]);
      await smtp.close();
    },
  };
}

describe(`logs (${backendLabel()})`, () => {
  let t: TestTobira & { lines: string[] };
  before(async () => { t = await startLoggedTobira(); });
  after(async () => { await t?.close(); });

  it('never contain one-time codes, authorization codes or tokens, even from failed attempts', async () => {
    const rp = await createRp(t);
    const secrets: string[] = [];

    // Sign up with an email code (one wrong code first) and a passkey.
    const ua = device(t);
    const auth = await authorize(ua, rp);
    const email = uniqueEmail();
    await api(ua, t, auth, '/signup/start', { email });
    const signupCode = await codeFromMail(t, email);
    const wrongCode = String((Number(signupCode) + 1) % 1_000_000).padStart(6, '0');
    secrets.push(signupCode, wrongCode);
    expect((await api(ua, t, auth, '/signup/verify', { code: wrongCode })).status).to.equal(400);
    // A malformed body holding a code must not be logged either.
    expect((await ua.post(`${t.url}/interaction/${auth.uid}/signup/verify`, `{"code":"${wrongCode}"`)).status).to.equal(400);
    expect((await api(ua, t, auth, '/signup/verify', { code: signupCode })).status).to.equal(200);
    const authenticator = createSoftAuthenticator();
    const regOptions = await api(ua, t, auth, '/register/options');
    const registered = await api(ua, t, auth, '/register/verify', { response: authenticator.register(regOptions.json, t.url) });
    expect(registered.status, registered.text).to.equal(200);
    const callback = await followToCallback(ua, rp, registered.json.redirectTo);
    secrets.push(callback.searchParams.get('code')!);
    const tokens = await exchange(rp, auth, callback);
    secrets.push(tokens.access_token, tokens.id_token!, tokens.refresh_token!);
    await oidc.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    const refreshed = await oidc.refreshTokenGrant(rp.config, tokens.refresh_token!);
    secrets.push(refreshed.access_token, refreshed.refresh_token!);

    // Sign in again with an email code, then with the passkey.
    const ua2 = device(t);
    const auth2 = await authorize(ua2, rp);
    await api(ua2, t, auth2, '/email/start', { identifier: email });
    const signinCode = await codeFromMail(t, email);
    secrets.push(signinCode);
    expect((await api(ua2, t, auth2, '/email/verify', { code: signinCode })).status).to.equal(200);
    const ua3 = device(t);
    const auth3 = await authorize(ua3, rp);
    expect((await passkeySignIn(ua3, t, auth3, authenticator, email)).status).to.equal(200);
    for (const cookie of await ua3.jar.getCookies(t.url)) if (cookie.value.length >= 16) secrets.push(cookie.value);

    expect(t.lines.length, 'the flow was logged').to.be.greaterThan(10);
    expect(t.lines.some((l) => l.includes('"msg":"request"')), 'request lines were logged').to.equal(true);
    for (const secret of secrets) {
      expect(secret, 'a secret to look for').to.be.a('string').with.length.greaterThan(5);
      const leaks = t.lines.filter((l) => l.includes(secret));
      expect(leaks, `a log line contains ${secret.slice(0, 12)}…`).to.deep.equal([]);
    }
  });
});
