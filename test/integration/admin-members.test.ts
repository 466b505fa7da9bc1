import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { authorize, createRp, device, passkeySignIn, signUp, type TestRp } from '../helpers/oidc-flow.ts';
import { authorizationUrl, createMember, rejection, send, signedInDevice, type TestMember } from '../helpers/oidc-extra.ts';
import { adminApi, auditEvents, lastAuditId, signedInAdmin, type TestAdmin } from './admin-support.ts';

/** The account id (sub) of a test member. */
async function subOf(t: TestTobira, member: TestMember): Promise<string> {
  return (await t.container.accounts.findByIdentifier(member.memberNumber))!.id;
}

describe(`admin API: members (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let admin: TestAdmin;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    admin = await signedInAdmin(t, rp);
  });

  it('finds a member by member number, email (or its beginning) and phone number', async () => {
    const member = await createMember(t, rp);
    const sub = await subOf(t, member);
    const national = `90${String(Date.now()).slice(-8)}`;
    await t.container.ds.query('UPDATE accounts SET phone = $2, phone_verified = true WHERE id = $1', [sub, `+81${national}`]);
    const spaced = `${member.memberNumber.slice(0, 4)}-${member.memberNumber.slice(4, 8)} ${member.memberNumber.slice(8)}`;
    for (const q of [member.memberNumber, spaced, member.email.toUpperCase(), member.email.split('@')[0] + '@', `+81 ${national}`, `0${national}`]) {
      const res = await adminApi(t, admin, 'GET', `/members?q=${encodeURIComponent(q)}`);
      expect(res.status).to.equal(200);
      expect(res.json.members.map((m: { sub: string }) => m.sub), q).to.deep.equal([sub]);
    }
    for (const q of ['', 'nobody-here@example.com', '12345']) {
      expect((await adminApi(t, admin, 'GET', `/members?q=${encodeURIComponent(q)}`)).json.members, q).to.deep.equal([]);
    }
  });

  it('shows a member: profile, passkeys with their provider, sessions and grants per application, recent events', async () => {
    const authenticator = createSoftAuthenticator({ aaguid: 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd' });
    const ua = device(t);
    const { memberNumber, email } = await signUp(ua, t, await authorize(ua, rp), authenticator);
    const member = { memberNumber, email, authenticator };
    await signedInDevice(t, rp, member);
    const sub = await subOf(t, member);

    const res = await adminApi(t, admin, 'GET', `/members/${sub}`);
    expect(res.status).to.equal(200);
    const detail = res.json;
    expect([detail.member_number, detail.email, detail.disabled]).to.deep.equal([memberNumber, email, false]);
    expect(detail.passkeys).to.have.length(1);
    expect(detail.passkeys[0].provider).to.equal('Apple Passwords');
    expect(detail.passkeys[0].last_used_at, 'used by the second sign-in').to.be.a('string');
    expect(detail.sessions.some((s: { client_ids: string[]; acr: string }) => s.client_ids.includes(rp.client.client_id) && s.acr === 'phr')).to.equal(true);
    const app = detail.applications.find((a: { client_id: string }) => a.client_id === rp.client.client_id);
    expect(app.client_name).to.equal(rp.client.client_name);
    expect(app.scope).to.contain('openid');
    expect(app.refresh_tokens).to.be.at.least(1);
    expect(detail.recent_events.map((e: { type: string }) => e.type)).to.include.members(['signin.success', 'signup']);

    const page = await admin.ua.get(`${t.url}/admin/members/${sub}`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(memberNumber).and.contain('Apple Passwords').and.contain(rp.client.client_name);
  });

  it('revokes one passkey: it no longer signs in, and the revocation is audited', async () => {
    const member = await createMember(t, rp);
    const sub = await subOf(t, member);
    const [passkey] = (await adminApi(t, admin, 'GET', `/members/${sub}`)).json.passkeys;
    const mark = await lastAuditId(t);
    const res = await adminApi(t, admin, 'DELETE', `/members/${sub}/passkeys/${passkey.id}`);
    expect(res.status, res.text).to.equal(200);
    expect((await adminApi(t, admin, 'GET', `/members/${sub}`)).json.passkeys).to.deep.equal([]);

    const ua = device(t);
    const refused = await passkeySignIn(ua, t, await authorize(ua, rp), member.authenticator);
    expect([refused.status, refused.json.error]).to.deep.equal([400, 'passkey.unknown_credential']);
    const events = await auditEvents(t, 'admin.passkey_revoked', mark);
    expect(events.map((e) => [e.account_id, e.actor_id, e.data.passkeyId])).to.deep.equal([[sub, admin.sub, passkey.id]]);
    expect((await adminApi(t, admin, 'DELETE', `/members/${sub}/passkeys/${passkey.id}`)).status, 'twice').to.equal(404);
  });

  it('signs a member out everywhere: a live RP session ends (the next authorization request shows the sign-in page) and refresh fails', async () => {
    const member = await createMember(t, rp);
    const sub = await subOf(t, member);
    const { ua, tokens } = await signedInDevice(t, rp, member);
    const live = await send(ua, rp, await authorizationUrl(rp));
    expect(live.callback, 'before: the Tobira session signs in without a prompt').to.be.instanceOf(URL);

    const mark = await lastAuditId(t);
    const res = await adminApi(t, admin, 'POST', `/members/${sub}/sign-out-everywhere`, {});
    expect(res.status, res.text).to.equal(200);
    expect(res.json.sessions).to.be.at.least(1);
    expect(res.json.grants).to.be.at.least(1);

    const after = await send(ua, rp, await authorizationUrl(rp));
    expect(after.callback, 'after: no session').to.equal(undefined);
    expect(after.auth?.page).to.contain('id="passkey-button"');
    expect((await rejection(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!))).error).to.equal('invalid_grant');
    expect((await rejection(oidc.fetchUserInfo(rp.config, tokens.access_token, sub))).error).to.equal('invalid_token');

    const detail = (await adminApi(t, admin, 'GET', `/members/${sub}`)).json;
    expect([detail.sessions, detail.applications]).to.deep.equal([[], []]);
    const events = await auditEvents(t, 'admin.signed_out_everywhere', mark);
    expect(events.map((e) => [e.account_id, e.actor_id])).to.deep.equal([[sub, admin.sub]]);
  });

  it('ends the console session of an admin who is signed out everywhere', async () => {
    const other = await signedInAdmin(t, rp);
    expect((await adminApi(t, other, 'GET', '/session')).status).to.equal(200);
    expect((await adminApi(t, admin, 'POST', `/members/${other.sub}/sign-out-everywhere`, {})).status).to.equal(200);
    const after = await adminApi(t, other, 'GET', '/session');
    expect([after.status, after.json.error]).to.deep.equal([401, 'admin.unauthenticated']);
    expect((await adminApi(t, admin, 'GET', '/session')).status, 'the acting admin stays signed in').to.equal(200);
  });

  it('disables a member: refresh fails at once and sign-in is refused; re-enabled, they sign in again', async () => {
    const member = await createMember(t, rp);
    const sub = await subOf(t, member);
    const { ua, tokens } = await signedInDevice(t, rp, member);
    const mark = await lastAuditId(t);

    const disabled = await adminApi(t, admin, 'POST', `/members/${sub}/disable`, {});
    expect([disabled.status, disabled.json.disabled]).to.deep.equal([200, true]);
    expect((await rejection(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!))).error).to.equal('invalid_grant');
    const kept = await send(ua, rp, await authorizationUrl(rp));
    expect(kept.callback, 'the old Tobira session does not sign a disabled member in').to.equal(undefined);
    expect(kept.auth?.page, 'it shows the sign-in page').to.contain('id="passkey-button"');
    const other = device(t);
    const refused = await passkeySignIn(other, t, await authorize(other, rp), member.authenticator);
    expect([refused.status, refused.json.error]).to.deep.equal([403, 'account.disabled']);

    const enabled = await adminApi(t, admin, 'POST', `/members/${sub}/enable`, {});
    expect([enabled.status, enabled.json.disabled]).to.deep.equal([200, false]);
    const again = device(t);
    expect((await passkeySignIn(again, t, await authorize(again, rp), member.authenticator)).status).to.equal(200);
    const actions = (await auditEvents(t, 'admin.member_changed', mark)).filter((e) => e.account_id === sub).map((e) => [e.data.action, e.actor_id]);
    expect(actions).to.deep.equal([['disable', admin.sub], ['enable', admin.sub]]);
  });

  it('sends a recovery email with a link to the recovery page, and audits it', async () => {
    const member = await createMember(t, rp);
    const sub = await subOf(t, member);
    const mark = await lastAuditId(t);
    const res = await adminApi(t, admin, 'POST', `/members/${sub}/recovery-email`, {});
    expect([res.status, res.json.sent]).to.deep.equal([200, true]);
    const mail = await t.smtp.waitFor({ to: member.email, subject: /Get back into your Tobira account/ });
    expect(mail.text).to.contain(`${t.url}/recover`).and.contain(member.memberNumber);
    expect((await auditEvents(t, 'admin.recovery_email_sent', mark)).map((e) => [e.account_id, e.actor_id])).to.deep.equal([[sub, admin.sub]]);
  });

  it('answers unknown members, malformed ids and unexpected bodies with 4xx, never 500, and writes no audit event', async () => {
    const mark = await lastAuditId(t);
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const [method, path, body] of [
      ['GET', `/members/${unknown}`, undefined], ['GET', '/members/not-a-uuid', undefined],
      ['POST', `/members/${unknown}/disable`, {}], ['POST', '/members/x/sign-out-everywhere', {}],
      ['DELETE', `/members/${unknown}/passkeys/${unknown}`, undefined], ['DELETE', `/members/${admin.sub}/passkeys/nope`, undefined],
      ['POST', `/members/${unknown}/recovery-email`, {}],
    ] as const) {
      const res = await adminApi(t, admin, method, path, body);
      expect(res.status, `${method} ${path}`).to.equal(404);
    }
    const extra = await adminApi(t, admin, 'POST', `/members/${admin.sub}/disable`, { really: true });
    expect([extra.status, extra.json.error]).to.deep.equal([400, 'request.invalid']);
    const all = await t.container.ds.query("SELECT count(*)::int AS n FROM audit_events WHERE id > $1 AND type LIKE 'admin.%' AND type <> 'admin.signin'", [mark]);
    expect(all[0].n).to.equal(0);
    expect((await t.container.accounts.findById(admin.sub))!.disabledAt).to.equal(null);
  });
});
