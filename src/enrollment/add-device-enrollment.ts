import { randomBytes } from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { KeyValueStore } from '../store/store.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { AccountService } from '../accounts/account-service.ts';
import { normalizeEmail } from '../accounts/account-service.ts';
import type { PasskeyService, RegisteredPasskey } from '../passkeys/passkey-service.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import type { RegistrationResponse } from '../passkeys/schemas.ts';
import type { StepUpInput, StepUpMethod, StepUpService, StepUpStart } from '../account/step-up.ts';
import type { RequestMeta } from '../passkeys/password-retirement.ts';
import type { Locale } from '../i18n/i18n.ts';
import { AppError } from '../http/errors.ts';
import type { AddDeviceLink } from './add-device-links.ts';

/**
 * A registration in progress on the device that opened an add-device link: bound to that
 * device by a cookie holding its id, to the account and to the link it came from.
 */
export interface EnrollmentSession {
  id: string;
  linkId: string;
  channel: AddDeviceLink['channel'];
  accountId: string;
  /** The account's email when the link was made: a change stops the enrollment too. */
  email: string;
  /** Step-up methods completed in this session, in order. */
  passed: StepUpMethod[];
  /** Milliseconds since the epoch: the session's lifetime runs from its start, steps do not extend it. */
  expiresAt: number;
}

/** What the enrollment page needs to know. */
export interface EnrollmentView {
  account: Account;
  /** The step-up methods this account must complete here, in order. */
  required: StepUpMethod[];
  passed: StepUpMethod[];
  /** The next step-up method, or `register` once they are all done. */
  next: StepUpMethod | 'register';
  /** True when the account has no passkey yet and still a password (it is turned off on registration). */
  firstPasskeyRetiresPassword: boolean;
}

/**
 * The enrollment on the other device: the same step-up rules as on the settings page, for the
 * link's account, and only then a WebAuthn registration on this device. Every step checks that
 * the account is still enabled and has the same email as when the link was made.
 */
export interface AddDeviceEnrollment {
  /** Starts a session after the link was used; returns its id (for the cookie). */
  begin(link: AddDeviceLink): Promise<string>;
  /** The session's state; throws enroll.session_expired when it is gone or no longer valid. */
  view(sessionId: string): Promise<EnrollmentView>;
  startStepUp(sessionId: string, method: StepUpMethod, locale: Locale): Promise<StepUpStart>;
  verifyStepUp(sessionId: string, method: StepUpMethod, input: StepUpInput): Promise<EnrollmentView>;
  registrationOptions(sessionId: string): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Registers the passkey and ends the session (a link adds one passkey). */
  register(sessionId: string, response: RegistrationResponse, name: string | undefined, meta: RequestMeta): Promise<{ account: Account; session: EnrollmentSession; passkey: RegisteredPasskey }>;
  end(sessionId: string): Promise<void>;
}

/** Builds the enrollment on the key-value store. */
export function createAddDeviceEnrollment(deps: {
  store: KeyValueStore; accounts: AccountService; passkeys: PasskeyService; passkeyRepository: PasskeyRepository;
  stepUp: StepUpService; ttlSeconds: number;
}): AddDeviceEnrollment {
  const { store, accounts, passkeys, passkeyRepository, stepUp, ttlSeconds } = deps;
  const key = (id: string) => `adddev:session:${id}`;
  const binding = (id: string) => `enroll:${id}`;

  async function load(sessionId: string): Promise<{ session: EnrollmentSession; account: Account }> {
    const raw = /^[A-Za-z0-9_-]{32}$/.test(sessionId) ? await store.get(key(sessionId)) : null;
    if (!raw) throw new AppError('enroll.session_expired');
    const session = { ...(JSON.parse(raw) as Omit<EnrollmentSession, 'id'>), id: sessionId };
    const account = await accounts.findById(session.accountId);
    if (!account || account.disabledAt || normalizeEmail(account.email) !== session.email) {
      await store.del(key(sessionId));
      throw new AppError('enroll.session_expired');
    }
    return { session, account };
  }

  async function save(session: EnrollmentSession): Promise<void> {
    const { id, ...rest } = session;
    await store.set(key(id), JSON.stringify(rest), Math.max(1, Math.ceil((session.expiresAt - Date.now()) / 1000)));
  }

  async function viewOf(session: EnrollmentSession, account: Account): Promise<EnrollmentView> {
    const required = await stepUp.required(account, 'register');
    const next = required.find((m) => !session.passed.includes(m)) ?? 'register';
    const firstPasskeyRetiresPassword = account.passwordEnabled && (await passkeyRepository.listByAccount(account.id)).length === 0;
    return { account, required, passed: session.passed, next, firstPasskeyRetiresPassword };
  }

  /** The next method must be the one asked for: step-ups are done in order, none skipped. */
  async function expectNext(session: EnrollmentSession, account: Account, method: StepUpMethod): Promise<void> {
    const view = await viewOf(session, account);
    if (view.next !== method) throw new AppError(view.next === 'register' ? 'enroll.wrong_step' : 'step_up.wrong_method');
  }

  return {
    async begin(link) {
      const id = randomBytes(24).toString('base64url');
      await save({ id, linkId: link.id, channel: link.channel, accountId: link.accountId, email: link.email, passed: [], expiresAt: Date.now() + ttlSeconds * 1000 });
      return id;
    },

    async view(sessionId) {
      const { session, account } = await load(sessionId);
      return viewOf(session, account);
    },

    async startStepUp(sessionId, method, locale) {
      const { session, account } = await load(sessionId);
      await expectNext(session, account, method);
      return stepUp.start(binding(sessionId), account, method, locale);
    },

    async verifyStepUp(sessionId, method, input) {
      const { session, account } = await load(sessionId);
      await expectNext(session, account, method);
      await stepUp.verify(binding(sessionId), account, method, input);
      session.passed = [...session.passed, method];
      await save(session);
      return viewOf(session, account);
    },

    async registrationOptions(sessionId) {
      const { session, account } = await load(sessionId);
      if ((await viewOf(session, account)).next !== 'register') throw new AppError('step_up.required');
      return passkeys.registrationOptions(binding(sessionId), account);
    },

    async register(sessionId, response, name, meta) {
      const { session, account } = await load(sessionId);
      if ((await viewOf(session, account)).next !== 'register') throw new AppError('step_up.required');
      const passkey = await passkeys.verifyRegistration(binding(sessionId), account, response, name, meta);
      await store.del(key(sessionId));
      return { account, session, passkey };
    },

    async end(sessionId) {
      await store.del(key(sessionId));
    },
  };
}
