import { expect } from 'chai';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
  WebAuthnCredential,
} from '@simplewebauthn/server';
import { createSoftAuthenticator, FLAGS } from '../helpers/soft-authenticator.ts';
import type { AssertionOverrides, SoftAuthenticator } from '../helpers/soft-authenticator.ts';

const RP_ID = 'id.example.test';
const ORIGIN = `https://${RP_ID}`;
const AAGUID = 'adce0002-35bc-c60a-648b-0b25f1f05503';

/** Runs a registration ceremony and returns the verified credential. */
async function registerWith(auth: SoftAuthenticator): Promise<WebAuthnCredential> {
  const options = await generateRegistrationOptions({
    rpName: 'Tobira',
    rpID: RP_ID,
    userName: 'alice@example.test',
    userID: new TextEncoder().encode('user-alice'),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  const response = auth.register(options, ORIGIN);
  const result = await verifyRegistrationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    requireUserVerification: true,
  });
  expect(result.verified).to.equal(true);
  if (!result.verified) throw new Error('unreachable');
  return result.registrationInfo.credential;
}

/** Verifies an assertion produced for `options` against `credential`. */
function verifyAssertion(
  response: AuthenticationResponseJSON,
  options: PublicKeyCredentialRequestOptionsJSON,
  credential: WebAuthnCredential,
): ReturnType<typeof verifyAuthenticationResponse> {
  return verifyAuthenticationResponse({
    response,
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: RP_ID,
    credential,
    requireUserVerification: true,
  });
}

/** Produces and verifies an assertion, tampered with `overrides`; returns the verification promise. */
async function assertWith(
  auth: SoftAuthenticator,
  credential: WebAuthnCredential,
  overrides: AssertionOverrides = {},
): ReturnType<typeof verifyAuthenticationResponse> {
  const options = await generateAuthenticationOptions({
    rpID: RP_ID,
    allowCredentials: [{ id: credential.id }],
    userVerification: 'required',
  });
  return verifyAssertion(auth.authenticate(options, ORIGIN, undefined, overrides), options, credential);
}

/** Expects a promise to reject with a message matching `pattern`. */
async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const outcome = await promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  expect(outcome).to.be.instanceOf(Error);
  expect((outcome as Error).message).to.match(pattern);
}

describe('soft authenticator', () => {
  it('registers a credential that @simplewebauthn/server accepts', async () => {
    const auth = createSoftAuthenticator({ aaguid: AAGUID });
    const options = await generateRegistrationOptions({
      rpName: 'Tobira',
      rpID: RP_ID,
      userName: 'bob@example.test',
      userID: new TextEncoder().encode('user-bob'),
    });
    const response = auth.register(options, ORIGIN);
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      requireUserVerification: true,
    });
    expect(result.verified).to.equal(true);
    const info = result.registrationInfo;
    expect(info?.fmt).to.equal('none');
    expect(info?.aaguid).to.equal(AAGUID);
    expect(info?.userVerified).to.equal(true);
    expect(info?.credentialDeviceType).to.equal('multiDevice');
    expect(info?.credentialBackedUp).to.equal(true);
    expect(info?.credential.id).to.equal(response.id);
    expect(auth.credentials()).to.have.length(1);
    expect(auth.credentials()[0]?.userHandle).to.equal(options.user.id);
  });

  it('reports a single-device credential when not backup eligible', async () => {
    const auth = createSoftAuthenticator({ backupEligible: false });
    const options = await generateRegistrationOptions({ rpName: 'Tobira', rpID: RP_ID, userName: 'carol' });
    const result = await verifyRegistrationResponse({
      response: auth.register(options, ORIGIN),
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
    });
    expect(result.registrationInfo?.credentialDeviceType).to.equal('singleDevice');
    expect(result.registrationInfo?.credentialBackedUp).to.equal(false);
  });

  it('refuses to register when it holds an excluded credential', async () => {
    const auth = createSoftAuthenticator();
    const credential = await registerWith(auth);
    const options = await generateRegistrationOptions({
      rpName: 'Tobira',
      rpID: RP_ID,
      userName: 'alice@example.test',
      excludeCredentials: [{ id: credential.id }],
    });
    expect(() => auth.register(options, ORIGIN)).to.throw(/excludeCredentials/);
  });

  it('authenticates with allowCredentials and increments the counter', async () => {
    const auth = createSoftAuthenticator();
    const credential = await registerWith(auth);
    const first = await assertWith(auth, credential);
    expect(first.verified).to.equal(true);
    expect(first.authenticationInfo.newCounter).to.equal(1);
    const second = await assertWith(auth, { ...credential, counter: first.authenticationInfo.newCounter });
    expect(second.verified).to.equal(true);
    expect(second.authenticationInfo.newCounter).to.equal(2);
    expect(auth.credentials()[0]?.counter).to.equal(2);
  });

  it('keeps the counter at zero when counterMoves is false', async () => {
    const auth = createSoftAuthenticator({ counterMoves: false });
    const credential = await registerWith(auth);
    const first = await assertWith(auth, credential);
    const second = await assertWith(auth, credential);
    expect([first.authenticationInfo.newCounter, second.authenticationInfo.newCounter]).to.deep.equal([0, 0]);
  });

  it('authenticates a discoverable credential and returns the user handle', async () => {
    const auth = createSoftAuthenticator();
    const credential = await registerWith(auth);
    const options = await generateAuthenticationOptions({ rpID: RP_ID, userVerification: 'required' });
    expect(options.allowCredentials ?? []).to.have.length(0);
    const response = auth.authenticate(options, ORIGIN);
    expect(response.id).to.equal(credential.id);
    expect(response.response.userHandle).to.equal(auth.credentials()[0]?.userHandle);
    const result = await verifyAssertion(response, options, credential);
    expect(result.verified).to.equal(true);
  });

  it('uses the picked credential in a discoverable flow', async () => {
    const auth = createSoftAuthenticator();
    await registerWith(auth);
    const second = await registerWith(auth);
    const options = await generateAuthenticationOptions({ rpID: RP_ID });
    expect(auth.authenticate(options, ORIGIN, second.id).id).to.equal(second.id);
  });

  it('throws when none of its credentials is allowed', async () => {
    const auth = createSoftAuthenticator();
    await registerWith(auth);
    const options = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [{ id: 'AAAA' }] });
    expect(() => auth.authenticate(options, ORIGIN)).to.throw(/no credential .*allowCredentials/);
  });

  it('produces assertions rejected for a wrong origin', async () => {
    const auth = createSoftAuthenticator();
    const credential = await registerWith(auth);
    await expectRejection(assertWith(auth, credential, { origin: 'https://evil.example' }), /origin/i);
  });

  it('produces assertions rejected for a bad signature', async () => {
    const auth = createSoftAuthenticator();
    const credential = await registerWith(auth);
    const result = await assertWith(auth, credential, { badSignature: true });
    expect(result.verified).to.equal(false);
  });

  it('produces assertions rejected for a wrong rpId hash or missing UV', async () => {
    const auth = createSoftAuthenticator();
    const credential = await registerWith(auth);
    await expectRejection(assertWith(auth, credential, { rpId: 'evil.example' }), /RP ID/i);
    await expectRejection(assertWith(auth, credential, { flags: FLAGS.UP }), /verif/i);
  });

  it('produces registrations rejected for a wrong origin', async () => {
    const auth = createSoftAuthenticator();
    const options = await generateRegistrationOptions({ rpName: 'Tobira', rpID: RP_ID, userName: 'dave' });
    const response = auth.register(options, ORIGIN, { origin: 'https://evil.example' });
    await expectRejection(
      verifyRegistrationResponse({
        response,
        expectedChallenge: options.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
      }),
      /origin/i,
    );
  });
});
