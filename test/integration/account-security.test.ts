import { expect } from 'chai';
import { generate } from 'otplib';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import { accountApi, codeFromSms, completeStepUp, createMember, signInToAccount } from '../helpers/account-session.ts';

/**
 * The Security page's API: an authenticator app (TOTP) and a phone number verified by SMS, each
 * change after a step-up, audited and emailed.
 */
describe(`account security settings (${backendLabel()})`, () => {
  let t: TestTobira;
  let sms: SmsSink;
  before(async () => {
    sms = await startSmsSink();
    t = await startTobira({ SMS_URL: sms.url });
  });
  after(async () => {
    await t?.close();
    await sms?.close();
  });

  async function auditOf(accountId: string, type: string) {
    return (await t.container.ds.query('SELECT data FROM audit_events WHERE account_id = $1 AND type = $2', [accountId, type])) as { data: Record<string, unknown> }[];
  }

  describe('authenticator app', () => {
    it('is set up with a QR code and a confirming code: stored sealed, audited, emailed; then it is the step-up', async () => {
      const member = await createMember(t, { password: true });
      const { ua } = await signInToAccount(t, member, '/account/security');
      const early = await accountApi(ua, t, '/totp/start', {});
      expect(early.status).to.equal(403);
      expect(early.json.error).to.equal('step_up.required');
      expect(await completeStepUp(ua, t, member, 'manage')).to.deep.equal(['email']);

      const started = await accountApi(ua, t, '/totp/start', {});
      expect(started.status, started.text).to.equal(200);
      const { secret, uri, qr } = started.json;
      expect(uri).to.match(/^otpauth:\/\/totp\/Tobira:\d{10}\?/).and.contain(`secret=${secret}`);
      expect(qr).to.match(/^data:image\/svg\+xml;base64,/);
      expect(Buffer.from(qr.split(',')[1], 'base64').toString()).to.match(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(await t.container.totp.isEnabled(member.account.id), 'nothing stored before a right code').to.equal(false);

      const code = await generate({ secret });
      const wrong = await accountApi(ua, t, '/totp/confirm', { code: code === '000000' ? '111111' : '000000' });
      expect(wrong.status).to.equal(400);
      expect(wrong.json.error).to.equal('code.invalid');
      const ok = await accountApi(ua, t, '/totp/confirm', { code });
      expect(ok.status, ok.text).to.equal(200);
      expect(await t.container.totp.isEnabled(member.account.id)).to.equal(true);
      const [row] = await t.container.ds.query('SELECT totp_secret FROM accounts WHERE id = $1', [member.account.id]);
      expect(row.totp_secret).to.be.a('string').and.not.contain(secret);
      expect(await auditOf(member.account.id, 'totp.enabled')).to.have.length(1);
      await t.smtp.waitFor({ to: member.email, subject: 'An authenticator app was set up for your Tobira account' });

      // Its code is now the step-up, and the confirming code counts once.
      const { ua: other } = await signInToAccount(t, member, '/account/security');
      const next = await accountApi(other, t, '/step-up/start', { purpose: 'manage' });
      expect(next.json.method).to.equal('totp');
      const replay = await accountApi(other, t, '/step-up/verify', { purpose: 'manage', method: 'totp', code });
      expect(replay.status).to.equal(400);
      expect(replay.json.error).to.equal('code.invalid');
    });

    it('cannot be confirmed without a set-up started in this session', async () => {
      const member = await createMember(t, { password: true });
      const { ua } = await signInToAccount(t, member, '/account/security');
      const res = await accountApi(ua, t, '/totp/confirm', { code: '123456' });
      expect(res.status).to.equal(409);
      expect(res.json.error).to.equal('totp.not_started');
    });

    it('is removed after the step-up (with its own code); audited and emailed', async () => {
      const member = await createMember(t, { password: true, totp: true });
      const { ua } = await signInToAccount(t, member, '/account/security');
      expect((await accountApi(ua, t, '/totp/remove', {})).status).to.equal(403);
      expect(await completeStepUp(ua, t, member, 'manage')).to.deep.equal(['totp']);
      const res = await accountApi(ua, t, '/totp/remove', {});
      expect(res.status, res.text).to.equal(200);
      expect(await t.container.totp.isEnabled(member.account.id)).to.equal(false);
      expect(await auditOf(member.account.id, 'totp.disabled')).to.have.length(1);
      await t.smtp.waitFor({ to: member.email, subject: 'The authenticator app was removed from your Tobira account' });
      const again = await accountApi(ua, t, '/totp/remove', {});
      expect(again.status).to.equal(409);
      expect(again.json.error).to.equal('totp.not_enabled');
    });
  });

  describe('phone number', () => {
    it('is verified by an SMS code before it is stored: audited and emailed; the code counts once', async () => {
      const member = await createMember(t);
      const { ua } = await signInToAccount(t, member, '/account/security');
      expect((await accountApi(ua, t, '/phone/start', { phone: '+819012340001' })).status).to.equal(403);
      await completeStepUp(ua, t, member, 'manage');

      for (const phone of ['09012340001', '+81', '+81 90 abcd', '+0123456789']) {
        const bad = await accountApi(ua, t, '/phone/start', { phone });
        expect(bad.status, phone).to.equal(400);
        expect(bad.json.error).to.equal('request.invalid');
      }
      const sent = await accountApi(ua, t, '/phone/start', { phone: '+81 90-1234-0001' });
      expect(sent.status, sent.text).to.equal(200);
      expect(sent.json).to.deep.equal({ sentTo: '+81••••••0001', expiresInMinutes: 10 });
      const code = await codeFromSms(sms, '+819012340001');
      const [before] = await t.container.ds.query('SELECT phone, phone_verified FROM accounts WHERE id = $1', [member.account.id]);
      expect(before).to.deep.equal({ phone: null, phone_verified: false });

      const wrong = await accountApi(ua, t, '/phone/verify', { code: code === '000000' ? '111111' : '000000' });
      expect(wrong.status).to.equal(400);
      expect(wrong.json.error).to.equal('code.invalid');
      const ok = await accountApi(ua, t, '/phone/verify', { code });
      expect(ok.status, ok.text).to.equal(200);
      expect(ok.json).to.deep.equal({ phone: '+819012340001', phoneVerified: true });
      const [after] = await t.container.ds.query('SELECT phone, phone_verified FROM accounts WHERE id = $1', [member.account.id]);
      expect(after).to.deep.equal({ phone: '+819012340001', phone_verified: true });
      const [event] = await auditOf(member.account.id, 'phone.verified');
      expect(event.data).to.include({ phone: '+81••••••0001' });
      const mail = await t.smtp.waitFor({ to: member.email, subject: 'A phone number was added to your Tobira account' });
      expect(mail.text).to.contain('+81••••••0001');

      const reused = await accountApi(ua, t, '/phone/verify', { code });
      expect(reused.status).to.equal(409);
      expect(reused.json.error).to.equal('phone.not_started');
      const page = await ua.get(`${t.url}/account/security`);
      expect(page.text).to.contain('+819012340001 (verified)');
    });

    it('limits code sends per number, like email codes', async () => {
      const member = await createMember(t);
      const { ua } = await signInToAccount(t, member, '/account/security');
      await completeStepUp(ua, t, member, 'manage');
      const limit = t.config.rateLimits.codeSendsPerIdentifierPer15Minutes;
      const statuses: number[] = [];
      for (let i = 0; i <= limit; i++) statuses.push((await accountApi(ua, t, '/phone/start', { phone: '+14155550777' })).status);
      expect(statuses).to.deep.equal([...Array(limit).fill(200), 429]);
      expect(sms.messages.filter((m) => m.to === '+14155550777')).to.have.length(limit);
    });

    it('answers 503 and stores nothing when the SMS gateway fails', async () => {
      const member = await createMember(t);
      const { ua } = await signInToAccount(t, member, '/account/security');
      await completeStepUp(ua, t, member, 'manage');
      sms.failWith(502);
      try {
        const res = await accountApi(ua, t, '/phone/start', { phone: '+819012340002' });
        expect(res.status).to.equal(503);
        expect(res.json.error).to.equal('service.unavailable');
        const [row] = await t.container.ds.query('SELECT phone FROM accounts WHERE id = $1', [member.account.id]);
        expect(row.phone).to.equal(null);
      } finally {
        sms.failWith(200);
      }
    });

    it('is removed after the step-up: audited and emailed', async () => {
      const member = await createMember(t, { phone: '+819012340003' });
      const { ua } = await signInToAccount(t, member, '/account/security');
      expect((await accountApi(ua, t, '/phone/remove', {})).status).to.equal(403);
      await completeStepUp(ua, t, member, 'manage');
      const res = await accountApi(ua, t, '/phone/remove', {});
      expect(res.status, res.text).to.equal(200);
      const [row] = await t.container.ds.query('SELECT phone, phone_verified FROM accounts WHERE id = $1', [member.account.id]);
      expect(row).to.deep.equal({ phone: null, phone_verified: false });
      expect(await auditOf(member.account.id, 'phone.removed')).to.have.length(1);
      await t.smtp.waitFor({ to: member.email, subject: 'A phone number was removed from your Tobira account' });
    });

    it('sends the SMS in the member’s language', async () => {
      const member = await createMember(t, { locale: 'ja' });
      const { ua } = await signInToAccount(t, member, '/account/security');
      await completeStepUp(ua, t, member, 'manage');
      await accountApi(ua, t, '/phone/start', { phone: '+819012340004' });
      const message = await sms.waitFor('+819012340004');
      expect(message.text).to.match(/^Tobira 電話番号の確認コード：\d{6}/);
    });
  });
});
