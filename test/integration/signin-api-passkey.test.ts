import { expect } from 'chai';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createSoftAuthenticator, FLAGS, type SoftAuthenticator, type SoftAuthenticatorConfig } from '../helpers/soft-authenticator.ts';
import { api, authorize, codeFromMail, createRp, device, uniqueEmail, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import type { UaResponse, UserAgent } from '../helpers/user-agent.ts';
import { generateMemberNumber } from '../../src/accounts/member-number.ts';
import { translator } from '../../src/i18n/i18n.ts';
import type { Account } from '../../src/accounts/account.entity.ts';

/** Asserts an API error: status, stable code, and a message in the request's language. */
function expectError(res: UaResponse, status: number, code: string, locale: 'en' | 'ja' = 'en') {
  expect(res.status, res.text).to.equal(status);
  expect(res.json).to.have.keys('error', 'message');
  expect(res.json.error).to.equal(code);
  expect(res.json.message).to.equal(translator(locale)(`errors.${code}`));
}

/** One browser tab on the sign-in page of a fresh authorization request. */
interface Tab { ua: UserAgent; auth: Authorization }

/** A member with one passkey on `authenticator`. */
interface Member { account: Account; authenticator: SoftAuthenticator; credentialId: string; registration: RegistrationResponseJSON }

describe(`sign-in API: WebAuthn ceremonies (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  before(async () => {
    t = await startTobira();
    rp = await createRp(t);
  });
  after(async () => { await t?.close(); });

  async function tab(acceptLanguage?: string): Promise<Tab> {
    const ua = device(t, acceptLanguage);
    return { ua, auth: await authorize(ua, rp) };
  }
  const call = (s: Tab, path: string, body: unknown = {}) => api(s.ua, t, s.auth, path, body);

  /** Signs up on `s` up to the passkey step (email proven, account created). */
  async function signUpUntilPasskey(s: Tab, email = uniqueEmail()): Promise<Account> {
    expect((await call(s, '/signup/start', { email })).status).to.equal(200);
    const verified = await call(s, '/signup/verify', { code: await codeFromMail(t, email) });
    expect(verified.status, verified.text).to.equal(200);
    return (await t.container.accounts.findByEmail(email))!;
  }

  async function member(config: SoftAuthenticatorConfig = {}, edit?: (r: RegistrationResponseJSON) => void): Promise<Member> {
    const s = await tab();
    const account = await signUpUntilPasskey(s);
    const authenticator = createSoftAuthenticator(config);
    const options = await call(s, '/register/options');
    const registration = authenticator.register(options.json, t.url);
    edit?.(registration);
    const done = await call(s, '/register/verify', { response: registration });
    expect(done.status, done.text).to.equal(200);
    return { account, authenticator, credentialId: registration.id, registration };
  }

  async function assertion(s: Tab, m: Member, identifier?: string, overrides = {}): Promise<AuthenticationResponseJSON> {
    const options = await call(s, '/passkey/options', identifier ? { identifier } : {});
    expect(options.status, options.text).to.equal(200);
    return m.authenticator.authenticate(options.json, t.url, undefined, overrides);
  }

  const storedPasskey = async (m: Member) => (await t.container.passkeyRepository.findByCredentialId(m.credentialId))!;

  let alice: Member;
  before(async () => { alice = await member(); });

  describe('challenges', () => {
    it('are single use: replaying an accepted assertion is refused, on its finished sign-in and on another', async () => {
      const s = await tab();
      const response = await assertion(s, alice);
      expect((await call(s, '/passkey/verify', response)).status).to.equal(200);
      const other = await tab('ja');
      // The sign-in finished in that request (its interaction is used up).
      expectError(await call(s, '/passkey/verify', response), 404, 'interaction.not_found');
      expectError(await call(other, '/passkey/verify', response), 400, 'passkey.challenge_expired', 'ja');
    });

    it('are bound to the interaction that asked for them: verifying on another interaction is refused and leaves the first usable', async () => {
      const a = await tab();
      const b = await tab();
      const response = await assertion(a, alice);
      expectError(await call(b, '/passkey/verify', response), 400, 'passkey.challenge_expired');
      const onA = await call(a, '/passkey/verify', response);
      expect(onA.status, onA.text).to.equal(200);
      expect(onA.json.redirectTo).to.be.a('string');
    });

    it('live as long as the options say: timeout is ttl.challengeSeconds in milliseconds, for sign-in and registration', async () => {
      const s = await tab();
      const signIn = await call(s, '/passkey/options', {});
      expect(signIn.json.timeout).to.equal(t.config.ttl.challengeSeconds * 1000);
      expect(signIn.json.userVerification).to.equal('required');
      expect(signIn.headers.get('cache-control')).to.equal('no-store');
      const r = await tab();
      await signUpUntilPasskey(r);
      const registration = await call(r, '/register/options');
      expect(registration.json.timeout).to.equal(t.config.ttl.challengeSeconds * 1000);
      expect(registration.json.authenticatorSelection).to.include({ residentKey: 'required', userVerification: 'required' });
    });
  });

  describe('assertion checks', () => {
    it('requires user verification: an assertion without the UV flag answers passkey.verification_failed and records no use', async () => {
      const before = await storedPasskey(alice);
      const s = await tab('ja');
      const response = await assertion(s, alice, undefined, { flags: FLAGS.UP | FLAGS.BE | FLAGS.BS });
      expectError(await call(s, '/passkey/verify', response), 400, 'passkey.verification_failed', 'ja');
      const after = await storedPasskey(alice);
      expect(after.counter).to.equal(before.counter);
      expect(after.lastUsedAt?.getTime()).to.equal(before.lastUsedAt?.getTime());
    });

    const tampered: [string, object][] = [
      ['a clientDataJSON from another origin', { origin: 'https://evil.example' }],
      ['an rpIdHash of another RP ID', { rpId: 'evil.example' }],
      ['a bad signature', { badSignature: true }],
    ];
    for (const [what, overrides] of tampered) {
      it(`refuses ${what} with passkey.verification_failed`, async () => {
        const s = await tab();
        const response = await assertion(s, alice, undefined, overrides);
        expectError(await call(s, '/passkey/verify', response), 400, 'passkey.verification_failed');
      });
    }

    it('refuses a passkey Tobira does not know with passkey.unknown_credential', async () => {
      const stranger = createSoftAuthenticator();
      // A passkey created for this RP ID but never registered with Tobira.
      stranger.register({
        rp: { id: new URL(t.url).hostname, name: 'Tobira' }, user: { id: 'c3RyYW5nZXI', name: 'stranger', displayName: 'stranger' },
        challenge: 'c3RyYW5nZXI', pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
      }, t.url);
      for (const locale of ['en', 'ja'] as const) {
        const s = await tab(locale);
        const options = await call(s, '/passkey/options', {});
        const response = stranger.authenticate(options.json, t.url);
        const res = await call(s, '/passkey/verify', response);
        expect(res.status, res.text).to.equal(400);
        // The credential id comes back so the page can tell the password manager to forget it.
        expect(res.json).to.have.keys('error', 'message', 'credentialId');
        expect(res.json.error).to.equal('passkey.unknown_credential');
        expect(res.json.message).to.equal(translator(locale)('errors.passkey.unknown_credential'));
        expect(res.json.credentialId).to.equal(response.id);
      }
    });
  });

  describe('signature counters', () => {
    it('refuses an assertion whose moving counter went backwards (passkey.counter_regression) and keeps the stored counter', async () => {
      const m = await member({ counterMoves: true });
      for (let i = 0; i < 2; i++) {
        const s = await tab();
        expect((await call(s, '/passkey/verify', await assertion(s, m))).status).to.equal(200);
      }
      expect((await storedPasskey(m)).counter).to.equal(2);
      for (const counter of [1, 2]) {
        const s = await tab();
        const response = await assertion(s, m, undefined, { counter });
        expectError(await call(s, '/passkey/verify', response), 400, 'passkey.counter_regression');
      }
      expect((await storedPasskey(m)).counter).to.equal(2);
      // The audit trail: a success per accepted sign-in (written with the counter), a failure per refusal.
      const events: { type: string; account_id: string | null; ip: string | null; data: { method: string; acr?: string; code?: string } }[] = await t.container.ds.query(
        `SELECT type, account_id, ip, data FROM audit_events WHERE type LIKE 'signin.%' AND (account_id = $1 OR data->>'code' = 'passkey.counter_regression') ORDER BY id`,
        [m.account.id],
      );
      const successes = events.filter((e) => e.type === 'signin.success' && e.data.method === 'passkey');
      expect(successes.map((e) => [e.account_id, e.data.method, e.data.acr])).to.deep.equal([[m.account.id, 'passkey', 'phr'], [m.account.id, 'passkey', 'phr']]);
      expect(successes.every((e) => e.ip)).to.equal(true);
      expect(events.filter((e) => e.type === 'signin.failure').map((e) => e.data.code)).to.include('passkey.counter_regression');
    });

    it('keeps accepting an authenticator whose counter stays 0', async () => {
      const m = await member({ counterMoves: false });
      for (let i = 0; i < 3; i++) {
        const s = await tab();
        const verified = await call(s, '/passkey/verify', await assertion(s, m));
        expect(verified.status, verified.text).to.equal(200);
      }
      const stored = await storedPasskey(m);
      expect(stored.counter).to.equal(0);
      expect(stored.lastUsedAt).to.be.instanceOf(Date);
    });
  });

  describe('identifier-first', () => {
    it('refuses account B’s passkey answering options asked for account A', async () => {
      const bob = await member();
      const s = await tab();
      const options = await call(s, '/passkey/options', { identifier: alice.account.memberNumber });
      expect(options.json.allowCredentials.map((c: { id: string }) => c.id)).to.deep.equal([alice.credentialId]);
      const response = bob.authenticator.authenticate({ ...options.json, allowCredentials: undefined }, t.url);
      expectError(await call(s, '/passkey/verify', response), 400, 'passkey.verification_failed');
      // The same passkey signs bob in when nobody was named.
      const d = await tab();
      expect((await call(d, '/passkey/verify', await assertion(d, bob))).status).to.equal(200);
    });

    it('refuses a real passkey answering the decoy options of an unknown identifier', async () => {
      const s = await tab();
      const options = await call(s, '/passkey/options', { identifier: uniqueEmail('nobody') });
      const response = alice.authenticator.authenticate({ ...options.json, allowCredentials: undefined }, t.url);
      expectError(await call(s, '/passkey/verify', response), 400, 'passkey.verification_failed');
    });

    it('refuses an assertion whose user handle names another account', async () => {
      const bob = await member();
      const s = await tab();
      const response = await assertion(s, alice);
      response.response.userHandle = Buffer.from(bob.account.id).toString('base64url');
      expectError(await call(s, '/passkey/verify', response), 400, 'passkey.verification_failed');
    });

    it('keeps every reported transport and adds hybrid, so a phone nearby can answer', async () => {
      const m = await member({}, (r) => { r.response.transports = ['internal']; });
      expect((await storedPasskey(m)).transports).to.deep.equal(['internal']);
      const s = await tab();
      const options = await call(s, '/passkey/options', { identifier: m.account.email });
      expect(options.json.allowCredentials).to.have.length(1);
      expect(options.json.allowCredentials[0].transports).to.have.members(['internal', 'hybrid']);
    });

    it('answers an unknown member number or email exactly like an account with one passkey', async () => {
      const unknownNumber = generateMemberNumber();
      expect(await t.container.accounts.findByIdentifier(unknownNumber)).to.equal(null);
      const answers: Record<string, UaResponse> = {};
      for (const [label, identifier] of [
        ['real', alice.account.memberNumber], ['unknown number', unknownNumber], ['unknown email', uniqueEmail('nobody')],
      ]) {
        const s = await tab();
        answers[label] = await call(s, '/passkey/options', { identifier });
        expect(answers[label].status, answers[label].text).to.equal(200);
      }
      const real = answers.real.json;
      for (const label of ['unknown number', 'unknown email']) {
        const decoy = answers[label].json;
        expect(Object.keys(decoy), label).to.deep.equal(Object.keys(real));
        expect(decoy.allowCredentials, label).to.have.length(1);
        expect(Object.keys(decoy.allowCredentials[0]), label).to.deep.equal(Object.keys(real.allowCredentials[0]));
        expect(decoy.allowCredentials[0].type).to.equal(real.allowCredentials[0].type);
        expect(decoy.allowCredentials[0].transports).to.deep.equal(real.allowCredentials[0].transports);
        expect(decoy.allowCredentials[0].id).to.match(/^[A-Za-z0-9_-]+$/);
        expect(decoy.allowCredentials[0].id.length, label).to.equal(real.allowCredentials[0].id.length);
        for (const key of ['rpId', 'timeout', 'userVerification']) expect(decoy[key], key).to.deep.equal(real[key]);
        expect(answers[label].headers.get('content-type')).to.equal(answers.real.headers.get('content-type'));
      }
    });

    it('gives the same decoy for the same unknown identifier however it is typed, and different decoys for different ones', async () => {
      const unknownNumber = generateMemberNumber();
      const spaced = `${unknownNumber.slice(0, 4)} ${unknownNumber.slice(4, 8)}-${unknownNumber.slice(8)}`;
      const email = uniqueEmail('nobody');
      const decoyOf = async (identifier: string) => (await call(await tab(), '/passkey/options', { identifier })).json.allowCredentials[0].id as string;
      const first = await decoyOf(unknownNumber);
      expect(await decoyOf(unknownNumber)).to.equal(first);
      expect(await decoyOf(spaced)).to.equal(first);
      expect(await decoyOf(email)).to.equal(await decoyOf(` ${email.toUpperCase()} `));
      expect(await decoyOf(email)).to.not.equal(first);
    });

    it('answers an account without a passkey like an unknown one', async () => {
      const s = await tab();
      const account = await signUpUntilPasskey(s);
      const options = await call(await tab(), '/passkey/options', { identifier: account.memberNumber });
      expect(options.json.allowCredentials).to.have.length(1);
      expect(options.json.allowCredentials[0].id.length).to.equal(alice.credentialId.length);
    });
  });

  describe('registration', () => {
    it('refuses a credential id already registered to another account (409 passkey.already_registered) and writes nothing', async () => {
      const s = await tab('ja');
      const bob = await signUpUntilPasskey(s);
      const options = await call(s, '/register/options');
      // "none" attestation signs nothing over clientDataJSON: alice's attestation answers bob's challenge.
      const clientData = { type: 'webauthn.create', challenge: options.json.challenge, origin: t.url, crossOrigin: false };
      const replayed = { ...alice.registration, response: { ...alice.registration.response, clientDataJSON: Buffer.from(JSON.stringify(clientData)).toString('base64url') } };
      expectError(await call(s, '/register/verify', { response: replayed }), 409, 'passkey.already_registered', 'ja');
      expect(await t.container.passkeyRepository.listByAccount(bob.id)).to.have.length(0);
      expect((await storedPasskey(alice)).accountId).to.equal(alice.account.id);
      const rows = await t.container.ds.query('SELECT count(*)::int AS n FROM passkeys WHERE credential_id = $1', [alice.credentialId]);
      expect(rows[0].n).to.equal(1);
      // Nothing half-done: bob can still create a passkey of his own on the same interaction.
      const retry = await call(s, '/register/options');
      const own = createSoftAuthenticator().register(retry.json, t.url);
      const done = await call(s, '/register/verify', { response: own });
      expect(done.status, done.text).to.equal(200);
      expect(await t.container.passkeyRepository.listByAccount(bob.id)).to.have.length(1);
    });

    const badRegistrations: [string, object][] = [
      ['without user verification', { flags: FLAGS.UP | FLAGS.AT }],
      ['from another origin', { origin: 'https://evil.example' }],
      ['for another RP ID', { rpId: 'evil.example' }],
    ];
    for (const [what, overrides] of badRegistrations) {
      it(`refuses a registration ${what} with passkey.verification_failed and writes nothing`, async () => {
        const s = await tab();
        const account = await signUpUntilPasskey(s);
        const options = await call(s, '/register/options');
        const response = createSoftAuthenticator().register(options.json, t.url, overrides);
        expectError(await call(s, '/register/verify', { response }), 400, 'passkey.verification_failed');
        expect(await t.container.passkeyRepository.listByAccount(account.id)).to.have.length(0);
      });
    }

    it('refuses a registration answering another interaction’s challenge', async () => {
      const a = await tab();
      const b = await tab();
      await signUpUntilPasskey(a);
      const account = await signUpUntilPasskey(b);
      const options = await call(a, '/register/options');
      const response = createSoftAuthenticator().register(options.json, t.url);
      expectError(await call(b, '/register/verify', { response }), 400, 'passkey.challenge_expired');
      expect(await t.container.passkeyRepository.listByAccount(account.id)).to.have.length(0);
    });
  });
});
