import { expect } from 'chai';
import { generate } from 'otplib';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import { codeFromMail } from '../helpers/oidc-flow.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { accountApi, codeFromSms, completeStepUp, createMember, signInToAccount, type TestMember } from '../helpers/account-session.ts';
import type { UserAgent } from '../helpers/user-agent.ts';

/**
 * Step-up in the account area, one test per row of the table in PRODUCT.md ("Add a passkey"),
 * the deployment's SMS policy (here `+81`), and how long a step-up counts and for whom.
 * A rename is the change each test tries: it needs the `manage` step-up.
 */
describe(`account step-up (${backendLabel()})`, () => {
  let t: TestTobira;
  let sms: SmsSink;
  before(async () => {
    sms = await startSmsSink();
    t = await startTobira({ SMS_URL: sms.url, SMS_BEFORE_PASSKEY_REGISTRATION: '+81' });
  });
  after(async () => {
    await t?.close();
    await sms?.close();
  });

  async function firstPasskeyId(member: TestMember): Promise<string> {
    return (await t.container.passkeyRepository.listByAccount(member.account.id))[0].id;
  }
  function rename(ua: UserAgent, id: string, name: string) {
    return accountApi(ua, t, `/passkeys/${id}/rename`, { name });
  }
  async function auditTypes(accountId: string): Promise<string[]> {
    const rows = await t.container.ds.query('SELECT type, data FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
    return rows.map((r: { type: string }) => r.type);
  }

  it('password disabled (the member has passkeys): asks for one of their passkeys, and only then allows a change', async () => {
    const member = await createMember(t, { passkeys: 2 });
    const { ua } = await signInToAccount(t, member);
    const id = await firstPasskeyId(member);

    const refused = await rename(ua, id, 'Work laptop');
    expect(refused.status).to.equal(403);
    expect(refused.json.error).to.equal('step_up.required');

    const started = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    expect(started.status).to.equal(200);
    expect(started.json).to.include({ satisfied: false, method: 'passkey' });
    const stored = await t.container.passkeyRepository.listByAccount(member.account.id);
    expect(started.json.options.allowCredentials.map((c: { id: string }) => c.id).sort()).to.deep.equal(stored.map((k) => k.credentialId).sort());
    expect(started.json.options.userVerification).to.equal('required');

    const verified = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'passkey', response: member.authenticator.authenticate(started.json.options, t.url) });
    expect(verified.status).to.equal(200);
    expect(verified.json.satisfied).to.equal(true);
    expect(Date.parse(verified.json.validUntil) - Date.now()).to.be.within(250_000, 301_000);

    const renamed = await rename(ua, id, 'Work laptop');
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.json.passkey.name).to.equal('Work laptop');
    expect(await auditTypes(member.account.id)).to.include.members(['step_up.success', 'passkey.renamed']);
  });

  it('does not accept another member’s passkey, or a replayed assertion, as the step-up', async () => {
    const member = await createMember(t);
    const stranger = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    const started = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    // The stranger's authenticator answers the challenge with its own passkey.
    const foreign = stranger.authenticator.authenticate({ ...started.json.options, allowCredentials: [] }, t.url);
    const wrong = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'passkey', response: foreign });
    expect(wrong.status).to.equal(400);
    expect(wrong.json.error).to.equal('passkey.verification_failed');
    expect((await rename(ua, await firstPasskeyId(member), 'x')).status).to.equal(403);

    const again = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    const response = member.authenticator.authenticate(again.json.options, t.url);
    expect((await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'passkey', response })).status).to.equal(200);
    const { ua: other } = await signInToAccount(t, member);
    const replay = await accountApi(other, t, '/step-up/verify', { purpose: 'manage', method: 'passkey', response });
    expect(replay.status).to.equal(400);
    expect(replay.json.error).to.equal('passkey.challenge_expired');
    expect(await auditTypes(member.account.id)).to.include('step_up.failure');
  });

  it('password enabled with an authenticator app: asks for its code, and accepts a code once', async () => {
    const member = await createMember(t, { password: true, totp: true });
    const { ua } = await signInToAccount(t, member, '/account/security');
    const started = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    expect(started.json).to.include({ satisfied: false, method: 'totp' });
    expect(started.json).to.not.have.property('sentTo');

    const bad = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'totp', code: '000000' === await generate({ secret: member.totpSecret! }) ? '111111' : '000000' });
    expect(bad.status).to.equal(400);
    expect(bad.json.error).to.equal('code.invalid');
    expect(bad.json.message).to.match(/4 attempts left/);

    const code = await generate({ secret: member.totpSecret! });
    const ok = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'totp', code });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json.satisfied).to.equal(true);

    // The same code on another device (a session of its own) is refused: a code counts once.
    const { ua: other } = await signInToAccount(t, member, '/account/security');
    await accountApi(other, t, '/step-up/start', { purpose: 'manage' });
    const replay = await accountApi(other, t, '/step-up/verify', { purpose: 'manage', method: 'totp', code });
    expect(replay.status).to.equal(400);
    expect(replay.json.error).to.equal('code.invalid');
  });

  it('password enabled with a verified phone (no app): sends an SMS code to it', async () => {
    const member = await createMember(t, { password: true, phone: '+14155550123' });
    const { ua } = await signInToAccount(t, member, '/account/security');
    const started = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    expect(started.json).to.include({ satisfied: false, method: 'sms', sentTo: '+14•••••0123' });
    const message = await sms.waitFor('+14155550123');
    expect(message.text).to.match(/Tobira.*\b\d{6}\b/);
    const code = await codeFromSms(sms, '+14155550123');
    const ok = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'sms', code });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json.satisfied).to.equal(true);
    // Used once: the same code again is gone.
    const { ua: other } = await signInToAccount(t, member, '/account/security');
    await accountApi(other, t, '/step-up/start', { purpose: 'manage' });
    await codeFromSms(sms, '+14155550123');
    const reused = await accountApi(other, t, '/step-up/verify', { purpose: 'manage', method: 'sms', code });
    expect(reused.status).to.equal(400);
    expect(reused.json.error).to.be.oneOf(['code.invalid', 'code.expired']);
  });

  it('password enabled with neither: emails a code to the verified address; a member with no passkey and no password gets one too', async () => {
    for (const setup of [{ password: true }, { passkeys: 0 }]) {
      const member = await createMember(t, setup);
      const { ua } = await signInToAccount(t, member, '/account/security');
      const started = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
      expect(started.json, JSON.stringify(setup)).to.include({ satisfied: false, method: 'email', expiresInMinutes: 10 });
      expect(started.json.sentTo).to.equal(`${member.email[0]}•••@example.com`);
      const mail = await t.smtp.waitFor({ to: member.email, subject: 'Your Tobira verification code' });
      const code = /\b(\d{6})\b/.exec(mail.text)![1];
      expect(mail.text).to.contain('10 minutes');
      const wrong = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'email', code: code === '123456' ? '654321' : '123456' });
      expect(wrong.json.error).to.equal('code.invalid');
      const ok = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'email', code });
      expect(ok.status, ok.text).to.equal(200);
      expect(ok.json.satisfied).to.equal(true);
      t.smtp.messages.splice(t.smtp.messages.indexOf(mail), 1);
    }
  });

  it('refuses a method out of turn (409 step_up.wrong_method)', async () => {
    const member = await createMember(t, { password: true });
    const { ua } = await signInToAccount(t, member, '/account/security');
    const res = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'totp', code: '123456' });
    expect(res.status).to.equal(409);
    expect(res.json.error).to.equal('step_up.wrong_method');
  });

  describe('the SMS policy before registering a passkey (SMS_BEFORE_PASSKEY_REGISTRATION=+81)', () => {
    it('asks a member with a +81 phone for an SMS code first, then their passkey; other changes need only the passkey', async () => {
      const member = await createMember(t, { phone: '+819012345678' });
      const { ua } = await signInToAccount(t, member);
      const first = await accountApi(ua, t, '/step-up/start', { purpose: 'register' });
      expect(first.json).to.include({ satisfied: false, method: 'sms' });
      expect(first.json.pending).to.deep.equal(['sms', 'passkey']);

      // In order: the passkey cannot come first.
      const options = (await accountApi(ua, t, '/step-up/start', { purpose: 'manage' })).json.options;
      const outOfTurn = await accountApi(ua, t, '/step-up/verify', { purpose: 'register', method: 'passkey', response: member.authenticator.authenticate(options, t.url) });
      expect(outOfTurn.status).to.equal(409);

      const smsOk = await accountApi(ua, t, '/step-up/verify', { purpose: 'register', method: 'sms', code: await codeFromSms(sms, '+819012345678') });
      expect(smsOk.json).to.include({ satisfied: false });
      expect(smsOk.json.pending).to.deep.equal(['passkey']);
      expect((await accountApi(ua, t, '/passkeys/register/options', {})).json.error).to.equal('step_up.required');

      const second = await accountApi(ua, t, '/step-up/start', { purpose: 'register' });
      expect(second.json.method).to.equal('passkey');
      const done = await accountApi(ua, t, '/step-up/verify', { purpose: 'register', method: 'passkey', response: member.authenticator.authenticate(second.json.options, t.url) });
      expect(done.json.satisfied).to.equal(true);
      expect((await accountApi(ua, t, '/passkeys/register/options', {})).status).to.equal(200);

      const other = await createMember(t, { phone: '+819011112222' });
      const { ua: ua2 } = await signInToAccount(t, other);
      const manage = await accountApi(ua2, t, '/step-up/start', { purpose: 'manage' });
      expect(manage.json.pending).to.deep.equal(['passkey']);
    });

    it('does not apply to a member whose phone is not +81, nor to one without a verified phone', async () => {
      const us = await createMember(t, { phone: '+14155550199' });
      const { ua } = await signInToAccount(t, us);
      const started = await accountApi(ua, t, '/step-up/start', { purpose: 'register' });
      expect(started.json.pending).to.deep.equal(['passkey']);
      expect(started.json.method).to.equal('passkey');
      expect(sms.messages.filter((m) => m.to === '+14155550199')).to.deep.equal([]);

      const none = await createMember(t);
      const { ua: ua2 } = await signInToAccount(t, none);
      expect((await accountApi(ua2, t, '/step-up/start', { purpose: 'register' })).json.pending).to.deep.equal(['passkey']);
    });

    it('sends the SMS code to a legacy member’s +81 phone once: it is both the policy and their own method', async () => {
      const member = await createMember(t, { password: true, phone: '+818011113333' });
      const { ua } = await signInToAccount(t, member, '/account/security');
      const started = await accountApi(ua, t, '/step-up/start', { purpose: 'register' });
      expect(started.json.pending).to.deep.equal(['sms']);
    });
  });

  describe('how long a step-up counts, and for whom', () => {
    it('counts for this session only: the same member signed in on another device must step up there too', async () => {
      const member = await createMember(t);
      const id = await firstPasskeyId(member);
      const { ua } = await signInToAccount(t, member);
      expect(await completeStepUp(ua, t, member, 'manage')).to.deep.equal(['passkey']);
      expect((await rename(ua, id, 'First device')).status).to.equal(200);

      const { ua: second } = await signInToAccount(t, member);
      const refused = await rename(second, id, 'Second device');
      expect(refused.status).to.equal(403);
      expect(refused.json.error).to.equal('step_up.required');
      const stillMine = await accountApi(second, t, '/step-up/start', { purpose: 'manage' });
      expect(stillMine.json.satisfied).to.equal(false);
    });

    it('expires after stepUp.validSeconds', async function () {
      this.timeout(20_000);
      const member = await createMember(t);
      const id = await firstPasskeyId(member);
      const { ua } = await signInToAccount(t, member);
      const saved = t.config.stepUp.validSeconds;
      t.config.stepUp.validSeconds = 2;
      try {
        await completeStepUp(ua, t, member, 'manage');
        expect((await rename(ua, id, 'Still fresh')).status).to.equal(200);
        const deadline = Date.now() + 10_000;
        let status = 200;
        while (status === 200 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          status = (await rename(ua, id, 'Later')).status;
        }
        expect(status, 'a rename after the step-up expired').to.equal(403);
        expect((await accountApi(ua, t, '/step-up/start', { purpose: 'manage' })).json.satisfied).to.equal(false);
      } finally {
        t.config.stepUp.validSeconds = saved;
      }
    });

    it('is rate-limited like email codes: per address', async () => {
      const member = await createMember(t, { password: true });
      const { ua } = await signInToAccount(t, member, '/account/security');
      const limit = t.config.rateLimits.codeSendsPerIdentifierPer15Minutes;
      const answers: number[] = [];
      for (let i = 0; i <= limit; i++) answers.push((await accountApi(ua, t, '/step-up/start', { purpose: 'manage' })).status);
      expect(answers.slice(0, limit).every((s) => s === 200)).to.equal(true);
      expect(answers[limit]).to.equal(429);
      // Each send replaced the previous code: only the newest works.
      const mails = t.smtp.messages.filter((m) => m.to.includes(member.email));
      expect(mails).to.have.length(limit);
      const oldest = /\b(\d{6})\b/.exec(mails[0].text)![1];
      const newest = await codeFromMail(t, member.email, /verification code/i);
      const stale = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'email', code: oldest });
      if (oldest !== newest) expect(stale.json.error).to.equal('code.invalid');
    });
  });

  it('refuses a passkey Tobira does not know as the step-up', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    const started = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    const stray = createSoftAuthenticator();
    stray.register({ ...(await t.container.passkeys.registrationOptions('stray', member.account)) }, t.url);
    const res = await accountApi(ua, t, '/step-up/verify', { purpose: 'manage', method: 'passkey', response: stray.authenticate({ ...started.json.options, allowCredentials: [] }, t.url) });
    expect(res.status).to.equal(400);
    expect(res.json.error).to.equal('passkey.unknown_credential');
  });
});
