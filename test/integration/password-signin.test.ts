/**
 * Password sign-in of members imported from an older system: the three hash families, the
 * second factor (authenticator app or SMS), one answer for every kind of refusal, acr/amr in the
 * ID token, rate limits, the audit log, and `acr_values=phr`.
 */
import { expect } from 'chai';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import * as argon2 from '@node-rs/argon2';
import { generate, generateSecret } from 'otplib';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { authorize, createRp, device, exchange, followToCallback, uniqueEmail, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import { importMembers } from '../../src/accounts/member-import.ts';
import type { Account } from '../../src/accounts/account.entity.ts';

const password = 'Tr0ub4dor&3 — 旧パスワード';

/** Hashes as the older systems wrote them (made here with the same libraries those systems use). */
const hashes = {
  bcrypt: () => bcrypt.hash(password, 10).then((h) => h.replace(/^\$2[ab]\$/, '$2y$')),
  argon2id: () => argon2.hash(password),
  pbkdf2: async () => {
    const salt = randomBytes(16);
    return `$pbkdf2-sha256$i=310000$${salt.toString('base64')}$${pbkdf2Sync(password, salt, 310000, 32, 'sha256').toString('base64')}`;
  },
  django: async () => {
    const salt = randomBytes(9).toString('hex');
    return `pbkdf2_sha256$260000$${salt}$${pbkdf2Sync(password, salt, 260000, 32, 'sha256').toString('base64')}`;
  },
};

let ipCounter = 0;
const runPrefix = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
/** A fresh client address (TRUST_PROXY is on), so each test has its own per-IP budget and audit trail. */
const freshIp = () => `${runPrefix}::${(++ipCounter).toString(16)}`;

describe(`password sign-in of imported members (${backendLabel()})`, function () {
  this.timeout(60_000);
  let t: TestTobira;
  let sms: SmsSink;
  let rp: TestRp;

  before(async () => {
    sms = await startSmsSink();
    t = await startTobira({ SMS_URL: sms.url, TRUST_PROXY: 'true' });
    rp = await createRp(t);
  });
  after(async () => {
    await t?.close();
    await sms?.close();
  });

  /** Imports one member the way `tobira members import` does; returns the stored account. */
  async function importMember(line: Record<string, unknown>): Promise<Account> {
    const email = uniqueEmail('legacy');
    const report = await importMembers(t.container.ds, [JSON.stringify({ email, ...line })], { dryRun: false });
    expect(report.errors).to.deep.equal([]);
    return (await t.container.accounts.findByEmail(email))!;
  }

  /** One browser at one address: POSTs to its interaction with X-Forwarded-For. */
  function client(ip = freshIp()) {
    const ua: UserAgent = device(t);
    return {
      ua,
      ip,
      post: (auth: Authorization, path: string, body: unknown = {}) =>
        ua.post(`${t.url}/interaction/${auth.uid}${path}`, body, { headers: { 'x-forwarded-for': ip } }),
    };
  }

  async function tokensAfter(c: ReturnType<typeof client>, auth: Authorization, redirectTo: string) {
    return exchange(rp, auth, await followToCallback(c.ua, rp, redirectTo));
  }

  async function auditTypes(accountId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
    return t.container.ds.query('SELECT type, data FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
  }

  for (const [kind, make] of Object.entries(hashes)) {
    it(`signs in with the old password (${kind} hash), offers a passkey, and the ID token says pwd / sfa`, async () => {
      const account = await importMember({ password_hash: await make(), name: 'Legacy Member' });
      const c = client();
      const auth = await authorize(c.ua, rp);
      const verified = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
      expect(verified.status, verified.text).to.equal(200);
      expect(verified.json).to.deep.equal({ next: 'create_passkey', passwordRetires: true, skippable: true });
      const done = await c.post(auth, '/continue');
      expect(done.status, done.text).to.equal(200);
      const tokens = await tokensAfter(c, auth, done.json.redirectTo);
      const claims = tokens.claims()!;
      expect(claims.sub).to.equal(account.id);
      expect(claims.acr).to.equal('sfa');
      expect(claims.amr).to.deep.equal(['pwd']);
      const events = await auditTypes(account.id);
      expect(events.at(-1)).to.deep.include({ type: 'signin.success' });
      expect(events.at(-1)!.data).to.include({ method: 'password', acr: 'sfa' });
      // The hash is kept as it was imported: no rehash (the password goes away with the first passkey).
      expect((await t.container.accounts.findById(account.id))!.passwordHash).to.equal(account.passwordHash);
    });
  }

  it('asks for the authenticator app code after the password; a code is accepted once; the ID token says mfa', async () => {
    const account = await importMember({ password_hash: await hashes.bcrypt() });
    const secret = generateSecret();
    const now = Math.floor(Date.now() / 1000);
    expect(await t.container.totp.enable(account.id, secret, await generate({ secret, epoch: now }))).to.equal(true);
    // The setup code's time step is used up; the next step's code is the member's next one.
    const code = await generate({ secret, epoch: now + 30 });

    const c = client();
    const auth = await authorize(c.ua, rp);
    const first = await c.post(auth, '/password/verify', { identifier: account.email.toUpperCase(), password });
    expect(first.status, first.text).to.equal(200);
    expect(first.json).to.deep.equal({ next: 'totp' });
    expect((await c.post(auth, '/continue')).status, 'no sign-in before the second factor').to.equal(409);
    const wrong = await c.post(auth, '/password/second-factor', { code: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).to.equal(400);
    expect(wrong.json).to.include({ error: 'code.invalid' });
    const right = await c.post(auth, '/password/second-factor', { code });
    expect(right.status, right.text).to.equal(200);
    expect(right.json).to.deep.equal({ next: 'create_passkey', passwordRetires: true, skippable: true });
    const done = await c.post(auth, '/continue');
    const claims = (await tokensAfter(c, auth, done.json.redirectTo)).claims()!;
    expect(claims.acr).to.equal('mfa');
    expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);

    // The same code again, in a new sign-in with the right password: refused.
    const again = client();
    const auth2 = await authorize(again.ua, rp);
    expect((await again.post(auth2, '/password/verify', { identifier: account.memberNumber, password })).json).to.deep.equal({ next: 'totp' });
    const replay = await again.post(auth2, '/password/second-factor', { code });
    expect(replay.status).to.equal(400);
    expect(replay.json.error).to.equal('code.invalid');
    const failures = (await auditTypes(account.id)).filter((e) => e.type === 'signin.failure');
    expect(failures.map((e) => e.data)).to.deep.include({ method: 'password', step: 'totp', code: 'code.invalid' });
  });

  it('after five wrong authenticator codes the password must be given again', async () => {
    const account = await importMember({ password_hash: await hashes.argon2id() });
    const secret = generateSecret();
    await t.container.ds.query('UPDATE accounts SET totp_secret = $2 WHERE id = $1', [account.id, t.container.box.seal(secret)]);
    const code = await generate({ secret });
    const wrongCode = code === '123456' ? '654321' : '123456';
    const c = client();
    const auth = await authorize(c.ua, rp);
    await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    const answers = await Promise.all(Array.from({ length: 8 }, () => c.post(auth, '/password/second-factor', { code: wrongCode })));
    expect(answers.filter((a) => a.json?.error === 'code.invalid'), 'at most 4 wrong codes are answered as wrong').to.have.length.at.most(4);
    expect(answers.every((a) => a.status >= 400)).to.equal(true);
    const right = await c.post(auth, '/password/second-factor', { code });
    expect(right.status).to.equal(409);
    expect(right.json.error).to.equal('interaction.wrong_step');
    const restart = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(restart.json).to.deep.equal({ next: 'totp' });
    expect((await c.post(auth, '/password/second-factor', { code })).json).to.include({ next: 'create_passkey' });
  });

  it('sends an SMS code to the verified phone, in the member’s language; a resend replaces it; the ID token says mfa', async () => {
    const phone = `+8190${String(randomBytes(4).readUInt32BE() % 1e8).padStart(8, '0')}`;
    const account = await importMember({ password_hash: await hashes.pbkdf2(), phone, locale: 'ja' });
    const c = client();
    const auth = await authorize(c.ua, rp);
    const first = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(first.status, first.text).to.equal(200);
    expect(first.json).to.deep.include({ next: 'sms', sentTo: `+81${'•'.repeat(phone.length - 7)}${phone.slice(-4)}` });
    const firstSms = await sms.waitFor(phone);
    expect(firstSms.text).to.contain('ログイン用コード');
    const oldCode = /\b(\d{6})\b/.exec(firstSms.text)![1];

    sms.messages.length = 0;
    const resend = await c.post(auth, '/password/sms/resend');
    expect(resend.status, resend.text).to.equal(200);
    const newCode = /\b(\d{6})\b/.exec((await sms.waitFor(phone)).text)![1];
    if (oldCode !== newCode) {
      const stale = await c.post(auth, '/password/second-factor', { code: oldCode });
      expect(stale.json.error).to.equal('code.invalid');
    }
    // Sent twice at once: the code counts once.
    const answers = await Promise.all([1, 2].map(() => c.post(auth, '/password/second-factor', { code: newCode })));
    const right = answers.find((a) => a.status === 200)!;
    const other = answers.find((a) => a !== right)!;
    expect(other.status).to.be.within(400, 499);
    expect(other.json.error).to.be.oneOf(['code.expired', 'interaction.wrong_step']);
    expect(right.json.next).to.equal('create_passkey');
    const done = await c.post(auth, '/continue');
    const claims = (await tokensAfter(c, auth, done.json.redirectTo)).claims()!;
    expect(claims).to.include({ acr: 'mfa', sub: account.id });
    expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
  });

  it('gives an unknown identifier, a wrong password, a member without a password and a retired password the same answer', async () => {
    const withPassword = await importMember({ password_hash: await hashes.bcrypt() });
    const withoutPassword = await importMember({});
    // A member who signed in with the password and created a passkey: the password is retired.
    const retired = await importMember({ password_hash: await hashes.bcrypt() });
    const setup = client();
    const setupAuth = await authorize(setup.ua, rp);
    expect((await setup.post(setupAuth, '/password/verify', { identifier: retired.memberNumber, password })).status).to.equal(200);
    const authenticator = createSoftAuthenticator();
    const options = await setup.post(setupAuth, '/register/options');
    const registered = await setup.post(setupAuth, '/register/verify', { response: authenticator.register(options.json, t.url) });
    expect(registered.status, registered.text).to.equal(200);
    expect((await t.container.accounts.findById(retired.id))!.passwordEnabled, 'the first passkey turned the password off').to.equal(false);

    const attempts: [string, string, string][] = [
      ['unknown member number', '1234567897', password],
      ['unknown email', uniqueEmail('nobody'), password],
      ['wrong password', withPassword.memberNumber, `${password}!`],
      ['no password at all', withoutPassword.memberNumber, password],
      ['password retired by a passkey', retired.memberNumber, password],
    ];
    const answers: { label: string; status: number; body: unknown; ms: number }[] = [];
    for (const [label, identifier, pw] of attempts) {
      const c = client();
      const auth = await authorize(c.ua, rp);
      const start = performance.now();
      const res = await c.post(auth, '/password/verify', { identifier, password: pw });
      answers.push({ label, status: res.status, body: res.json, ms: performance.now() - start });
    }
    for (const a of answers) {
      expect({ label: a.label, status: a.status, body: a.body }).to.deep.equal({ label: a.label, status: 400, body: answers[0].body });
    }
    expect(answers[0].body).to.include({ error: 'password.invalid' });
    // Every answer verified a hash: none comes back in a fraction of a real verification's time.
    const real = answers.find((a) => a.label === 'wrong password')!.ms;
    for (const a of answers) expect(a.ms, a.label).to.be.above(real / 4);
  });

  it('refuses a disabled account with the right password as disabled, and with a wrong one as wrong', async () => {
    const account = await importMember({ password_hash: await hashes.argon2id() });
    await t.container.accounts.setDisabled(account.id, true);
    const c = client();
    const auth = await authorize(c.ua, rp);
    const wrong = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password: 'nope' });
    expect(wrong.json.error).to.equal('password.invalid');
    const right = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(right.status).to.equal(403);
    expect(right.json.error).to.equal('account.disabled');
  });

  it('limits password attempts per identifier (any spelling of it), also for the right password', async () => {
    const account = await importMember({ password_hash: await hashes.bcrypt() });
    const spaced = `${account.memberNumber.slice(0, 4)} ${account.memberNumber.slice(4)}`;
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => {
      const c = client();
      return authorize(c.ua, rp).then((auth) => c.post(auth, '/password/verify', { identifier: i % 2 ? spaced : account.memberNumber, password: `guess-${i}` }));
    }));
    expect(answers.map((a) => a.json.error)).to.deep.equal(Array(10).fill('password.invalid'));
    const c = client();
    const auth = await authorize(c.ua, rp);
    const limited = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(limited.status).to.equal(429);
    expect(limited.json.error).to.equal('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 900);
    // Another member from the same address is not affected.
    const other = await importMember({ password_hash: await hashes.bcrypt() });
    expect((await c.post(auth, '/password/verify', { identifier: other.memberNumber, password })).status).to.equal(200);
    // The refused guesses are in the audit log under the member's account; the rate-limited one is not.
    const failures = (await auditTypes(account.id)).filter((e) => e.type === 'signin.failure');
    expect(failures.map((e) => e.data)).to.deep.equal(Array(10).fill({ method: 'password', step: 'password', code: 'password.invalid' }));
  });

  it('limits password attempts per IP address across identifiers', async () => {
    const ip = freshIp();
    const c = client(ip);
    const auth = await authorize(c.ua, rp);
    const identifiers = Array.from({ length: 100 }, () => uniqueEmail('spray'));
    for (let i = 0; i < identifiers.length; i += 20) {
      const batch = await Promise.all(identifiers.slice(i, i + 20).map((identifier) => c.post(auth, '/password/verify', { identifier, password })));
      expect(batch.map((a) => a.status)).to.deep.equal(Array(batch.length).fill(400));
    }
    const account = await importMember({ password_hash: await hashes.bcrypt() });
    const limited = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(limited.status).to.equal(429);
    expect(limited.json.error).to.equal('rate_limited');
    const elsewhere = client();
    const auth2 = await authorize(elsewhere.ua, rp);
    expect((await elsewhere.post(auth2, '/password/verify', { identifier: account.memberNumber, password })).status).to.equal(200);
    const [{ n }] = await t.container.ds.query(
      "SELECT count(*)::int AS n FROM audit_events WHERE type = 'signin.failure' AND ip = $1 AND data->>'method' = 'password' AND data->>'code' = 'password.invalid'", [ip]);
    expect(n, 'every refused password is in the audit log').to.equal(100);
  });

  it('refuses the password route when the application requires a passkey (acr_values=phr), and hides it on the page', async () => {
    const account = await importMember({ password_hash: await hashes.bcrypt() });
    const c = client();
    const auth = await authorize(c.ua, rp, { acr_values: 'phr' });
    expect(auth.page).not.to.contain('id="show-password"');
    expect(auth.page).not.to.contain('id="panel-password"');
    const res = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(res.status).to.equal(403);
    expect(res.json.error).to.equal('acr.not_satisfied');
  });

  it('a password-only sign-in cannot skip the passkey when the application asks for mfa', async () => {
    const account = await importMember({ password_hash: await hashes.bcrypt() });
    const c = client();
    const auth = await authorize(c.ua, rp, { acr_values: 'mfa' });
    const verified = await c.post(auth, '/password/verify', { identifier: account.memberNumber, password });
    expect(verified.json).to.deep.equal({ next: 'create_passkey', passwordRetires: true, skippable: false });
    const skip = await c.post(auth, '/continue');
    expect(skip.status).to.equal(403);
    expect(skip.json.error).to.equal('acr.not_satisfied');
  });

  it('validates the request body', async () => {
    const c = client();
    const auth = await authorize(c.ua, rp);
    for (const body of [{ identifier: 'a@example.com' }, { identifier: 'a@example.com', password: '' }, { identifier: 'a@example.com', password: 'x'.repeat(257) },
      { identifier: 'a@example.com', password: 'x', extra: 1 }]) {
      const res = await c.post(auth, '/password/verify', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.json.error).to.equal('request.invalid');
    }
    expect((await c.post(auth, '/password/second-factor', { code: '123456' })).json.error, 'no password step yet').to.equal('interaction.wrong_step');
    expect((await c.post(auth, '/password/sms/resend')).json.error).to.equal('interaction.wrong_step');
  });
});
