import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, exchange, passkeySignIn, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import {
  authorizationUrl, createMember, exchangeAt, followToLanding, formOf, passkeyLogin, send, type Landing, type TestMember,
} from '../helpers/oidc-extra.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import { en } from '../../src/i18n/en.ts';
import { ja } from '../../src/i18n/ja.ts';

describe(`consent for third-party clients (${backendLabel()})`, () => {
  let t: TestTobira;
  let thirdParty: TestRp;
  let firstParty: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    thirdParty = await createRp(t, { first_party: false, client_name: 'Partner Hotel' });
    firstParty = await createRp(t);
    member = await createMember(t, firstParty);
  });

  /** Signs in with a passkey on a third-party request and returns where the browser lands next. */
  async function signInTo(ua: UserAgent, rp: TestRp, params: Record<string, string> = {}): Promise<{ auth: Authorization; landing: Landing }> {
    const auth = await authorize(ua, rp, params);
    const verified = await passkeySignIn(ua, t, auth, member.authenticator);
    expect(verified.status, verified.text).to.equal(200);
    return { auth, landing: await followToLanding(ua, rp, verified.json.redirectTo) };
  }

  function consentPage(landing: Landing): { html: string; uid: string } {
    expect(landing.callback?.href, 'expected the consent page, the RP got an answer').to.equal(undefined);
    const match = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(landing.page!.url).pathname);
    expect(match, `expected an interaction page, got ${landing.page!.url}`).to.not.equal(null);
    return { html: landing.page!.text, uid: match![1] };
  }

  async function decide(ua: UserAgent, rp: TestRp, html: string, decision: 'allow' | 'deny'): Promise<URL> {
    const form = formOf(html);
    expect(form.method).to.equal('post');
    const res = await ua.post(new URL(form.action, t.url).href, { ...form.fields, decision }, { form: true });
    expect(res.status, res.text.slice(0, 300)).to.be.within(300, 399);
    const landing = await followToLanding(ua, rp, res.location!);
    expect(landing.callback, `expected the RP's callback, got ${landing.page?.status} ${landing.page?.url}`).to.not.equal(undefined);
    return landing.callback!;
  }

  it('shows Tobira\'s consent page naming the client and the requested scopes; Allow gives the RP a code', async () => {
    const ua = device(t);
    const { auth, landing } = await signInTo(ua, thirdParty, { scope: 'openid email member' });
    const { html } = consentPage(landing);
    expect(html).to.contain('<html lang="en">');
    expect(html).to.contain(en.consent.heading.replace('{{client}}', 'Partner Hotel'));
    expect(html).to.contain(member.memberNumber);
    for (const scope of ['openid', 'email', 'member'] as const) expect(html).to.contain(en.consent.scope[scope]);
    for (const scope of ['profile', 'phone', 'offline_access'] as const) expect(html).not.to.contain(en.consent.scope[scope]);

    const callback = await decide(ua, thirdParty, html, 'allow');
    const tokens = await exchange(thirdParty, auth, callback);
    expect(tokens.claims()!.acr).to.equal('phr');
    const userinfo = await oidc.fetchUserInfo(thirdParty.config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.member_number).to.equal(member.memberNumber);
    expect(userinfo.email).to.equal(member.email);
    expect(userinfo).not.to.have.property('name');
    expect(tokens.refresh_token, 'no offline_access without prompt=consent').to.equal(undefined);

    const again = await send(ua, thirdParty, await authorizationUrl(thirdParty, { scope: 'openid email member' }));
    expect(again.callback?.searchParams.get('code'), 'consent is remembered for the same scopes').to.be.a('string');
  });

  it('shows the consent page in Japanese for a Japanese browser', async () => {
    const ua = device(t, 'ja');
    const { landing } = await signInTo(ua, thirdParty, { scope: 'openid profile member' });
    const { html } = consentPage(landing);
    expect(html).to.contain('<html lang="ja">');
    expect(html).to.contain(ja.consent.heading.replace('{{client}}', 'Partner Hotel'));
    for (const scope of ['openid', 'profile', 'member'] as const) expect(html).to.contain(ja.consent.scope[scope]);
    expect(html).to.contain(ja.consent.allow);
    expect(html).not.to.contain(en.consent.allow);
  });

  it('Deny sends the RP error=access_denied with its state, and no code', async () => {
    const ua = device(t);
    const { auth, landing } = await signInTo(ua, thirdParty);
    const callback = await decide(ua, thirdParty, consentPage(landing).html, 'deny');
    expect(callback.searchParams.get('error')).to.equal('access_denied');
    expect(callback.searchParams.get('state')).to.equal(auth.state);
    expect(callback.searchParams.get('iss')).to.equal(t.url);
    expect(callback.searchParams.has('code')).to.equal(false);
  });

  it('with prompt=consent a third-party client can ask for offline_access, listed on the page, and gets a refresh token', async () => {
    const ua = device(t);
    const { auth, landing } = await signInTo(ua, thirdParty, { scope: 'openid offline_access', prompt: 'consent' });
    const { html } = consentPage(landing);
    expect(html).to.contain(en.consent.scope.offline_access);
    const tokens = await exchange(thirdParty, auth, await decide(ua, thirdParty, html, 'allow'));
    expect(tokens.refresh_token).to.be.a('string');
    expect(tokens.scope?.split(' ').sort()).to.deep.equal(['offline_access', 'openid']);
  });

  it('a first-party client never shows the consent page, also with prompt=consent (offline_access)', async () => {
    const ua = device(t);
    const auth = await authorize(ua, firstParty, { scope: 'openid email offline_access', prompt: 'consent' });
    // passkeyLogin follows redirects only: a consent page on the way would fail it.
    const tokens = await passkeyLogin(ua, t, firstParty, auth, member);
    expect(tokens.refresh_token).to.be.a('string');
    expect(tokens.scope?.split(' ').sort()).to.deep.equal(['email', 'offline_access', 'openid']);

    const prepared = await authorizationUrl(firstParty, { scope: 'openid email offline_access', prompt: 'consent' });
    const again = await send(ua, firstParty, prepared);
    expect(again.callback, `a live session with prompt=consent still lands at the RP, got ${again.page?.url}`).to.not.equal(undefined);
    const second = await exchangeAt(firstParty, prepared, again.callback!);
    expect(second.refresh_token).to.be.a('string');
  });
});
