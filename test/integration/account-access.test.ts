import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { device } from '../helpers/oidc-flow.ts';
import { accountApi, createMember, signInToAccount } from '../helpers/account-session.ts';

describe(`account area: who may enter (${backendLabel()})`, () => {
  let t: TestTobira;
  before(async () => { t = await sharedTobira(); });

  it('sends a member who is not signed in to Tobira’s sign-in, and back to the page they asked for', async () => {
    const ua = device(t);
    const first = await ua.get(`${t.url}/account/security`);
    expect(first.status).to.equal(302);
    const auth = new URL(first.location!);
    expect(auth.pathname).to.equal('/auth');
    expect(auth.searchParams.get('client_id')).to.equal('tobira-account');
    expect(auth.searchParams.get('redirect_uri')).to.equal(`${t.url}/account/callback`);
    expect(auth.searchParams.get('code_challenge_method')).to.equal('S256');

    const member = await createMember(t);
    const { page } = await signInToAccount(t, member, '/account/security', ua);
    expect(page.status).to.equal(200);
    expect(page.url).to.equal(`${t.url}/account/security`);
    expect(page.text).to.contain(member.account.memberNumber);
    const cookie = (await ua.jar.getCookies(`${t.url}/account/`)).find((c) => c.key === 'tobira_account');
    expect(cookie?.httpOnly).to.equal(true);
    expect(cookie?.path).to.equal('/account');
    expect(cookie?.sameSite).to.equal('lax');
  });

  it('redirects /account to the Passkeys page', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    const res = await ua.get(`${t.url}/account`);
    expect(res.status).to.equal(302);
    expect(new URL(res.location!).pathname).to.equal('/account/passkeys');
  });

  it('signs out: the area’s session ends and the browser goes through Tobira’s logout', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    const out = await ua.post(`${t.url}/account/signout`, {}, { form: true });
    expect(out.status).to.equal(303);
    const end = new URL(out.location!);
    expect(end.pathname).to.equal('/session/end');
    expect(end.searchParams.get('client_id')).to.equal('tobira-account');
    expect(end.searchParams.get('post_logout_redirect_uri')).to.equal(`${t.url}/account`);
    expect(end.searchParams.get('id_token_hint')).to.be.a('string');
    const after = await ua.get(`${t.url}/account/api/passkeys`, { headers: { accept: 'application/json' } });
    expect(after.status).to.equal(401);
  });

  it('ends the session of a member whose account was disabled', async () => {
    const member = await createMember(t);
    const { ua } = await signInToAccount(t, member);
    expect((await ua.get(`${t.url}/account/api/passkeys`, { headers: { accept: 'application/json' } })).status).to.equal(200);
    await t.container.accounts.setDisabled(member.account.id, true);
    const refused = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    expect(refused.status).to.equal(403);
    expect(refused.json.error).to.equal('account.disabled');
    await t.container.accounts.setDisabled(member.account.id, false);
    const gone = await accountApi(ua, t, '/step-up/start', { purpose: 'manage' });
    expect(gone.status, 'the session ended with the refusal').to.equal(401);
  });

  it('refuses changes from another site (Origin) before anything else', async () => {
    const member = await createMember(t, { password: true });
    const { ua } = await signInToAccount(t, member);
    const url = `${t.url}/account/api/step-up/start`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: 'https://evil.example', cookie: await ua.jar.getCookieString(url) },
      body: JSON.stringify({ purpose: 'manage' }),
    });
    expect(res.status).to.equal(403);
    expect((await res.json()).error).to.equal('request.cross_site');
    expect(t.smtp.messages.filter((m) => m.to.includes(member.email))).to.deep.equal([]);
  });

  it('answers API calls without a session with 401 session.required (JSON), for reads and changes', async () => {
    const ua = device(t);
    const list = await ua.get(`${t.url}/account/api/passkeys`, { headers: { accept: 'application/json' } });
    expect(list.status).to.equal(401);
    expect(list.json.error).to.equal('session.required');
    for (const path of ['/step-up/start', '/passkeys/register/options', '/totp/start', '/phone/remove']) {
      const res = await accountApi(ua, t, path, path === '/step-up/start' ? { purpose: 'manage' } : {});
      expect(res.status, path).to.equal(401);
      expect(res.json, path).to.include({ error: 'session.required' });
      expect(res.json.message).to.be.a('string').and.not.equal('');
    }
  });
});
