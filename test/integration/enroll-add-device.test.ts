import { expect } from 'chai';
import { backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { authorize, codeFromMail, createRp, device, followToCallback, passkeySignIn } from '../helpers/oidc-flow.ts';
import { createUserAgent } from '../helpers/user-agent.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import type { UaResponse, UserAgent } from '../helpers/user-agent.ts';
import type { Account } from '../../src/accounts/account.entity.ts';
import { auditTrail, expectError, newMember, openAccount, ownTobira, signedUpMember, stepUpForRegister, type SignedUpMember } from './enroll-fixtures.ts';

/** The one-time link in the newest "Passkey registration request received" mail to `to`. */
async function linkFromMail(t: TestTobira, to: string, subject: string | RegExp = 'Passkey registration request received'): Promise<string> {
  const mail = await t.smtp.waitFor({ to, subject });
  t.smtp.messages.splice(t.smtp.messages.indexOf(mail), 1);
  const match = /(https?:\/\/\S+\/enroll\/[A-Za-z0-9_-]{43})(?=\s|$)/.exec(mail.text);
  expect(match, mail.text).to.not.equal(null);
  expect(mail.html).to.contain(`href="${match![1]}"`);
  return match![1];
}

describe(`register a passkey on another device (${backendLabel()})`, () => {
  let t: TestTobira;
  before(async () => {
    // Behind a proxy that forwards Host: links must still be built from ISSUER.
    t = await ownTobira({ TRUST_PROXY: 'true' });
  });
  after(async () => { await t?.close(); });

  const api = (ua: UserAgent, path: string, body: unknown = {}) => ua.post(`${t.url}${path}`, body);

  /** A member signed in to account settings on their first device, stepped up for registering. */
  async function readyMember(): Promise<SignedUpMember> {
    const member = await signedUpMember(t);
    await openAccount(t, member.ua);
    await stepUpForRegister(t, member.ua, member.account, member.authenticator);
    return member;
  }

  async function requestEmailLink(member: { ua: UserAgent; account: Account }): Promise<string> {
    const res = await api(member.ua, '/account/api/add-device/email');
    expect(res.status, res.text).to.equal(200);
    expect(res.json).to.include({ sent: true, email: member.account.email, expiresInMinutes: 15 });
    return linkFromMail(t, member.account.email);
  }

  /** "Register" on the confirmation page, as its form posts it (follows nothing). */
  const choose = (ua: UserAgent, link: string) => ua.post(link, {}, { form: true });

  /**
   * Completes the enrollment on `other` after "Register": step-up with `proof` (the member's
   * existing passkey, e.g. their phone over hybrid) and a new passkey on `fresh`.
   */
  async function enroll(other: UserAgent, proof: SoftAuthenticator, fresh: SoftAuthenticator, name?: string): Promise<UaResponse> {
    const started = await api(other, '/enroll/api/step-up/start', { method: 'passkey' });
    expect(started.status, started.text).to.equal(200);
    const verified = await api(other, '/enroll/api/step-up/verify', { method: 'passkey', response: proof.authenticate(started.json.options, t.url) });
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json.next).to.equal('register');
    const options = await api(other, '/enroll/api/register/options');
    expect(options.status, options.text).to.equal(200);
    return api(other, '/enroll/api/register/verify', { response: fresh.register(options.json, t.url), ...(name ? { name } : {}) });
  }

  it('adds a passkey by email: the link opens a confirmation, "Register" runs step-up and registration on the other device', async () => {
    const member = await readyMember();
    const res = await member.ua.post(`${t.url}/account/api/add-device/email`, {}, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } });
    expect(res.status, res.text).to.equal(200);
    const link = await linkFromMail(t, member.account.email);
    expect(link.startsWith(`${t.url}/enroll/`), 'built from ISSUER, not the Host header').to.equal(true);

    const other = device(t, 'ja');
    const page = await other.get(link);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('この端末にパスキーを登録しますか？');
    expect(page.text).to.contain(`action="${new URL(link).pathname}"`);
    expect(page.text).to.contain(member.account.memberNumber.slice(-4));
    expect(page.text, 'the page does not show the whole member number').to.not.contain(member.account.memberNumber);
    expect(page.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(page.headers.get('cache-control')).to.contain('no-store');

    const chosen = await choose(other, link);
    expect(chosen.status).to.equal(303);
    expect(chosen.location).to.equal(`${t.url}/enroll`);
    const cookie = (await other.jar.getCookies(`${t.url}/enroll`)).find((c) => c.key === 'tobira_enroll');
    expect(cookie).to.include({ path: '/enroll', httpOnly: true, sameSite: 'strict' });
    const session = await other.get(`${t.url}/enroll`);
    expect(session.status).to.equal(200);
    expect(session.text).to.contain('ご本人確認');
    expect(session.text).to.contain('&quot;next&quot;:&quot;passkey&quot;');

    const phone = createSoftAuthenticator();
    const done = await enroll(other, member.authenticator, phone, 'Work laptop');
    expect(done.status, done.text).to.equal(200);
    expect(done.json).to.deep.include({ passkey: { id: done.json.passkey.id, name: 'Work laptop' }, passwordRetired: false });
    const stored = await t.container.passkeyRepository.listByAccount(member.account.id);
    expect(stored.map((p) => p.credentialId)).to.deep.equal([member.authenticator.credentials()[0].id, phone.credentials()[0].id]);
    await t.smtp.waitFor({ to: member.account.email, subject: /passkey was added/i });
    expect(await auditTrail(t, member.account.id)).to.include.members(['add_device.link_created', 'add_device.link_used', 'step_up.success:add_device', 'passkey.registered:add_device']);

    // The new passkey signs in on the other device.
    const auth = await authorize(other, member.rp);
    expect((await passkeySignIn(other, t, auth, phone)).status).to.equal(200);
    // The enrollment is over on that device.
    expectError(await api(other, '/enroll/api/register/options'), 410, 'enroll.session_expired', {}, 'ja');
  });

  it('a link opened with GET (a mail scanner, a preview) is not used up; "Register" uses it once; a replay is refused', async () => {
    const member = await readyMember();
    const link = await requestEmailLink(member);
    const scanner = device(t);
    for (let i = 0; i < 3; i++) expect((await scanner.get(link)).status).to.equal(200);
    expect((await scanner.get(link, { headers: { accept: 'application/json' } })).status).to.equal(200);

    const first = device(t);
    const second = device(t);
    const [a, b] = await Promise.all([choose(first, link), choose(second, link)]);
    expect([a.status, b.status].sort(), 'exactly one device gets the enrollment').to.deep.equal([303, 410]);
    const loser = a.status === 410 ? a : b;
    expect(loser.text).to.contain('This link no longer works');

    // Replayed later, by anyone: the same answer, as a page or as JSON.
    const replay = await choose(first, link);
    expect(replay.status).to.equal(410);
    expectError(await device(t).post(link, {}), 410, 'enroll.link_invalid');
    expect((await scanner.get(link)).status).to.equal(410);
  });

  it('an expired link is refused', async () => {
    const member = await readyMember();
    const lifetime = t.config.links.addDeviceSeconds;
    t.config.links.addDeviceSeconds = 1;
    let link: string;
    try {
      const res = await api(member.ua, '/account/api/add-device/qr');
      expect(res.status, res.text).to.equal(200);
      link = res.json.url;
    } finally {
      t.config.links.addDeviceSeconds = lifetime;
    }
    const other = device(t);
    expect((await other.get(link)).status).to.equal(200);
    const deadline = Date.now() + 5000;
    let page = await other.get(link);
    while (page.status === 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      page = await other.get(link);
    }
    expect(page.status).to.equal(410);
    expect(page.text).to.contain('This link no longer works');
    expect((await choose(other, link)).status).to.equal(410);
  });

  it('every outstanding link stops working when the email changes, the account is disabled, or one of them is used', async () => {
    const member = await readyMember();
    const byEmail = await requestEmailLink(member);
    const qr = await api(member.ua, '/account/api/add-device/qr');
    const other = device(t);

    // One link used: the other one (and its QR code) stops working.
    expect((await choose(other, byEmail)).status).to.equal(303);
    expect((await other.get(qr.json.url)).status).to.equal(410);
    const status = await member.ua.get(`${t.url}/account/api/add-device/${qr.json.id}/status`, { headers: { accept: 'application/json' } });
    expect(status.json.state).to.equal('expired');

    // The email changes: new links stop working, and so does the enrollment in progress.
    const again = await requestEmailLink(member);
    await t.container.ds.query('UPDATE accounts SET email = $2 WHERE id = $1', [member.account.id, `changed-${member.account.email}`]);
    expect((await other.get(again)).status).to.equal(410);
    expect((await choose(device(t), again)).status).to.equal(410);
    expectError(await api(other, '/enroll/api/step-up/start', { method: 'passkey' }), 410, 'enroll.session_expired');
    await t.container.ds.query('UPDATE accounts SET email = $2 WHERE id = $1', [member.account.id, member.account.email]);
  });

  it('a disabled account’s links stop working', async () => {
    const member = await readyMember();
    const link = await requestEmailLink(member);
    const other = device(t);
    expect((await other.get(link)).status).to.equal(200);
    await t.container.accounts.setDisabled(member.account.id, true);
    expect((await other.get(link)).status).to.equal(410);
    expect((await choose(other, link)).status).to.equal(410);
    await t.container.accounts.setDisabled(member.account.id, false);
    expect((await choose(other, link)).status, 'it was used up by the refused attempt').to.equal(410);
  });

  it('adds a passkey by QR code; the first page sees pending → opened → completed with the passkey’s name', async () => {
    const member = await readyMember();
    const res = await api(member.ua, '/account/api/add-device/qr');
    expect(res.status, res.text).to.equal(200);
    expect(res.json.url).to.match(new RegExp(`^${t.url}/enroll/[A-Za-z0-9_-]{43}$`));
    expect(res.json.qrSvg).to.match(/^<svg [^>]*viewBox="0 0 \d+ \d+"/);
    expect(Date.parse(res.json.expiresAt) - Date.now()).to.be.within(14 * 60_000, 15 * 60_000 + 1000);
    const statusOf = async () => {
      const r = await member.ua.get(`${t.url}/account/api/add-device/${res.json.id}/status`, { headers: { accept: 'application/json' } });
      expect(r.status, r.text).to.equal(200);
      return r.json;
    };
    expect(await statusOf()).to.deep.equal({ id: res.json.id, state: 'pending', expiresAt: res.json.expiresAt });

    const phone = device(t);
    expect((await phone.get(res.json.url)).status).to.equal(200);
    expect((await statusOf()).state, 'opening the page changes nothing').to.equal('pending');
    expect((await choose(phone, res.json.url)).status).to.equal(303);
    expect((await statusOf()).state).to.equal('opened');
    const done = await enroll(phone, member.authenticator, createSoftAuthenticator());
    expect(done.status, done.text).to.equal(200);
    expect(await statusOf()).to.deep.include({ state: 'completed', passkeyName: done.json.passkey.name });

    // Only this member's session may follow the link.
    const stranger = await signedUpMember(t);
    await openAccount(t, stranger.ua);
    expectError(await stranger.ua.get(`${t.url}/account/api/add-device/${res.json.id}/status`, { headers: { accept: 'application/json' } }), 404, 'not_found');
    expectError(await device(t).get(`${t.url}/account/api/add-device/${res.json.id}/status`, { headers: { accept: 'application/json' } }), 401, 'session.required');
  });

  it('makes no link without a session, or without a step-up in this session', async () => {
    expectError(await api(device(t), '/account/api/add-device/email'), 401, 'session.required');
    expectError(await api(device(t), '/account/api/add-device/qr'), 401, 'session.required');
    const member = await signedUpMember(t);
    await openAccount(t, member.ua);
    expectError(await api(member.ua, '/account/api/add-device/email'), 403, 'step_up.required');
    expectError(await api(member.ua, '/account/api/add-device/qr'), 403, 'step_up.required');
    expect(t.smtp.messages.filter((m) => m.to.includes(member.account.email) && /registration request/.test(m.subject))).to.deep.equal([]);
  });

  it('stores only a keyed hash of the link’s 256-bit token', async () => {
    const member = await readyMember();
    const res = await api(member.ua, '/account/api/add-device/qr');
    const token = res.json.url.split('/').pop() as string;
    expect(Buffer.from(token, 'base64url')).to.have.length(32);
    expect(await t.container.store.get(`adddev:link:${token}`)).to.equal(null);
    const stored = await t.container.store.get(`adddev:link:${t.container.box.digest(`add-device-link:${token}`)}`);
    expect(stored).to.be.a('string');
    expect(stored).to.not.contain(token);
    expect(JSON.parse(stored!)).to.include({ accountId: member.account.id, purpose: 'add_device', channel: 'qr' });
  });

  it('runs the same step-up rules on the other device: an email code for a legacy member without passkey, TOTP or phone; the first passkey retires the password', async () => {
    // An imported member with a password who signs in by email code: step-up by email code.
    const account = await newMember(t, { password: true });
    const ua = device(t);
    const rp = await createRp(t);
    const auth = await authorize(ua, rp);
    expect((await ua.post(`${t.url}/interaction/${auth.uid}/email/start`, { identifier: account.memberNumber })).status).to.equal(200);
    expect((await ua.post(`${t.url}/interaction/${auth.uid}/email/verify`, { code: await codeFromMail(t, account.email) })).status).to.equal(200);
    const skipped = await ua.post(`${t.url}/interaction/${auth.uid}/continue`, {});
    expect(skipped.status, skipped.text).to.equal(200);
    await followToCallback(ua, rp, skipped.json.redirectTo);
    await openAccount(t, ua);
    await stepUpForRegister(t, ua, account);
    const link = await requestEmailLink({ ua, account });

    const other = device(t);
    expect((await choose(other, link)).status).to.equal(303);
    const page = await other.get(`${t.url}/enroll`);
    expect(page.text).to.contain('&quot;next&quot;:&quot;email&quot;');
    expect(page.text, 'the page says the password will be turned off').to.contain('id="password-note"');
    expectError(await api(other, '/enroll/api/register/options'), 403, 'step_up.required');
    expectError(await api(other, '/enroll/api/step-up/start', { method: 'passkey' }), 409, 'step_up.wrong_method');
    const sent = await api(other, '/enroll/api/step-up/start', { method: 'email' });
    expect(sent.status, sent.text).to.equal(200);
    expect(sent.json.sentTo).to.match(/^.•••@example\.com$/);
    const verified = await api(other, '/enroll/api/step-up/verify', { method: 'email', code: await codeFromMail(t, account.email) });
    expect(verified.json.next).to.equal('register');
    const options = await api(other, '/enroll/api/register/options');
    const done = await api(other, '/enroll/api/register/verify', { response: createSoftAuthenticator().register(options.json, t.url) });
    expect(done.status, done.text).to.equal(200);
    expect(done.json.passkey.name).to.equal('Passkey');
    expect(done.json.passwordRetired).to.equal(true);
    expect((await t.container.accounts.findById(account.id))!.passwordEnabled).to.equal(false);
    expect((await t.smtp.waitFor({ to: account.email, subject: /passkey was added/i })).text).to.contain('Your password has been turned off');
    expect(await auditTrail(t, account.id)).to.include.members(['password.disabled', 'passkey.registered:add_device']);
  });

  it('refuses malformed input with 4xx, never 500', async () => {
    const other = device(t);
    expect((await other.get(`${t.url}/enroll/not-a-token`)).status).to.equal(410);
    expect((await choose(other, `${t.url}/enroll/${'A'.repeat(43)}`)).status).to.equal(410);
    expectError(await api(other, '/enroll/api/step-up/start', { method: 'passkey' }), 410, 'enroll.session_expired');
    expect((await api(other, '/enroll/api/step-up/start', { method: 'fingerprint' })).json.error).to.equal('request.invalid');
    expect((await api(other, '/enroll/api/step-up/verify', { method: 'email', code: '12' })).json.error).to.equal('request.invalid');
    expect((await api(other, '/enroll/api/register/verify', { response: {} })).json.error).to.equal('request.invalid');
    const crossSite = await createUserAgent({ origin: 'https://evil.example' }).post(`${t.url}/enroll/${'A'.repeat(43)}`, {}, { form: true });
    expect(crossSite.status).to.equal(403);
  });
});

describe(`register on another device with an SMS policy (${backendLabel()})`, () => {
  let t: TestTobira;
  let sms: SmsSink;
  before(async () => {
    sms = await startSmsSink();
    t = await ownTobira({ SMS_URL: sms.url, SMS_BEFORE_PASSKEY_REGISTRATION: '+81' });
  });
  after(async () => {
    await t?.close();
    await sms?.close();
  });

  const api = (ua: UserAgent, path: string, body: unknown = {}) => ua.post(`${t.url}${path}`, body);
  const smsCode = (phone: string) => async () => {
    const message = await sms.waitFor(phone);
    sms.messages.splice(sms.messages.indexOf(message), 1);
    return /\b(\d{6})\b/.exec(message.text)![1];
  };

  it('asks the other device for the SMS code first, then the passkey, in that order', async () => {
    const member = await signedUpMember(t);
    const phone = '+818011112222';
    await t.container.ds.query('UPDATE accounts SET phone = $2, phone_verified = true WHERE id = $1', [member.account.id, phone]);
    const account = (await t.container.accounts.findById(member.account.id))!;
    await openAccount(t, member.ua);
    await stepUpForRegister(t, member.ua, account, member.authenticator, smsCode(phone));
    const res = await api(member.ua, '/account/api/add-device/qr');
    expect(res.status, res.text).to.equal(200);

    const other = device(t);
    expect((await other.post(res.json.url, {}, { form: true })).status).to.equal(303);
    expect((await other.get(`${t.url}/enroll`)).text).to.contain('&quot;required&quot;:[&quot;sms&quot;,&quot;passkey&quot;]');
    expectError(await api(other, '/enroll/api/step-up/start', { method: 'passkey' }), 409, 'step_up.wrong_method');
    const sent = await api(other, '/enroll/api/step-up/start', { method: 'sms' });
    expect(sent.json.sentTo).to.equal('+81••••••2222');
    const afterSms = await api(other, '/enroll/api/step-up/verify', { method: 'sms', code: await smsCode(phone)() });
    expect(afterSms.json).to.deep.include({ next: 'passkey', passed: ['sms'] });
    expectError(await api(other, '/enroll/api/register/options'), 403, 'step_up.required');
    const started = await api(other, '/enroll/api/step-up/start', { method: 'passkey' });
    const afterPasskey = await api(other, '/enroll/api/step-up/verify', { method: 'passkey', response: member.authenticator.authenticate(started.json.options, t.url) });
    expect(afterPasskey.json).to.deep.include({ next: 'register', passed: ['sms', 'passkey'] });
    const options = await api(other, '/enroll/api/register/options');
    expect((await api(other, '/enroll/api/register/verify', { response: createSoftAuthenticator().register(options.json, t.url) })).status).to.equal(200);
  });
});
