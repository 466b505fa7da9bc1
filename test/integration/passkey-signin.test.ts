import { expect } from 'chai';
import * as oidc from 'openid-client';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator } from '../helpers/soft-authenticator.ts';
import { authorize, createRp, device, exchange, followToCallback, passkeySignIn, signUp, type TestRp } from '../helpers/oidc-flow.ts';

describe(`passkey sign-in over OpenID Connect (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
  });

  it('signs up a new member with a passkey and returns them to the RP with amr/acr of an email-verified sign-up', async () => {
    const ua = device(t);
    const authenticator = createSoftAuthenticator();
    const auth = await authorize(ua, rp);
    const { result, memberNumber, email } = await signUp(ua, t, auth, authenticator);
    expect(result.status).to.equal(200);
    expect(memberNumber).to.match(/^\d{10}$/);
    const tokens = await exchange(rp, auth, await followToCallback(ua, rp, result.json.redirectTo));
    const claims = tokens.claims()!;
    expect(claims.acr).to.equal('sfa');
    expect(claims.amr).to.deep.equal(['otp']);
    const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
    expect(userinfo.email).to.equal(email);
    expect(userinfo.member_number).to.equal(memberNumber);
    const welcome = await t.smtp.waitFor({ to: email, subject: /Welcome/ });
    expect(welcome.text).to.contain(memberNumber);
  });

  for (const path of ['discoverable', 'identifier-first by member number', 'identifier-first by email'] as const) {
    it(`signs in with a passkey (${path}) and the ID token says so`, async () => {
      const authenticator = createSoftAuthenticator();
      const first = device(t);
      const a1 = await authorize(first, rp);
      const { memberNumber, email } = await signUp(first, t, a1, authenticator);

      const ua = device(t);
      const auth = await authorize(ua, rp);
      const identifier = path === 'discoverable' ? undefined : path.endsWith('member number') ? memberNumber : email.toUpperCase();
      const verified = await passkeySignIn(ua, t, auth, authenticator, identifier);
      expect(verified.status, verified.text).to.equal(200);
      const tokens = await exchange(rp, auth, await followToCallback(ua, rp, verified.json.redirectTo));
      const claims = tokens.claims()!;
      expect(claims.acr).to.equal('phr');
      expect(claims.amr).to.deep.equal(['pop', 'mfa']);
      expect(tokens.refresh_token).to.be.a('string');
    });
  }
});
