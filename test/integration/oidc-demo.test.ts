import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { device, passkeySignIn, signUp, type Authorization } from '../helpers/oidc-flow.ts';
import { formOf, interactionUid } from '../helpers/oidc-extra.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import { en } from '../../src/i18n/en.ts';

/** The JSON shown in a <pre id="..."> block of the demo page. */
function shownJson(html: string, id: string): Record<string, unknown> {
  const m = new RegExp(`<pre[^>]*id="${id}"[^>]*>([\\s\\S]*?)</pre>`).exec(html);
  if (!m) throw new Error(`no #${id} on the page`);
  return JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}

describe(`the demo relying party at /demo (${backendLabel()})`, () => {
  let t: TestTobira;
  before(async () => { t = await sharedTobira(); });

  /** Follows /demo/login (optionally with a query) to Tobira's sign-in page. */
  async function startDemoLogin(ua: UserAgent, query = ''): Promise<Authorization> {
    const res = await ua.get(`${t.url}/demo/login${query}`, { follow: true });
    const uid = interactionUid(res.url);
    if (!uid) throw new Error(`expected the sign-in page, got ${res.status} ${res.url}: ${/<p class="alert"[^>]*>([^<]*)/.exec(res.text)?.[1] ?? res.text.slice(0, 300)}`);
    return { uid, interactionUrl: res.url, page: res.text, verifier: '', state: '', nonce: '' };
  }

  it('shows a sign-in button while signed out', async () => {
    const page = await device(t).get(`${t.url}/demo`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain(en.demo.title);
    expect(page.text).to.contain('href="/demo/login"');
  });

  it('signs up through Tobira and shows the ID token claims and userinfo; signs in again with the passkey; signs out', async () => {
    const ua = device(t);
    const authenticator = createSoftAuthenticator();
    const auth = await startDemoLogin(ua);
    expect(auth.page).to.contain(en.signin.heading.replace('{{client}}', 'Tobira Demo'));
    const { email, memberNumber, result } = await signUp(ua, t, auth, authenticator);
    expect(result.status, result.text).to.equal(200);

    const home = await ua.get(new URL(result.json.redirectTo, t.url).href, { follow: true });
    expect(new URL(home.url).pathname).to.equal('/demo');
    expect(home.status).to.equal(200);
    const claims = shownJson(home.text, 'id-token-claims');
    expect(claims.iss).to.equal(t.url);
    expect(claims.aud).to.equal('tobira-demo');
    expect(claims.acr).to.equal('sfa');
    const userinfo = shownJson(home.text, 'userinfo');
    expect(userinfo.sub).to.equal(claims.sub);
    expect(userinfo.email).to.equal(email);
    expect(userinfo.member_number).to.equal(memberNumber);
    expect(home.text).to.contain('href="/demo/logout"');

    // "Sign in again" (prompt=login) with the passkey just created.
    const again = await startDemoLogin(ua, '?prompt=login');
    const verified = await passkeySignIn(ua, t, again, authenticator);
    expect(verified.status, verified.text).to.equal(200);
    const after = await ua.get(new URL(verified.json.redirectTo, t.url).href, { follow: true });
    const claims2 = shownJson(after.text, 'id-token-claims');
    expect(claims2.sub).to.equal(claims.sub);
    expect(claims2.acr).to.equal('phr');

    // Sign out: the demo forgets the member and Tobira asks to confirm, then returns to /demo.
    const logout = await ua.get(`${t.url}/demo/logout`, { follow: true });
    expect(logout.status).to.equal(200);
    expect(logout.text).to.contain(en.logout.heading);
    const form = formOf(logout.text, 'op.logoutForm');
    const confirmed = await ua.post(new URL(form.action, t.url).href, { ...form.fields, logout: 'yes' }, { form: true, follow: true });
    expect(new URL(confirmed.url).pathname).to.equal('/demo');
    expect(confirmed.text).not.to.contain('id="id-token-claims"');
    expect(confirmed.text).to.contain('href="/demo/login"');
  });

  it('asks for a passkey when the demo requires one (acr=phr)', async () => {
    const auth = await startDemoLogin(device(t), '?acr=phr');
    expect(auth.page).to.contain(en.signin.phr_required.replace('{{client}}', 'Tobira Demo'));
  });

  it('brings a member who cancels on Tobira\'s page back to the signed-out demo, not to an error page', async () => {
    const ua = device(t);
    const auth = await startDemoLogin(ua);
    const back = await ua.get(`${t.url}/interaction/${auth.uid}/abort`, { follow: true });
    expect(back.status).to.equal(200);
    expect(new URL(back.url).pathname).to.equal('/demo');
    expect(back.text).to.contain('href="/demo/login"');
    expect(back.text).not.to.contain('id="id-token-claims"');
  });

  it('brings a member back to the signed-out demo when an older tab\'s login answers (state mismatch)', async () => {
    const ua = device(t);
    const authenticator = createSoftAuthenticator();
    const older = await startDemoLogin(ua);
    await startDemoLogin(ua);
    const { result } = await signUp(ua, t, older, authenticator);
    expect(result.status, result.text).to.equal(200);
    const back = await ua.get(new URL(result.json.redirectTo, t.url).href, { follow: true });
    expect(back.status).to.equal(200);
    expect(new URL(back.url).pathname).to.equal('/demo');
    expect(back.text).to.contain('href="/demo/login"');
  });

  it('sends a callback without a demo session back to /demo instead of failing', async () => {
    const res = await device(t).get(`${t.url}/demo/callback?code=abc&state=xyz`);
    expect(res.status).to.equal(302);
    expect(new URL(res.location!).pathname).to.equal('/demo');
  });
});
