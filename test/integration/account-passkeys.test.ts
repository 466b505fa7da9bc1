import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, passkeySignIn } from '../helpers/oidc-flow.ts';
import { pageConfig } from '../helpers/user-agent.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { accountApi, completeStepUp, createMember, signInToAccount, type TestMember } from '../helpers/account-session.ts';
import type { UserAgent } from '../helpers/user-agent.ts';

/** The AAGUID Apple's passkeys report ("Apple Passwords" in the maintained list). */
const appleAaguid = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd';

/**
 * The Passkeys page's API: the registered devices list, register on this device (with password
 * retirement), rename and remove, each after a step-up, each audited and emailed.
 */
describe(`account passkeys (${backendLabel()})`, () => {
  let t: TestTobira;
  before(async () => { t = await sharedTobira(); });

  async function audit(accountId: string) {
    return t.container.ds.query('SELECT type, client_id, data FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]) as Promise<{ type: string; client_id: string | null; data: Record<string, unknown> }[]>;
  }
  async function passwordEnabled(accountId: string): Promise<boolean> {
    return (await t.container.ds.query('SELECT password_enabled FROM accounts WHERE id = $1', [accountId]))[0].password_enabled;
  }
  /** Registers a passkey on `authenticator` through the API (the step-up must be done). */
  async function register(ua: UserAgent, authenticator = createSoftAuthenticator(), name?: string) {
    const options = await accountApi(ua, t, '/passkeys/register/options', {});
    expect(options.status, options.text).to.equal(200);
    return accountApi(ua, t, '/passkeys/register/verify', { response: authenticator.register(options.json, t.url), ...(name ? { name } : {}) });
  }

  it('lists the registered devices: name, provider from the AAGUID, synced or device-bound, created, last used', async () => {
    const member = await createMember(t, { authenticator: { aaguid: appleAaguid } });
    const { ua, page } = await signInToAccount(t, member);
    expect(page.text).to.contain('Key 1').and.contain('Apple Passwords').and.contain('/static/icons/apple.svg');
    const res = await ua.get(`${t.url}/account/api/passkeys`, { headers: { accept: 'application/json' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const [only, ...rest] = res.json.passkeys;
    expect(rest).to.deep.equal([]);
    expect(only).to.include({ name: 'Key 1', provider: 'Apple Passwords', icon: 'apple', synced: true, deviceType: 'multiDevice' });
    expect(Date.parse(only.createdAt)).to.be.closeTo(Date.now(), 60_000);
    // The sign-in to the account area used it.
    expect(Date.parse(only.lastUsedAt)).to.be.closeTo(Date.now(), 60_000);
    expect(only).to.not.have.any.keys('publicKey', 'counter', 'accountId');
    expect(res.json.signal).to.deep.equal({
      rpId: 'localhost', userId: Buffer.from(member.account.id).toString('base64url'), allAcceptedCredentialIds: [only.credentialId],
    });
    const bound = await createMember(t, { authenticator: { backupEligible: false } });
    const { ua: ua2 } = await signInToAccount(t, bound);
    const list = (await ua2.get(`${t.url}/account/api/passkeys`, { headers: { accept: 'application/json' } })).json.passkeys;
    expect(list[0]).to.include({ synced: false, deviceType: 'singleDevice', provider: null, icon: 'passkey' });
  });

  it('registers a passkey on this device after the step-up: shown in the list at once, named after the provider by default, emailed', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    const early = await accountApi(ua, t, '/passkeys/register/options', {});
    expect(early.status).to.equal(403);
    expect(early.json.error).to.equal('step_up.required');

    await completeStepUp(ua, t, member, 'register');
    const done = await register(ua, createSoftAuthenticator({ aaguid: 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4' }));
    expect(done.status, done.text).to.equal(200);
    expect(done.json.passkey).to.include({ name: 'Google Password Manager', provider: 'Google Password Manager', icon: 'google' });
    expect(done.json.passwordRetired).to.equal(false);
    expect(done.json.passkeys.map((k: { name: string }) => k.name)).to.deep.equal(['Key 1', 'Google Password Manager']);
    expect(done.json.signal.allAcceptedCredentialIds).to.have.length(2);

    const mail = await t.smtp.waitFor({ to: member.email, subject: 'A passkey was added to your Tobira account' });
    expect(mail.text).to.contain('“Google Password Manager”').and.not.contain('password has been turned off');
    const events = await audit(member.account.id);
    const registered = events.find((e) => e.type === 'passkey.registered');
    expect(registered?.client_id).to.equal('tobira-account');
    expect(registered?.data).to.include({ passkeyId: done.json.passkey.id, via: 'settings' });
    expect(events.map((e) => e.type)).to.not.include('password.disabled');

    // The new passkey signs in.
    const rp = await createRp(t);
    const ua2 = device(t);
    const auth = await authorize(ua2, rp);
    const newDevice = createSoftAuthenticator();
    await completeStepUp(ua, t, member, 'register');
    expect((await register(ua, newDevice, 'Tablet')).json.passkey.name).to.equal('Tablet');
    expect((await passkeySignIn(ua2, t, auth, newDevice)).status).to.equal(200);
  });

  describe('password retirement on the first passkey', () => {
    let member: TestMember;
    let ua: UserAgent;
    before(async () => {
      member = await createMember(t, { password: true });
      ({ ua } = await signInToAccount(t, member));
    });

    it('says on the page, before the member confirms, that the password will be turned off', async () => {
      const page = await ua.get(`${t.url}/account/passkeys`);
      expect(page.text).to.contain('When this passkey is created, your password is turned off.');
      expect(page.text).to.contain('Your account still has a password from the previous system.');
      const ja = await ua.get(`${t.url}/account/passkeys?lang=ja`);
      expect(ja.text).to.contain('このパスキーを作成すると、パスワードは無効になります。');
    });

    it('turns the password off when the first passkey is registered: stored, audited, and said in the email', async () => {
      expect(await passwordEnabled(member.account.id)).to.equal(true);
      expect(await completeStepUp(ua, t, member, 'register')).to.deep.equal(['email']);
      const done = await register(ua);
      expect(done.status, done.text).to.equal(200);
      expect(done.json.passwordRetired).to.equal(true);
      expect(await passwordEnabled(member.account.id)).to.equal(false);

      const events = await audit(member.account.id);
      const disabled = events.filter((e) => e.type === 'password.disabled');
      expect(disabled).to.have.length(1);
      expect(disabled[0].client_id).to.equal('tobira-account');
      expect(disabled[0].data).to.include({ reason: 'first_passkey', passkeyId: done.json.passkey.id });

      const mail = await t.smtp.waitFor({ to: member.email, subject: 'A passkey was added to your Tobira account' });
      expect(mail.text).to.contain('Your password has been turned off');

      // The page no longer warns about it, and a second passkey retires nothing.
      const page = await ua.get(`${t.url}/account/passkeys`);
      expect(page.text).to.not.contain('When this passkey is created, your password is turned off.');
    });

    it('asks for the new passkey as the step-up from then on (password disabled → passkey)', async () => {
      const started = await accountApi(device(t), t, '/step-up/start', { purpose: 'manage' });
      expect(started.status).to.equal(401);
      const { ua: fresh } = await signInToAccount(t, member);
      const next = await accountApi(fresh, t, '/step-up/start', { purpose: 'manage' });
      expect(next.json.method).to.equal('passkey');
    });
  });

  it('renames a passkey after the step-up; audited and emailed; another member’s passkey is not found', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    const [key] = await t.container.passkeyRepository.listByAccount(member.account.id);
    await completeStepUp(ua, t, member, 'manage');

    const blank = await accountApi(ua, t, `/passkeys/${key.id}/rename`, { name: '   ' });
    expect(blank.status).to.equal(400);
    expect(blank.json.error).to.equal('request.invalid');
    const extra = await accountApi(ua, t, `/passkeys/${key.id}/rename`, { name: 'x', other: 1 });
    expect(extra.status).to.equal(400);

    const renamed = await accountApi(ua, t, `/passkeys/${key.id}/rename`, { name: '  My phone  ' });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.json.passkey.name).to.equal('My phone');
    expect((await t.container.passkeyRepository.listByAccount(member.account.id))[0].name).to.equal('My phone');
    const mail = await t.smtp.waitFor({ to: member.email, subject: 'A passkey on your Tobira account was renamed' });
    expect(mail.text).to.contain('“Key 1” was renamed to “My phone”');
    const event = (await audit(member.account.id)).find((e) => e.type === 'passkey.renamed');
    expect(event?.data).to.include({ passkeyId: key.id, from: 'Key 1', to: 'My phone' });

    const stranger = await createMember(t);
    const [theirs] = await t.container.passkeyRepository.listByAccount(stranger.account.id);
    for (const id of [theirs.id, 'not-a-uuid']) {
      const res = await accountApi(ua, t, `/passkeys/${id}/rename`, { name: 'Mine now' });
      expect(res.status, id).to.equal(404);
      expect(res.json.error).to.equal('passkey.not_found');
    }
    expect((await t.container.passkeyRepository.listByAccount(stranger.account.id))[0].name).to.equal('Key 1');
  });

  it('removes a passkey after the step-up: emailed, audited, and it no longer signs in', async () => {
    const member = await createMember(t, { passkeys: 2 });
    const { ua } = await signInToAccount(t, member);
    const keys = await t.container.passkeyRepository.listByAccount(member.account.id);
    const gone = keys[1];
    const early = await accountApi(ua, t, `/passkeys/${gone.id}/remove`, {});
    expect(early.status).to.equal(403);
    await completeStepUp(ua, t, member, 'manage');

    const res = await accountApi(ua, t, `/passkeys/${gone.id}/remove`, {});
    expect(res.status, res.text).to.equal(200);
    expect(res.json.removed).to.deep.equal({ id: gone.id, credentialId: gone.credentialId, name: 'Key 2' });
    expect(res.json.passkeys.map((k: { id: string }) => k.id)).to.deep.equal([keys[0].id]);
    expect(res.json.signal.allAcceptedCredentialIds).to.deep.equal([keys[0].credentialId]);
    expect(await t.container.passkeyRepository.findByCredentialId(gone.credentialId)).to.equal(null);

    const mail = await t.smtp.waitFor({ to: member.email, subject: 'A passkey was removed from your Tobira account' });
    expect(mail.text).to.contain('“Key 2” was removed');
    const event = (await audit(member.account.id)).find((e) => e.type === 'passkey.removed');
    expect(event?.data).to.include({ passkeyId: gone.id, name: 'Key 2', last: false });

    const again = await accountApi(ua, t, `/passkeys/${gone.id}/remove`, {});
    expect(again.status).to.equal(404);
    expect(again.json.error).to.equal('passkey.not_found');

    const rp = await createRp(t);
    const ua2 = device(t);
    const signIn = await passkeySignIn(ua2, t, await authorize(ua2, rp), member.others[0]);
    expect(signIn.status).to.equal(400);
    expect(signIn.json.error).to.equal('passkey.unknown_credential');
  });

  describe('the last passkey', () => {
    it('can be removed when the verified email is still a way back in (and the page says so)', async () => {
      const member = await createMember(t);
      const { ua, page } = await signInToAccount(t, member);
      const config = pageConfig(page.text);
      expect(config).to.include({ emailVerified: true, email: member.email });
      expect(config.strings['account.remove.last']).to.equal('This is your last passkey. After you remove it, you can still sign in with a one-time code sent to {email} and add a new passkey.');
      await completeStepUp(ua, t, member, 'manage');
      const [key] = await t.container.passkeyRepository.listByAccount(member.account.id);
      const res = await accountApi(ua, t, `/passkeys/${key.id}/remove`, {});
      expect(res.status, res.text).to.equal(200);
      expect(res.json.passkeys).to.deep.equal([]);
      const event = (await audit(member.account.id)).find((e) => e.type === 'passkey.removed');
      expect(event?.data).to.include({ last: true });
      // The way back in: the step-up (and sign-in) now use a code sent to the email.
      expect((await accountApi(ua, t, '/step-up/start', { purpose: 'register' })).json.method).to.equal('email');
    });

    it('cannot be removed without a verified email (409 passkey.last_without_recovery), and stays', async () => {
      const member = await createMember(t, { emailVerified: false, passkeys: 2 });
      const { ua, page } = await signInToAccount(t, member);
      expect(pageConfig(page.text).emailVerified).to.equal(false);
      expect(pageConfig(page.text).strings['account.remove.last_blocked']).to.contain('Add another passkey before you remove this one.');
      await completeStepUp(ua, t, member, 'manage');
      const [first, second] = await t.container.passkeyRepository.listByAccount(member.account.id);
      expect((await accountApi(ua, t, `/passkeys/${second.id}/remove`, {})).status).to.equal(200);
      const last = await accountApi(ua, t, `/passkeys/${first.id}/remove`, {});
      expect(last.status).to.equal(409);
      expect(last.json.error).to.equal('passkey.last_without_recovery');
      expect(last.json.message).to.contain('last passkey');
      expect((await t.container.passkeyRepository.listByAccount(member.account.id)).map((k) => k.id)).to.deep.equal([first.id]);
    });

    it('cannot be lost to two removals at once', async () => {
      const member = await createMember(t, { emailVerified: false, passkeys: 2 });
      const { ua } = await signInToAccount(t, member);
      await completeStepUp(ua, t, member, 'manage');
      const keys = await t.container.passkeyRepository.listByAccount(member.account.id);
      const answers = await Promise.all(keys.map((k) => accountApi(ua, t, `/passkeys/${k.id}/remove`, {})));
      expect(answers.map((a) => a.status).sort()).to.deep.equal([200, 409]);
      expect(await t.container.passkeyRepository.listByAccount(member.account.id)).to.have.length(1);
    });
  });

  it('refuses a registration response of another session (bound challenge) and bodies that are not JSON', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    await completeStepUp(ua, t, member, 'register');
    const options = await accountApi(ua, t, '/passkeys/register/options', {});
    const { ua: other } = await signInToAccount(t, member);
    const stolen = await accountApi(other, t, '/passkeys/register/verify', { response: createSoftAuthenticator().register(options.json, t.url) });
    expect(stolen.status).to.equal(400);
    expect(stolen.json.error).to.equal('passkey.challenge_expired');
    const form = await ua.post(`${t.url}/account/api/passkeys/register/options`, { a: '1' }, { form: true, headers: { accept: 'application/json' } });
    expect(form.status).to.equal(415);
  });
});
