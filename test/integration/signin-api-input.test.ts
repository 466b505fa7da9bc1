import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { api, authorize, createRp, device, passkeySignIn, signUp, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import { createUserAgent, type UaResponse, type UserAgent } from '../helpers/user-agent.ts';
import { translator } from '../../src/i18n/i18n.ts';

/** Asserts an API error: status, stable code, and a message in the request's language. */
function expectError(res: UaResponse, status: number, code: string, locale: 'en' | 'ja' = 'en') {
  expect(res.status, res.text).to.equal(status);
  expect(res.json, res.text).to.have.keys('error', 'message');
  expect(res.json.error).to.equal(code);
  if (code === 'request.invalid') {
    expect(res.json.message).to.satisfy((m: string) => m.startsWith(translator(locale)('errors.request.invalid', { detail: '' })));
  } else {
    expect(res.json.message).to.equal(translator(locale)(`errors.${code}`));
  }
}

/** A syntactically valid AuthenticationResponseJSON (that verifies nothing). */
function fakeAssertion(overrides: Record<string, unknown> = {}, response: Record<string, unknown> = {}) {
  const b = (s: string) => Buffer.from(s).toString('base64url');
  return {
    id: b('credential'), rawId: b('credential'), type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: b('{"type":"webauthn.get","challenge":"x"}'), authenticatorData: b('a'.repeat(37)), signature: b('sig'), ...response },
    ...overrides,
  };
}

/** The JSON endpoints of the sign-in API. */
const endpoints = [
  '/passkey/options', '/passkey/verify', '/email/start', '/email/verify', '/signup/start', '/signup/verify',
  '/register/options', '/register/verify', '/continue',
];

describe(`sign-in API: malformed and out-of-place requests (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let authenticator: SoftAuthenticator;
  let memberNumber: string;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    authenticator = createSoftAuthenticator();
    const ua = device(t);
    ({ memberNumber } = await signUp(ua, t, await authorize(ua, rp), authenticator));
  });

  /** One interaction that takes every bad request of a test, then must still sign in. */
  let ua: UserAgent;
  let auth: Authorization;
  beforeEach(async () => {
    ua = device(t);
    auth = await authorize(ua, rp);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'passed') return;
    const verified = await passkeySignIn(ua, t, auth, authenticator, memberNumber);
    expect(verified.status, `the interaction still signs in after the bad requests: ${verified.text}`).to.equal(200);
  });

  const url = (path: string) => `${t.url}/interaction/${auth.uid}${path}`;
  const raw = (path: string, body: string, headers: Record<string, string> = {}, agent = ua) =>
    agent.post(url(path), body, { headers: { 'content-type': 'application/json', ...headers } });

  it('answers a body that is not JSON with 400 request.invalid, in the request’s language', async () => {
    expectError(await raw('/passkey/options', '{"identifier":'), 400, 'request.invalid');
    expectError(await raw('/email/start', 'identifier=1', { 'accept-language': 'ja' }), 400, 'request.invalid', 'ja');
  });

  it('answers JSON that is not an object (array, null, string, number) with 400 request.invalid', async () => {
    for (const body of ['[]', '[{"identifier":"x"}]', 'null', '"identifier"', '42']) {
      for (const path of ['/passkey/options', '/passkey/verify', '/email/verify']) expectError(await raw(path, body), 400, 'request.invalid');
    }
  });

  it('answers wrong JSON types with 400 request.invalid', async () => {
    expectError(await api(ua, t, auth, '/passkey/options', { identifier: 123 }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/options', { identifier: ['a'] }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/email/start', { identifier: { $ne: null } }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/email/verify', { code: 123456 }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/signup/start', { email: true }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({ id: 5 })), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({ response: 'x' })), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({ type: 'password' })), 400, 'request.invalid');
  });

  it('answers missing fields with 400 request.invalid', async () => {
    expectError(await api(ua, t, auth, '/email/start', {}), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/email/verify', {}), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/signup/start', { name: 'x' }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/verify', {}), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({}, { signature: undefined })), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/register/verify', {}), 400, 'request.invalid');
  });

  it('answers unexpected fields with 400 request.invalid', async () => {
    expectError(await api(ua, t, auth, '/passkey/options', { identifier: memberNumber, admin: true }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/email/start', { identifier: memberNumber, to: 'attacker@example.com' }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/signup/start', { email: 'a@example.com', roles: ['admin'] }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/continue', { accountId: '00000000-0000-0000-0000-000000000000' }), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/register/options', { accountId: '00000000-0000-0000-0000-000000000000' }), 400, 'request.invalid');
  });

  it('answers a body over 64 kB with 413 request.too_large', async () => {
    const big = JSON.stringify({ identifier: 'a'.repeat(70 * 1024) });
    expectError(await raw('/passkey/options', big), 413, 'request.too_large');
    expectError(await raw('/passkey/verify', JSON.stringify(fakeAssertion({}, { signature: 'A'.repeat(200 * 1024) })), { 'accept-language': 'ja' }), 413, 'request.too_large', 'ja');
  });

  it('answers oversized or non-base64url WebAuthn fields with 400 request.invalid', async () => {
    for (const [field, value] of [
      ['signature', 'A'.repeat(2048)], ['clientDataJSON', 'A'.repeat(8192)], ['authenticatorData', 'A'.repeat(8192)],
      ['userHandle', 'A'.repeat(512)], ['signature', 'abc+/='], ['clientDataJSON', 'not base64!'], ['signature', ''],
    ]) {
      expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({}, { [field]: value })), 400, 'request.invalid');
    }
    expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({ id: 'A'.repeat(2000), rawId: 'A'.repeat(2000) })), 400, 'request.invalid');
    expectError(await api(ua, t, auth, '/passkey/options', { identifier: 'a'.repeat(300) }), 400, 'request.invalid');
    // base64url that does not hold JSON in clientDataJSON: refused as invalid, not a 500.
    expectError(await api(ua, t, auth, '/passkey/verify', fakeAssertion({}, { clientDataJSON: 'AAAA' })), 400, 'request.invalid');
  });

  it('answers a form-encoded or text body on a JSON endpoint with 415 request.unsupported_media_type', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    expectError(await raw('/passkey/options', 'identifier=1', form), 415, 'request.unsupported_media_type');
    expectError(await raw('/email/start', `identifier=${memberNumber}`, { ...form, 'accept-language': 'ja' }), 415, 'request.unsupported_media_type', 'ja');
    expectError(await raw('/passkey/options', '{}', { 'content-type': 'text/plain', accept: 'application/json' }), 415, 'request.unsupported_media_type');
    const page = await ua.post(url('/email/start'), { identifier: memberNumber }, { form: true });
    expect(page.status).to.equal(415);
    expect(page.headers.get('content-type')).to.match(/^text\/html/);
  });

  it('refuses a cross-site POST with 403 request.cross_site', async () => {
    // A browser on another site sends this interaction's cookie (SameSite=Lax does not cover
    // top-level POSTs for two minutes) but it cannot hide where the request comes from.
    const evil = createUserAgent();
    const cookie = await ua.jar.getCookieString(url('/passkey/options'));
    const post = (path: string, body: unknown, headers: Record<string, string>) => evil.post(url(path), body, { headers: { cookie, ...headers } });
    expectError(await post('/passkey/options', {}, { origin: 'https://evil.example' }), 403, 'request.cross_site');
    expectError(await post('/email/start', { identifier: memberNumber }, { origin: 'https://evil.example', 'accept-language': 'ja' }), 403, 'request.cross_site', 'ja');
    expectError(await post('/passkey/options', {}, { 'sec-fetch-site': 'cross-site' }), 403, 'request.cross_site');
    expectError(await post('/passkey/options', {}, { origin: 'null', 'sec-fetch-site': 'cross-site' }), 403, 'request.cross_site');
    expectError(await post('/passkey/options', {}, { origin: 'http://localhost.evil.example' }), 403, 'request.cross_site');
    // The same request from the page itself is fine.
    expect((await post('/passkey/options', {}, { origin: t.url, 'sec-fetch-site': 'same-origin' })).status).to.equal(200);
    // Referrer-Policy: no-referrer makes browsers send "Origin: null" on the page's own POSTs.
    expect((await post('/passkey/options', {}, { origin: 'null', 'sec-fetch-site': 'same-origin' })).status).to.equal(200);
  });

  it('answers an unknown interaction, a missing interaction cookie or an expired interaction with 404 interaction.not_found', async () => {
    expectError(await ua.post(`${t.url}/interaction/unknown-uid-123/passkey/options`, {}), 404, 'interaction.not_found');
    const stranger = device(t, 'ja');
    expectError(await stranger.post(url('/passkey/options'), {}), 404, 'interaction.not_found', 'ja');
    expectError(await stranger.post(url('/email/verify'), { code: '123456' }), 404, 'interaction.not_found', 'ja');
    // Another interaction of the same browser does not stand in for this one.
    const other = await authorize(ua, rp);
    await t.container.store.del(`oidc:Interaction:${other.uid}`);
    expectError(await ua.post(`${t.url}/interaction/${other.uid}/passkey/options`, {}), 404, 'interaction.not_found');
  });

  it('answers steps that need a proven sign-in first with 409 interaction.wrong_step', async () => {
    expectError(await api(ua, t, auth, '/register/options'), 409, 'interaction.wrong_step');
    expectError(await api(ua, t, auth, '/continue'), 409, 'interaction.wrong_step');
    const registration = createSoftAuthenticator().register({
      rp: { id: new URL(t.url).hostname, name: 'Tobira' }, user: { id: 'eA', name: 'x', displayName: 'x' },
      challenge: 'eA', pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    }, t.url);
    expectError(await api(ua, t, auth, '/register/verify', { response: registration }), 409, 'interaction.wrong_step');
    expectError(await ua.post(url('/continue'), {}, { headers: { 'accept-language': 'ja' } }), 409, 'interaction.wrong_step', 'ja');
  });

  it('never answers 5xx to any odd body on any endpoint, and always says why in JSON', async () => {
    const bodies = ['', '{}', '[]', 'null', 'true', '"x"', '{"__proto__":{"admin":true}}', '{"identifier":null}', '{"code":["123456"]}',
      '{"response":{"id":"x"}}', '{"email":"a@b.c","name":{"x":1}}', JSON.stringify(fakeAssertion({ clientExtensionResults: 'x' })),
      JSON.stringify({ a: { b: { c: { d: { e: { f: [[[[[]]]]] } } } } } })];
    for (const path of endpoints) {
      for (const body of bodies) {
        const res = await raw(path, body);
        expect(res.status, `${path} ${body}: ${res.text}`).to.be.below(500);
        if (res.status === 200) {
          expect([path, body], 'only an empty options request succeeds').to.deep.be.oneOf([['/passkey/options', ''], ['/passkey/options', '{}']]);
          continue;
        }
        expect(res.status, `${path} ${body}: ${res.text}`).to.be.within(400, 499);
        expect(res.json?.error, `${path} ${body}`).to.be.a('string');
        expect(res.json?.message, `${path} ${body}`).to.be.a('string').and.not.equal('');
      }
    }
  });
});
