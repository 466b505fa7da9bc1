import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createRp, device, followToCallback, passkeySignIn, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import { authorizationUrl, createMember, exchangeAt, passkeyLogin, type PreparedAuthorization, type TestMember } from '../helpers/oidc-extra.ts';
import type { UaResponse, UserAgent } from '../helpers/user-agent.ts';
import { en } from '../../src/i18n/en.ts';
import { ja } from '../../src/i18n/ja.ts';

/** What Chromium's navigations accept. */
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

/** The cookies a response sets, by name (the raw Set-Cookie lines). */
function setCookies(res: UaResponse): Map<string, string> {
  return new Map(res.headers.getSetCookie().map((line) => [line.split('=')[0]!, line]));
}

describe(`the sign-in page as the authorization request's answer (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });

  /** A browser's navigation to a fresh authorization request. */
  async function navigate(ua: UserAgent, params: Record<string, string> = {}, accept = browserAccept) {
    const prepared = await authorizationUrl(rp, params);
    const res = await ua.get(prepared.url.href, { headers: { accept } });
    return { prepared, res };
  }

  /** The authorization a page answer started, as the sign-in helpers take it. */
  const authorizationOf = (prepared: PreparedAuthorization, uid: string, page: UaResponse): Authorization =>
    ({ ...prepared, uid, interactionUrl: `${t.url}/interaction/${uid}`, page: page.text });

  /** The interaction a page answer names (Content-Location), checked to be the page's own. */
  function pageUid(res: UaResponse): string {
    expect(res.status, res.text.slice(0, 300)).to.equal(200);
    expect(res.location, 'no redirect').to.equal(null);
    const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(res.headers.get('content-location') ?? '');
    expect(match, `Content-Location: ${res.headers.get('content-location')}`).to.not.equal(null);
    return match![1]!;
  }

  it('answers a browser with the sign-in page itself; signing in on it gives the RP a code and tokens', async () => {
    const ua = device(t);
    const { prepared, res } = await navigate(ua);
    const uid = pageUid(res);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    // The headers of Tobira's own pages: the page runs only its own scripts and cannot be framed.
    expect(res.headers.get('content-security-policy')).to.contain("script-src 'self'").and.contain("frame-ancestors 'self'");
    expect(res.text).to.contain('<html lang="en">').and.contain(en.signin.title);
    expect(res.text).to.contain(`&quot;uid&quot;:&quot;${uid}&quot;`);
    // Its language links stay in this sign-in (the interaction's address), not a new authorization.
    expect(res.text).to.contain(`href="/interaction/${uid}?lang=ja"`);
    // The interaction's cookies, as with the redirect: the page's calls and the resume carry them.
    const cookies = setCookies(res);
    expect(cookies.get('_interaction')).to.match(new RegExp(`path=/interaction/${uid};`, 'i'));
    expect(cookies.get('_interaction_resume')).to.match(new RegExp(`path=/auth/${uid};`, 'i'));

    const verified = await passkeySignIn(ua, t, authorizationOf(prepared, uid, res), member.authenticator);
    expect(verified.status, verified.text).to.equal(200);
    const tokens = await exchangeAt(rp, prepared, await followToCallback(ua, rp, verified.json.redirectTo));
    expect(tokens.claims()!.acr).to.equal('phr');
    expect(tokens.claims()!.nonce).to.equal(prepared.nonce);
  });

  it('serves the same interaction again at its own address (a reload), in the language asked for', async () => {
    const ua = device(t);
    const uid = pageUid((await navigate(ua)).res);
    const reload = await ua.get(`${t.url}/interaction/${uid}`, { headers: { accept: browserAccept } });
    expect(reload.status).to.equal(200);
    expect(reload.text).to.contain(`&quot;uid&quot;:&quot;${uid}&quot;`);
    const japanese = await ua.get(`${t.url}/interaction/${uid}?lang=ja`, { headers: { accept: browserAccept } });
    expect(japanese.text).to.contain('<html lang="ja">').and.contain(ja.signin.title);
  });

  it("honours the RP's ui_locales, as the interaction's page does", async () => {
    const { res } = await navigate(device(t), { ui_locales: 'ja' });
    pageUid(res);
    expect(res.text).to.contain('<html lang="ja">').and.contain(ja.signin.title);
  });

  it('keeps the redirect for requests that do not ask for a page (API clients, fetch)', async () => {
    for (const accept of ['*/*', 'application/json']) {
      const { res } = await navigate(device(t), {}, accept);
      expect(res.status, accept).to.equal(303);
      expect(res.location).to.match(/\/interaction\/[A-Za-z0-9_-]+$/);
      expect(res.headers.get('content-location')).to.equal(null);
    }
  });

  it('keeps the redirect when the member is already signed in (no sign-in page to show)', async () => {
    const ua = device(t);
    const first = await navigate(ua);
    await passkeyLogin(ua, t, rp, authorizationOf(first.prepared, pageUid(first.res), first.res), member);
    const again = await navigate(ua);
    expect(again.res.status).to.be.within(300, 399);
    expect(again.res.location).to.satisfy((l: string) => l.startsWith(rp.redirectUri));
  });

  it('answers errors of the authorization request as before (no page for a bad request)', async () => {
    const { res } = await navigate(device(t), { redirect_uri: 'https://evil.example/cb' });
    expect(res.status).to.equal(400);
    expect(res.headers.get('content-location')).to.equal(null);
  });
});
