import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { api, authorize, codeFromMail, createRp, device, exchange, followToCallback, uniqueEmail, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import { translator } from '../../src/i18n/i18n.ts';

interface Tab { ua: UserAgent; auth: Authorization }

describe(`sign-in API: sign-up by email (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  before(async () => {
    t = await startTobira();
    rp = await createRp(t);
  });
  after(async () => { await t?.close(); });

  async function tab(acceptLanguage?: string): Promise<Tab> {
    const ua = device(t, acceptLanguage);
    return { ua, auth: await authorize(ua, rp) };
  }
  const call = (s: Tab, path: string, body: unknown = {}) => api(s.ua, t, s.auth, path, body);
  const accountsWith = async (email: string) =>
    (await t.container.ds.query('SELECT count(*)::int AS n FROM accounts WHERE lower(email) = lower($1)', [email]))[0].n as number;

  /** Completes a sign-up or code sign-in without a passkey; returns the ID token's claims and userinfo. */
  async function finish(s: Tab) {
    const done = await call(s, '/continue');
    expect(done.status, done.text).to.equal(200);
    const tokens = await exchange(rp, s.auth, await followToCallback(s.ua, rp, done.json.redirectTo));
    const claims = tokens.claims()!;
    return { claims, userinfo: await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub) };
  }

  it('creates a verified account with a new member number and sends it in a welcome mail', async () => {
    const s = await tab();
    const email = uniqueEmail();
    const start = await call(s, '/signup/start', { email, name: 'Hana Tanaka' });
    expect(start.status, start.text).to.equal(200);
    const mail = await t.smtp.waitFor({ to: email, subject: translator('en')('mail.signup_code.subject') });
    const code = /\b(\d{6})\b/.exec(mail.text)![1];
    const verified = await call(s, '/signup/verify', { code });
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json).to.include({ next: 'create_passkey', created: true });
    expect(verified.json.memberNumber).to.match(/^[1-9]\d{9}$/);

    const account = (await t.container.accounts.findByEmail(email))!;
    expect(account.memberNumber).to.equal(verified.json.memberNumber);
    expect(account.emailVerified).to.equal(true);
    expect(account.name).to.equal('Hana Tanaka');
    const welcome = await t.smtp.waitFor({ to: email, subject: /Welcome/ });
    expect(welcome.subject).to.contain(account.memberNumber);
    expect(welcome.text).to.contain(account.memberNumber);
    const { claims, userinfo } = await finish(s);
    expect(claims.sub).to.equal(account.id);
    expect(userinfo).to.include({ email, email_verified: true, member_number: account.memberNumber });
  });

  it('for an email that already has an account: same answer, a mail naming the member number, and the code signs in to that account', async () => {
    const first = await tab();
    const email = uniqueEmail();
    await call(first, '/signup/start', { email });
    const created = await call(first, '/signup/verify', { code: await codeFromMail(t, email) });
    const memberNumber = created.json.memberNumber as string;
    await t.smtp.waitFor({ to: email, subject: /Welcome/ });

    const s = await tab();
    const fresh = await call(await tab(), '/signup/start', { email: uniqueEmail() });
    const again = await call(s, '/signup/start', { email: email.toUpperCase(), name: 'Someone Else' });
    expect(again.status).to.equal(200);
    expect(again.json).to.deep.equal(fresh.json);
    const mail = await t.smtp.waitFor((m) => m.to.includes(email) && m.text.includes('already have an account'));
    expect(mail.text).to.contain(memberNumber);
    const code = /\b(\d{6})\b/.exec(mail.text)![1];
    const verified = await call(s, '/signup/verify', { code });
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json).to.deep.equal({ next: 'create_passkey', created: false });

    const { claims } = await finish(s);
    const account = (await t.container.accounts.findByEmail(email))!;
    expect(claims.sub).to.equal(account.id);
    expect(account.name, 'the existing account is not changed').to.equal(null);
    expect(await accountsWith(email)).to.equal(1);
    expect(t.smtp.messages.filter((m) => m.to.includes(email) && /Welcome/.test(m.subject))).to.have.length(1);
  });

  it('writes the mails in Japanese for a Japanese browser', async () => {
    const s = await tab('ja');
    const email = uniqueEmail();
    await call(s, '/signup/start', { email });
    const mail = await t.smtp.waitFor({ to: email, subject: translator('ja')('mail.signup_code.subject') });
    expect(mail.headers['content-language']).to.equal('ja');
    const verified = await call(s, '/signup/verify', { code: /\b(\d{6})\b/.exec(mail.text)![1] });
    const welcome = await t.smtp.waitFor({ to: email, subject: translator('ja')('mail.welcome.subject', { memberNumber: verified.json.memberNumber }) });
    expect(welcome.text).to.contain(verified.json.memberNumber);
  });

  it('follows the code rules: a wrong code is refused in the request’s language, a used code is expired, no account is created before', async () => {
    const s = await tab('ja');
    const email = uniqueEmail();
    await call(s, '/signup/start', { email });
    const code = await codeFromMail(t, email);
    const wrongCode = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    const refused = await call(s, '/signup/verify', { code: wrongCode });
    expect(refused.status).to.equal(400);
    expect(refused.json).to.deep.equal({ error: 'code.invalid', message: translator('ja')('errors.code.invalid', { remaining: 4 }) });
    expect(await accountsWith(email)).to.equal(0);
    expect((await call(s, '/signup/verify', { code })).status).to.equal(200);
    const reused = await call(s, '/signup/verify', { code });
    expect(reused.status).to.equal(400);
    expect(reused.json.error).to.equal('code.expired');
    expect(await accountsWith(email)).to.equal(1);
  });

  it('refuses a malformed email with 400 request.invalid and sends nothing', async () => {
    const s = await tab();
    for (const email of ['not-an-email', 'a@', `${'a'.repeat(250)}@example.com`]) {
      const res = await call(s, '/signup/start', { email });
      expect(res.status, email).to.equal(400);
      expect(res.json.error).to.equal('request.invalid');
    }
  });
});
