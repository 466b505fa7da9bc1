import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createRp, type TestRp } from '../helpers/oidc-flow.ts';
import { authorizationUrl, createMember, formOf, rejection, send, signedInDevice, type TestMember } from '../helpers/oidc-extra.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import { en } from '../../src/i18n/en.ts';
import { ja } from '../../src/i18n/ja.ts';

const postLogoutUri = 'http://127.0.0.1:9/bye';

describe(`RP-initiated logout (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });

  function endSessionUrl(idToken: string, extra: Record<string, string> = {}): string {
    return oidc.buildEndSessionUrl(rp.config, { id_token_hint: idToken, post_logout_redirect_uri: postLogoutUri, state: 'bye-state', ...extra }).href;
  }

  async function confirmAndFollow(ua: UserAgent, page: string) {
    const form = formOf(page, 'op.logoutForm');
    expect(form.method).to.equal('post');
    expect(form.fields.xsrf, 'the form carries an xsrf token').to.be.a('string').and.not.equal('');
    return ua.post(new URL(form.action, t.url).href, { ...form.fields, logout: 'yes' }, { form: true });
  }

  it('shows Tobira\'s confirmation page in English, and confirming ends the session and returns to the RP', async () => {
    const { ua, tokens } = await signedInDevice(t, rp, member);
    const page = await ua.get(endSessionUrl(tokens.id_token!), { headers: { 'accept-language': 'en-GB,en;q=0.9' } });
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/text\/html/);
    expect(page.text).to.contain('<html lang="en">');
    expect(page.text).to.contain(en.logout.heading);
    expect(page.text).to.contain(en.logout.confirm);

    const confirmed = await confirmAndFollow(ua, page.text);
    expect(confirmed.status).to.be.within(300, 399);
    const back = new URL(confirmed.location!);
    expect(`${back.origin}${back.pathname}`).to.equal(postLogoutUri);
    expect(back.searchParams.get('state')).to.equal('bye-state');

    const again = await send(ua, rp, await authorizationUrl(rp));
    expect(again.callback, 'a signed-out browser must not get a code without signing in').to.equal(undefined);
    expect(again.auth?.page).to.contain(en.signin.passkey_button);

    // Without offline_access the refresh token lived with the session: it ends with it.
    expect(tokens.scope?.split(' ')).not.to.include('offline_access');
    const refresh = await rejection(oidc.refreshTokenGrant(rp.config, tokens.refresh_token!));
    expect(refresh.error, refresh.message).to.equal('invalid_grant');
  });

  for (const how of ['Accept-Language', '?lang=ja'] as const) {
    it(`shows the confirmation page in Japanese (${how})`, async () => {
      const { ua, tokens } = await signedInDevice(t, rp, member);
      const page = how === 'Accept-Language'
        ? await ua.get(endSessionUrl(tokens.id_token!), { headers: { 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.5' } })
        : await ua.get(endSessionUrl(tokens.id_token!, { lang: 'ja' }));
      expect(page.status).to.equal(200);
      expect(page.text).to.contain('<html lang="ja">');
      expect(page.text).to.contain(ja.logout.heading);
      expect(page.text).to.contain(ja.logout.confirm);
      expect(page.text).not.to.contain(en.logout.heading);

      const confirmed = await confirmAndFollow(ua, page.text);
      expect(confirmed.location).to.match(new RegExp(`^${postLogoutUri}\\?`));
    });
  }

  it('refuses the confirmation without the xsrf token and keeps the session', async () => {
    const { ua, tokens } = await signedInDevice(t, rp, member);
    const page = await ua.get(endSessionUrl(tokens.id_token!));
    const form = formOf(page.text, 'op.logoutForm');
    const forged = await ua.post(new URL(form.action, t.url).href, { logout: 'yes', xsrf: 'forged' }, { form: true });
    expect(forged.status).to.equal(400);
    expect(forged.text).to.contain(en.error.title);
    const again = await send(ua, rp, await authorizationUrl(rp));
    expect(again.callback?.searchParams.get('code'), 'still signed in: a code without a prompt').to.be.a('string');
  });

  it('shows Tobira\'s signed-out page when the RP gives no post_logout_redirect_uri', async () => {
    const { ua, tokens } = await signedInDevice(t, rp, member);
    const page = await ua.get(oidc.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token! }).href);
    const confirmed = await confirmAndFollow(ua, page.text);
    const done = confirmed.location ? await ua.get(new URL(confirmed.location, t.url).href) : confirmed;
    expect(done.status).to.equal(200);
    expect(done.text).to.contain(en.logout.done);
  });
});
