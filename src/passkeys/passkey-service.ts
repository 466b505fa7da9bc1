import { randomUUID, createHmac } from 'node:crypto';
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type AuthenticatorTransport,
} from '@simplewebauthn/server';
import type { Account } from '../accounts/account.entity.ts';
import type { AccountService } from '../accounts/account-service.ts';
import { isUniqueViolation, normalizeEmail } from '../accounts/account-service.ts';
import { parseMemberNumber } from '../accounts/member-number.ts';
import { AppError } from '../http/errors.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import type { ChallengeStore } from './challenge-store.ts';
import type { PasskeyRepository } from './passkey-repository.ts';
import type { Passkey } from './passkey.entity.ts';
import { providerName } from './provider-names.ts';
import type { PasswordRetirement, RequestMeta } from './password-retirement.ts';
import type { AuthenticationResponse, RegistrationResponse } from './schemas.ts';

/** An id no account has: listing its passkeys costs the same query and finds none. */
const noAccount = '00000000-0000-0000-0000-000000000000';

/** What a member typed, as one canonical string: a member number's digits, or the email in lower case. */
function canonicalIdentifier(identifier: string): string {
  return parseMemberNumber(identifier) ?? normalizeEmail(identifier);
}

/**
 * The transports a passkey is offered with: every one the authenticator reported plus hybrid,
 * so a phone nearby can always answer (cross-device); sorted, as browsers report them, so that a
 * decoy cannot be told apart by their order.
 */
function offeredTransports(reported: string[]): AuthenticatorTransport[] {
  return [...new Set([...reported, 'hybrid'])].sort() as AuthenticatorTransport[];
}

/** ES256, Ed25519, RS256: what browsers and password managers create. */
const supportedAlgorithmIDs = [-7, -8, -257];

/** Settings of the WebAuthn relying party. */
export interface RelyingParty {
  name: string;
  id: string;
  origins: string[];
  timeoutMs: number;
  /** Secret for deterministic decoy credential ids (identifier-first with unknown accounts). */
  decoySecret: string;
}

/** A passkey just registered; `passwordRetired` when this registration turned the account's password off. */
export type RegisteredPasskey = Passkey & { passwordRetired: boolean };

/** What a verified sign-in yields. */
export interface PasskeySignIn { account: Account; passkey: Passkey }

/** A sign-in challenge taken from the store, with what was kept with it. */
export interface TakenChallenge { challenge: string; data: { accountId?: string | null } }

/** WebAuthn ceremonies: sign-in (three paths) and registration. */
export interface PasskeyService {
  /**
   * Options for a sign-in bound to `binding`. Without an identifier: a discoverable-credential
   * request (autofill and the button). With one: that account's passkeys, or, for an unknown
   * identifier, decoy credentials of the same shape so the answer never reveals existence.
   */
  authenticationOptions(binding: string, identifier?: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /**
   * Takes (single use) the sign-in challenge `response` answers, bound to `binding`; throws
   * passkey.challenge_expired when it is unknown, expired or used. A caller that must check
   * something else first takes it alongside that check (one round trip to the store for both).
   */
  takeAuthenticationChallenge(binding: string, response: AuthenticationResponse): Promise<TakenChallenge>;
  /**
   * Verifies a sign-in assertion; takes its challenge first unless `taken` is given. With
   * `success`, that audit event is appended for the passkey's account in the statement that
   * records the use.
   */
  verifyAuthentication(binding: string, response: AuthenticationResponse, options?: { taken?: TakenChallenge; success?: Omit<AuditEvent, 'accountId'> }): Promise<PasskeySignIn>;
  registrationOptions(binding: string, account: Account): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /**
   * Verifies and stores a new passkey. Every registration path goes through here, so this is
   * where password retirement happens: the account's password is turned off when it was on
   * (audit `password.disabled`, `meta` says where from).
   */
  verifyRegistration(binding: string, account: Account, response: RegistrationResponse, name?: string, meta?: RequestMeta): Promise<RegisteredPasskey>;
}

/** Builds the passkey service. */
export function createPasskeyService(deps: {
  rp: RelyingParty; challenges: ChallengeStore; passkeys: PasskeyRepository; accounts: AccountService;
  passwordRetirement: PasswordRetirement;
}): PasskeyService {
  const { rp, challenges, passkeys, accounts, passwordRetirement } = deps;

  /**
   * One decoy credential for an identifier that names no usable account: derived from the
   * identifier's canonical form (so "1234 5678-90" and "1234567890", or any letter case of an
   * email, get the same one), 32 bytes (a common credential id length, e.g. Windows Hello's),
   * and with the transports a real passkey is offered with.
   */
  function decoyCredentials(identifier: string) {
    const id = createHmac('sha256', rp.decoySecret).update(canonicalIdentifier(identifier)).digest();
    return [{ id: id.toString('base64url'), transports: offeredTransports(['internal']) }];
  }

  function takeAuthenticationChallenge(binding: string, response: AuthenticationResponse): Promise<TakenChallenge> {
    return challenges.take<TakenChallenge['data']>('auth', binding, response.response.clientDataJSON);
  }

  return {
    async authenticationOptions(binding, identifier) {
      let allowCredentials: { id: string; transports?: AuthenticatorTransport[] }[] | undefined;
      let accountId: string | null | undefined;
      if (identifier !== undefined) {
        const account = await accounts.findByIdentifier(identifier);
        // The same queries either way, so the answer takes about as long for an unknown identifier.
        const keys = await passkeys.listByAccount(account && !account.disabledAt ? account.id : noAccount);
        accountId = keys.length ? account!.id : null;
        allowCredentials = keys.length
          ? keys.map((k) => ({ id: k.credentialId, transports: offeredTransports(k.transports) }))
          : decoyCredentials(identifier);
      }
      const options = await generateAuthenticationOptions({
        rpID: rp.id, userVerification: 'required', timeout: rp.timeoutMs, allowCredentials,
      });
      await challenges.put('auth', binding, options.challenge, { accountId });
      return options;
    },

    takeAuthenticationChallenge,

    async verifyAuthentication(binding, response, options = {}) {
      const { challenge, data } = options.taken ?? await takeAuthenticationChallenge(binding, response);
      const found = await passkeys.findWithAccount(response.id);
      if (!found) throw new AppError('passkey.unknown_credential', { credentialId: response.id });
      const { passkey, account } = found;
      if (data.accountId !== undefined && data.accountId !== passkey.accountId) throw new AppError('passkey.verification_failed');
      if (response.response.userHandle) {
        const handle = Buffer.from(response.response.userHandle, 'base64url').toString('utf8');
        if (handle !== passkey.accountId) throw new AppError('passkey.verification_failed');
      }
      let verification;
      try {
        verification = await verifyAuthenticationResponse({
          response: response as Parameters<typeof verifyAuthenticationResponse>[0]['response'],
          expectedChallenge: challenge,
          expectedOrigin: rp.origins,
          expectedRPID: rp.id,
          requireUserVerification: true,
          credential: {
            id: passkey.credentialId,
            publicKey: new Uint8Array(passkey.publicKey),
            counter: passkey.counter,
            transports: passkey.transports as AuthenticatorTransport[],
          },
        });
      } catch (error) {
        const counter = /counter value/i.test((error as Error).message);
        throw new AppError(counter ? 'passkey.counter_regression' : 'passkey.verification_failed', {}, error);
      }
      if (!verification.verified) throw new AppError('passkey.verification_failed');
      const { newCounter } = verification.authenticationInfo;
      if (!account) throw new AppError('passkey.unknown_credential');
      if (account.disabledAt) throw new AppError('account.disabled');
      if (!(await passkeys.recordUse(passkey.id, newCounter, options.success))) throw new AppError('passkey.counter_regression');
      return { account, passkey: { ...passkey, counter: newCounter, lastUsedAt: new Date() } };
    },

    async registrationOptions(binding, account) {
      const existing = await passkeys.listByAccount(account.id);
      const options = await generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: account.memberNumber,
        userDisplayName: account.name ? `${account.name} (${account.memberNumber})` : account.email,
        userID: new TextEncoder().encode(account.id),
        timeout: rp.timeoutMs,
        attestationType: 'none',
        excludeCredentials: existing.map((k) => ({ id: k.credentialId, transports: k.transports as AuthenticatorTransport[] })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        supportedAlgorithmIDs,
      });
      await challenges.put('reg', binding, options.challenge, { accountId: account.id });
      return options;
    },

    async verifyRegistration(binding, account, response, name, meta) {
      const { challenge, data } = await challenges.take<{ accountId: string }>('reg', binding, response.response.clientDataJSON);
      if (data.accountId !== account.id) throw new AppError('passkey.verification_failed');
      let verification;
      try {
        verification = await verifyRegistrationResponse({
          response: response as Parameters<typeof verifyRegistrationResponse>[0]['response'],
          expectedChallenge: challenge,
          expectedOrigin: rp.origins,
          expectedRPID: rp.id,
          requireUserVerification: true,
          supportedAlgorithmIDs,
        });
      } catch (error) {
        throw new AppError('passkey.verification_failed', {}, error);
      }
      if (!verification.verified || !verification.registrationInfo) throw new AppError('passkey.verification_failed');
      const info = verification.registrationInfo;
      const passkey: Passkey = {
        id: randomUUID(),
        accountId: account.id,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey),
        counter: info.credential.counter,
        transports: response.response.transports ?? [],
        aaguid: info.aaguid,
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        name: name?.trim().slice(0, 100) || providerName(info.aaguid) || 'Passkey',
        createdAt: new Date(),
        lastUsedAt: null,
      };
      try {
        await passkeys.insert(passkey);
      } catch (error) {
        if (isUniqueViolation(error, 'credential_id')) throw new AppError('passkey.already_registered');
        throw error;
      }
      const passwordRetired = await passwordRetirement.afterRegistration(account.id, passkey.id, meta);
      return { ...passkey, passwordRetired };
    },
  };
}
