import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { api, authorize, createRp, device, type TestRp } from '../helpers/oidc-flow.ts';
import { createMember, passkeySignInCallback, type TestMember } from '../helpers/oidc-extra.ts';
import { en } from '../../src/i18n/en.ts';
import { ja } from '../../src/i18n/ja.ts';

describe(`unknown and expired sign-in interactions (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });

  function expectNotFoundPage(res: { status: number; text: string; headers: Headers }, catalog: typeof en | typeof ja = en) {
    expect(res.status, res.text.slice(0, 300)).to.equal(404);
    expect(res.headers.get('content-type')).to.match(/text\/html/);
    expect(res.text).to.contain(`<html lang="${catalog === ja ? 'ja' : 'en'}">`);
    expect(res.text).to.contain(catalog.errors['interaction.not_found']);
    expect(res.text).to.contain('interaction.not_found');
  }

  it('answers an unknown interaction id without any cookie with a localized 404 page', async () => {
    expectNotFoundPage(await device(t).get(`${t.url}/interaction/this-does-not-exist`));
    expectNotFoundPage(await device(t, 'ja,en;q=0.5').get(`${t.url}/interaction/this-does-not-exist`), ja);
    expectNotFoundPage(await device(t).get(`${t.url}/interaction/this-does-not-exist?lang=ja`), ja);
  });

  it('answers another interaction\'s id (cookie of a different one) with the 404 page', async () => {
    const ua = device(t);
    await authorize(ua, rp);
    expectNotFoundPage(await ua.get(`${t.url}/interaction/someone-elses-uid`));
  });

  it('answers an expired interaction with the 404 page, and its API with JSON interaction.not_found', async () => {
    const ua = device(t);
    const auth = await authorize(ua, rp);
    // What the store's TTL does when the interaction expires.
    await t.container.store.del(`oidc:Interaction:${auth.uid}`);
    expectNotFoundPage(await ua.get(auth.interactionUrl));
    const res = await api(ua, t, auth, '/passkey/options');
    expect(res.status).to.equal(404);
    expect(res.json).to.deep.equal({ error: 'interaction.not_found', message: en.errors['interaction.not_found'] });
  });

  it('answers a finished interaction opened again (back button) with the 404 page, not a 500', async () => {
    const ua = device(t);
    const auth = await authorize(ua, rp);
    await passkeySignInCallback(ua, t, rp, auth, member);
    const again = await ua.get(auth.interactionUrl);
    expect(again.status).to.be.within(400, 499);
    expect(again.text).to.contain(en.errors['interaction.not_found']);
  });

  it('shows a localized error page, and does not redirect, for an unknown client or an unregistered redirect_uri', async () => {
    const base = { response_type: 'code', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' };
    const cases = [
      { ...base, client_id: 'no-such-client', redirect_uri: rp.redirectUri },
      { ...base, client_id: rp.client.client_id, redirect_uri: 'https://evil.example/cb' },
    ];
    for (const params of cases) {
      for (const [lang, catalog] of [['en', en], ['ja', ja]] as const) {
        const res = await device(t, lang).get(`${t.url}/auth?${new URLSearchParams(params)}`);
        expect(res.status, res.text.slice(0, 200)).to.equal(400);
        expect(res.location, 'never redirect to an unverified redirect_uri').to.equal(null);
        expect(res.text).to.contain(`<html lang="${lang}">`);
        expect(res.text).to.contain(catalog.error.title);
      }
    }
  });

  it('answers a replayed resume URL (/auth/:uid) with a localized error page, not a 500', async () => {
    const ua = device(t);
    const auth = await authorize(ua, rp);
    const verified = await api(ua, t, auth, '/passkey/options');
    expect(verified.status).to.equal(200);
    const resume = `${t.url}/auth/${auth.uid}`;
    await t.container.store.del(`oidc:Interaction:${auth.uid}`);
    const res = await ua.get(resume, { headers: { 'accept-language': 'ja' } });
    expect(res.status, res.text.slice(0, 300)).to.be.within(400, 499);
    expect(res.text).to.contain('<html lang="ja">');
    expect(res.text).to.contain(ja.errors['interaction.not_found']);
  });
});
