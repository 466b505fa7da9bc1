import { expect } from 'chai';
import { backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { authorize, codeFromMail, createRp, device, exchange, followToCallback, passkeySignIn, uniqueEmail, type TestRp } from '../helpers/oidc-flow.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import type { Account } from '../../src/accounts/account.entity.ts';
import { auditTrail, expectError, newMember, ownTobira, signedUpMember, wrong } from './enroll-fixtures.ts';

describe(`recovery: "Lost your passkey?" (${backendLabel()})`, () => {
  let t: TestTobira;
  let sms: SmsSink;
  let rp: TestRp;
  before(async () => {
    sms = await startSmsSink();
    t = await ownTobira({ SMS_URL: sms.url });
    rp = await createRp(t);
  });
  after(async () => {
    await t?.close();
    await sms?.close();
  });

  const post = (ua: UserAgent, path: string, body: unknown = {}) => ua.post(`${t.url}/recover/api${path}`, body);

  /** Starts a recovery for `identifier` on `ua` and returns the emailed code. */
  async function emailCode(ua: UserAgent, account: Account, identifier = account.memberNumber): Promise<string> {
    const started = await post(ua, '/start', { identifier });
    expect(started.status, started.text).to.equal(200);
    expect(started.json).to.deep.equal({ sent: true, expiresInMinutes: 10 });
    return codeFromMail(t, account.email, /recovery code|復旧コード/);
  }

  /** Registers a passkey in the recovery on `ua` with `authenticator`. */
  async function register(ua: UserAgent, authenticator: SoftAuthenticator, name?: string) {
    const options = await post(ua, '/register/options');
    expect(options.status, options.text).to.equal(200);
    return post(ua, '/register/verify', { response: authenticator.register(options.json, t.url), ...(name ? { name } : {}) });
  }

  it('recovers an account with an email code: a new passkey, a notice by email, audit events, and the passkey signs in', async () => {
    const account = await newMember(t);
    const ua = device(t);
    const code = await emailCode(ua, account, account.email.toUpperCase());
    expectError(await post(ua, '/email/verify', { code: wrong(code) }), 400, 'code.invalid', { remaining: 4 });
    const verified = await post(ua, '/email/verify', { code });
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json).to.deep.equal({ next: 'register' });

    // The member hears of the recovery as soon as it is open, before any passkey exists.
    const notice = await t.smtp.waitFor({ to: account.email, subject: 'Account recovery was used on your Tobira account' });
    expect(notice.text).to.contain(account.memberNumber);
    expect(notice.text).to.not.contain('and phone');

    const authenticator = createSoftAuthenticator();
    const done = await register(ua, authenticator, 'Recovered phone');
    expect(done.status, done.text).to.equal(200);
    expect(done.json).to.deep.include({ redirectTo: null });
    expect(done.json.passkey.name).to.equal('Recovered phone');
    const stored = await t.container.passkeyRepository.listByAccount(account.id);
    expect(stored.map((p) => p.credentialId)).to.deep.equal([authenticator.credentials()[0].id]);
    await t.smtp.waitFor({ to: account.email, subject: /passkey was added/i });
    expect(await auditTrail(t, account.id)).to.include.members(['recovery.code_sent', 'recovery.verified', 'passkey.registered:recovery', 'recovery.completed']);

    // The recovery is over: its cookie no longer opens anything.
    expectError(await post(ua, '/register/options'), 410, 'recovery.session_expired');

    const signin = device(t);
    const auth = await authorize(signin, rp);
    const result = await passkeySignIn(signin, t, auth, authenticator, account.memberNumber);
    expect(result.status, result.text).to.equal(200);
    const tokens = await exchange(rp, auth, await followToCallback(signin, rp, result.json.redirectTo));
    expect(tokens.claims()!.sub).to.equal(account.id);
  });

  it('asks for an SMS code too when a verified phone is on file, and only then opens the recovery', async () => {
    const phone = '+819012345678';
    const account = await newMember(t, { phone, locale: 'ja' });
    const ua = device(t);
    const verified = await post(ua, '/email/verify', { code: await emailCode(ua, account) });
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json).to.deep.equal({ next: 'sms', sentTo: '+81••••••5678' });
    const text = (await sms.waitFor(phone)).text;
    const code = /\b(\d{6})\b/.exec(text)![1];
    expect(text).to.contain('Tobira アカウント復旧コード');

    // Not open yet: no passkey can be registered and no notice was sent.
    expectError(await post(ua, '/register/options'), 409, 'recovery.wrong_step');
    expect(t.smtp.messages.some((m) => m.to.includes(account.email) && /復旧が行われました/.test(m.subject))).to.equal(false);
    expectError(await post(ua, '/sms/verify', { code: wrong(code) }), 400, 'code.invalid', { remaining: 4 });

    const opened = await post(ua, '/sms/verify', { code });
    expect(opened.status, opened.text).to.equal(200);
    expect(opened.json).to.deep.equal({ next: 'register' });
    const notice = await t.smtp.waitFor({ to: account.email, subject: 'Tobira アカウントの復旧が行われました' });
    expect(notice.text).to.contain('メールアドレスと電話番号による本人確認');
    const done = await register(ua, createSoftAuthenticator());
    expect(done.status, done.text).to.equal(200);
    expect(await auditTrail(t, account.id)).to.include.members(['recovery.verified', 'passkey.registered:recovery', 'recovery.completed']);
  });

  it('sends a new SMS code on request; the previous one stops working', async () => {
    const phone = '+819087654321';
    const account = await newMember(t, { phone });
    const ua = device(t);
    await post(ua, '/email/verify', { code: await emailCode(ua, account) });
    const first = /\b(\d{6})\b/.exec((await sms.waitFor(phone)).text)![1];
    sms.messages.length = 0;
    const resent = await post(ua, '/sms/resend');
    expect(resent.status, resent.text).to.equal(200);
    const second = /\b(\d{6})\b/.exec((await sms.waitFor(phone)).text)![1];
    if (first !== second) expectError(await post(ua, '/sms/verify', { code: first }), 400, 'code.invalid', { remaining: 4 });
    expect((await post(ua, '/sms/verify', { code: second })).json).to.deep.equal({ next: 'register' });
  });

  it('a recovery can only register a passkey: it signs nobody in, opens no settings, and changes nothing else', async () => {
    const { account } = await signedUpMember(t);
    const ua = device(t);
    await post(ua, '/email/verify', { code: await emailCode(ua, account) });
    const cookies = await ua.jar.getCookies(`${t.url}/recover`);
    const recoveryCookie = cookies.find((c) => c.key === 'tobira_recover');
    expect(recoveryCookie?.path).to.equal('/recover');
    expect(recoveryCookie?.httpOnly).to.equal(true);
    expect(await ua.jar.getCookies(`${t.url}/account`), 'the cookie is not sent anywhere else').to.deep.equal([]);

    // Settings: not signed in (the page sends the browser to sign in; the API answers 401).
    expectError(await ua.post(`${t.url}/account/api/add-device/email`, {}), 401, 'session.required');
    expectError(await ua.post(`${t.url}/account/api/step-up/start`, { purpose: 'register' }), 401, 'session.required');
    const settings = await ua.get(`${t.url}/account`, { follow: true });
    expect(new URL(settings.url).pathname, 'settings send the browser to the sign-in page').to.match(/^\/interaction\//);
    // An RP's authorization request still asks this browser to sign in.
    const auth = await authorize(ua, rp);
    expect(auth.page).to.contain('autocomplete="username webauthn"');
    expectError(await ua.post(`${t.url}/interaction/${auth.uid}/continue`, {}), 409, 'interaction.wrong_step');
    // Its own API does nothing but registration.
    expectError(await post(ua, '/email/verify', { code: '123456' }), 409, 'recovery.wrong_step');
    expectError(await post(ua, '/sms/resend'), 409, 'recovery.wrong_step');
    const before = await t.container.accounts.findById(account.id);
    const done = await register(ua, createSoftAuthenticator());
    expect(done.status, done.text).to.equal(200);
    const after = await t.container.accounts.findById(account.id);
    expect({ ...after, updatedAt: null }).to.deep.equal({ ...before, updatedAt: null });
    expect(await t.container.passkeyRepository.listByAccount(account.id)).to.have.length(2);
  });

  it('answers the same whether or not an account matches, and mails nobody for an unknown or disabled one', async () => {
    const disabled = await newMember(t);
    await t.container.accounts.setDisabled(disabled.id, true);
    const unknown = uniqueEmail('nobody');
    const answers = [];
    for (const identifier of [unknown, '1234567890', disabled.memberNumber]) {
      const ua = device(t);
      const res = await post(ua, '/start', { identifier });
      answers.push({ status: res.status, body: res.json });
      expectError(await post(ua, '/email/verify', { code: '000000' }), 400, 'code.invalid', { remaining: 4 });
    }
    expect(answers).to.deep.equal(Array(3).fill({ status: 200, body: { sent: true, expiresInMinutes: 10 } }));
    // A real member's mail arrives; none went to the unknown or disabled ones meanwhile.
    const real = await newMember(t);
    await emailCode(device(t), real);
    expect(t.smtp.messages.filter((m) => m.to.includes(unknown) || m.to.includes(disabled.email))).to.deep.equal([]);
  });

  it('limits code sends like sign-in codes: at most 5 per identifier in 15 minutes', async () => {
    const account = await newMember(t);
    const ua = device(t);
    for (let i = 0; i < 5; i++) expect((await post(ua, '/start', { identifier: i % 2 ? account.email : account.email.toUpperCase() })).status).to.equal(200);
    const limited = await post(ua, '/start', { identifier: account.email });
    expect(limited.status, limited.text).to.equal(429);
    expect(limited.json.error).to.equal('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).to.be.greaterThan(0);
  });

  it('burns the emailed code after 5 wrong guesses, even parallel ones', async () => {
    const account = await newMember(t);
    const ua = device(t);
    const code = await emailCode(ua, account);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => post(ua, '/email/verify', { code: wrong(code, i + 1) })));
    const errors = answers.map((a) => a.json.error as string);
    expect(errors.filter((e) => e === 'code.invalid').length, errors.join()).to.be.within(1, 5);
    expect(errors.every((e) => e === 'code.invalid' || e === 'code.too_many_attempts'), errors.join()).to.equal(true);
    expectError(await post(ua, '/email/verify', { code }), 429, 'code.too_many_attempts');
    expect(await auditTrail(t, account.id)).to.not.include('recovery.verified');
  });

  it('returns to the sign-in it came from (?interaction=), and ignores anything that is not an interaction id', async () => {
    const account = await newMember(t);
    const ua = device(t);
    const auth = await authorize(ua, rp);
    const page = await ua.get(`${t.url}/recover?interaction=${auth.uid}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(`href="/interaction/${auth.uid}"`);
    const started = await post(ua, '/start', { identifier: account.memberNumber, interaction: auth.uid });
    expect(started.status, started.text).to.equal(200);
    await post(ua, '/email/verify', { code: await codeFromMail(t, account.email, /recovery code/) });
    const authenticator = createSoftAuthenticator();
    const done = await register(ua, authenticator);
    expect(done.json.redirectTo).to.equal(`/interaction/${auth.uid}`);
    // Back on that sign-in, the new passkey signs in and the RP gets its answer.
    const result = await passkeySignIn(ua, t, auth, authenticator);
    expect(result.status, result.text).to.equal(200);
    expect((await exchange(rp, auth, await followToCallback(ua, rp, result.json.redirectTo))).claims()!.sub).to.equal(account.id);

    const odd = await device(t).get(`${t.url}/recover?interaction=${encodeURIComponent('"><script>x</script>')}`);
    expect(odd.status).to.equal(200);
    expect(odd.text).to.not.contain('<script>x');
    expect(odd.text).to.not.contain('/interaction/');
  });

  it('renders the page in English and Japanese', async () => {
    for (const [lang, heading] of [['en', 'Lost your passkey?'], ['ja', 'パスキーをなくした場合']] as const) {
      const page = await device(t).get(`${t.url}/recover?lang=${lang}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.contain(`<html lang="${lang}">`);
      expect(page.text).to.contain(heading);
      expect(page.text).to.contain('<script src="/static/recover.js"></script>');
      expect(page.headers.get('content-security-policy')).to.contain("script-src 'self'");
    }
  });

  it('refuses malformed input with 4xx, never 500', async () => {
    const ua = device(t);
    expect((await post(ua, '/start', { identifier: '' })).json.error).to.equal('request.invalid');
    expect((await post(ua, '/start', { identifier: 'a', extra: 1 })).status).to.equal(400);
    expect((await post(ua, '/email/verify', { code: '12' })).status).to.equal(400);
    expect((await ua.post(`${t.url}/recover/api/start`, 'identifier=x', { headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).to.equal(415);
    expectError(await post(ua, '/email/verify', { code: '123456' }), 410, 'recovery.session_expired');
    expectError(await post(ua, '/register/verify', { response: { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: 'x', attestationObject: 'x' } } }), 410, 'recovery.session_expired');
  });
});

describe(`recovery of a legacy account with a password (${backendLabel()})`, () => {
  let t: TestTobira;
  before(async () => { t = await ownTobira(); });
  after(async () => { await t?.close(); });

  it('turns the password off when the recovered passkey is the first, and the emails say so', async () => {
    const account = await newMember(t, { password: true });
    const ua = device(t);
    const post = (path: string, body: unknown = {}) => ua.post(`${t.url}/recover/api${path}`, body);
    expect((await post('/start', { identifier: account.email })).status).to.equal(200);
    expect((await post('/email/verify', { code: await codeFromMail(t, account.email, /recovery code/) })).json).to.deep.equal({ next: 'register' });
    const options = await post('/register/options');
    const done = await post('/register/verify', { response: createSoftAuthenticator().register(options.json, t.url) });
    expect(done.status, done.text).to.equal(200);
    expect(done.json.passwordRetired).to.equal(true);
    expect((await t.container.accounts.findById(account.id))!.passwordEnabled).to.equal(false);
    const mail = await t.smtp.waitFor({ to: account.email, subject: /passkey was added/i });
    expect(mail.text).to.contain('Your password has been turned off');
    expect(await auditTrail(t, account.id)).to.include.members(['password.disabled', 'passkey.registered:recovery']);
  });
});
