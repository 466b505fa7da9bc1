import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { api, authorize, createRp, device, exchange, followToCallback, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import {
  authorizationUrl, createMember, exchangeAt, emailCodeSignIn, passkeyLogin, send, signedInDevice, type PreparedAuthorization, type TestMember,
} from '../helpers/oidc-extra.ts';
import type { UserAgent } from '../helpers/user-agent.ts';
import { en } from '../../src/i18n/en.ts';

describe(`step-up: acr_values, prompt=login and max_age (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });

  /** A device signed in with an email code (acr sfa). */
  async function emailCodeSession(): Promise<{ ua: UserAgent; claims: Record<string, unknown> }> {
    const ua = device(t);
    const auth = await authorize(ua, rp);
    const done = await emailCodeSignIn(ua, t, auth, member.email);
    expect(done.status, done.text).to.equal(200);
    const tokens = await exchange(rp, auth, await followToCallback(ua, rp, done.json.redirectTo));
    return { ua, claims: tokens.claims()! };
  }

  /** Sends the request and expects Tobira's sign-in page (not a code for the RP). */
  async function expectSignInPage(ua: UserAgent, prepared: PreparedAuthorization): Promise<Authorization> {
    const landing = await send(ua, rp, prepared);
    expect(landing.callback?.href, 'a code was issued without a new sign-in').to.equal(undefined);
    expect(landing.auth, `expected the sign-in page, got ${landing.page?.status} ${landing.page?.url}`).to.not.equal(undefined);
    expect(landing.auth!.page).to.contain(en.signin.passkey_button);
    return landing.auth!;
  }

  it('signs in with an email code at acr sfa', async () => {
    const { claims } = await emailCodeSession();
    expect(claims.acr).to.equal('sfa');
    expect(claims.amr).to.deep.equal(['otp']);
  });

  it('acr_values=phr on an email-code session asks for a sign-in again, refuses email codes there, and a passkey gives acr=phr', async () => {
    const { ua, claims: before } = await emailCodeSession();
    const auth = await expectSignInPage(ua, await authorizationUrl(rp, { acr_values: 'phr' }));
    expect(auth.page).to.contain(en.signin.phr_required.replace('{{client}}', rp.client.client_name));
    expect(auth.page, 'no email-code link when a passkey is required').not.to.contain('id="show-email-code"');

    const start = await api(ua, t, auth, '/email/start', { identifier: member.email });
    expect(start.status).to.equal(403);
    expect(start.json.error).to.equal('acr.not_satisfied');
    expect(start.json.message).to.equal(en.errors['acr.not_satisfied']);

    const tokens = await passkeyLogin(ua, t, rp, auth, member);
    const claims = tokens.claims()!;
    expect(claims.acr).to.equal('phr');
    expect(claims.amr).to.deep.equal(['pop', 'mfa']);
    expect(claims.sub).to.equal(before.sub);
  });

  it('acr_values=mfa is met by a passkey session without a new prompt', async () => {
    const { ua } = await signedInDevice(t, rp, member);
    const prepared = await authorizationUrl(rp, { acr_values: 'mfa' });
    const landing = await send(ua, rp, prepared);
    expect(landing.callback, `expected a code at once, got ${landing.page?.url}`).to.not.equal(undefined);
    const tokens = await exchangeAt(rp, prepared, landing.callback!);
    expect(tokens.claims()!.acr).to.equal('phr');
  });

  it('acr_values=mfa on an email-code session asks for a sign-in again', async () => {
    const { ua } = await emailCodeSession();
    await expectSignInPage(ua, await authorizationUrl(rp, { acr_values: 'mfa' }));
  });

  it('a live session is reused without a prompt when nothing asks for more', async () => {
    const { ua } = await signedInDevice(t, rp, member);
    const landing = await send(ua, rp, await authorizationUrl(rp, { acr_values: 'sfa' }));
    expect(landing.callback?.searchParams.get('code')).to.be.a('string');
  });

  it('acr_values Tobira does not know (also names like toString) ask for nothing more', async () => {
    const { ua } = await emailCodeSession();
    for (const acrValues of ['urn:example:gold', 'toString', 'constructor __proto__']) {
      const prepared = await authorizationUrl(rp, { acr_values: acrValues });
      const landing = await send(ua, rp, prepared);
      expect(landing.callback?.searchParams.get('code'), `acr_values=${acrValues}: ${landing.page?.url}`).to.be.a('string');
      expect((await exchangeAt(rp, prepared, landing.callback!)).claims()!.acr).to.equal('sfa');
    }
  });

  it('prompt=login shows the sign-in page despite a live passkey session, and the new sign-in has a new auth_time', async () => {
    const { ua, tokens: first } = await signedInDevice(t, rp, member);
    const auth = await expectSignInPage(ua, await authorizationUrl(rp, { prompt: 'login' }));
    const tokens = await passkeyLogin(ua, t, rp, auth, member);
    expect(tokens.claims()!.sub).to.equal(first.claims()!.sub);
    expect(tokens.claims()!.auth_time).to.be.at.least(first.claims()!.auth_time!);
  });

  it('max_age=0 shows the sign-in page despite a live passkey session', async () => {
    const { ua } = await signedInDevice(t, rp, member);
    await expectSignInPage(ua, await authorizationUrl(rp, { max_age: '0' }));
  });

  it('max_age shorter than the session\'s age shows the sign-in page; a longer one does not', async () => {
    const { ua, tokens } = await signedInDevice(t, rp, member);
    const longer = await send(ua, rp, await authorizationUrl(rp, { max_age: '3600' }));
    expect(longer.callback?.searchParams.get('code'), 'max_age=3600 needs no new sign-in').to.be.a('string');

    // auth_time has a one-second resolution: wait (bounded) until the session is over 1s old.
    const authTime = tokens.claims()!.auth_time!;
    for (let i = 0; i < 50 && Math.floor(Date.now() / 1000) - authTime <= 1; i++) await delay(100);
    const auth = await expectSignInPage(ua, await authorizationUrl(rp, { max_age: '1' }));
    const fresh = await passkeyLogin(ua, t, rp, auth, member);
    expect(fresh.claims()!.auth_time).to.be.greaterThan(authTime);
  });
});
