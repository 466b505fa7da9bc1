import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, type TestRp } from '../helpers/oidc-flow.ts';
import { createMember, passkeySignInCallback, rejection, type TestMember } from '../helpers/oidc-extra.ts';

/** Sends a hand-built authorization request and returns where Tobira redirected the browser. */
async function redirectOf(t: TestTobira, rp: TestRp, params: Record<string, string>): Promise<URL> {
  const url = new URL(`${t.url}/auth`);
  for (const [k, v] of Object.entries({ client_id: rp.client.client_id, response_type: 'code', redirect_uri: rp.redirectUri, scope: 'openid', state: 'st-1', ...params })) {
    url.searchParams.set(k, v);
  }
  const res = await device(t).get(url.href);
  expect(res.status, res.text.slice(0, 300)).to.be.within(300, 399);
  return new URL(res.location!);
}

describe(`PKCE is required for every client (${backendLabel()})`, () => {
  let t: TestTobira;
  let confidential: TestRp;
  let publicRp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    confidential = await createRp(t);
    publicRp = await createRp(t, { token_endpoint_auth_method: 'none' });
    member = await createMember(t, confidential);
  });

  for (const kind of ['confidential', 'public'] as const) {
    it(`sends a ${kind} client's request without code_challenge back to the RP with invalid_request`, async () => {
      const rp = kind === 'public' ? publicRp : confidential;
      const callback = await redirectOf(t, rp, {});
      expect(callback.href.startsWith(rp.redirectUri)).to.equal(true);
      expect(callback.searchParams.get('error')).to.equal('invalid_request');
      expect(callback.searchParams.get('error_description')).to.match(/PKCE/);
      expect(callback.searchParams.get('state')).to.equal('st-1');
      expect(callback.searchParams.get('iss')).to.equal(t.url);
      expect(callback.searchParams.has('code')).to.equal(false);
    });
  }

  it('refuses code_challenge_method=plain', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const callback = await redirectOf(t, confidential, { code_challenge: verifier, code_challenge_method: 'plain' });
    expect(callback.searchParams.get('error')).to.equal('invalid_request');
    expect(callback.searchParams.get('error_description')).to.match(/code_challenge_method/);
    expect(callback.searchParams.has('code')).to.equal(false);
  });

  it('refuses a code_challenge without code_challenge_method (which would mean plain)', async () => {
    const callback = await redirectOf(t, confidential, { code_challenge: oidc.randomPKCECodeVerifier() });
    expect(callback.searchParams.get('error')).to.equal('invalid_request');
    expect(callback.searchParams.get('error_description')).to.match(/code_challenge_method/);
  });

  it('refuses to exchange the code without the verifier, or with a wrong one (invalid_grant)', async () => {
    for (const verifier of [undefined, oidc.randomPKCECodeVerifier()]) {
      const ua = device(t);
      const auth = await authorize(ua, confidential);
      const callback = await passkeySignInCallback(ua, t, confidential, auth, member);
      const refused = await rejection(oidc.authorizationCodeGrant(confidential.config, callback, {
        pkceCodeVerifier: verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true,
      }));
      expect(refused.error, refused.message).to.equal('invalid_grant');
    }
  });
});
