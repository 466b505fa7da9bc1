import type { Logger } from 'pino';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Account } from '../accounts/account.entity.ts';
import { normalizeEmail } from '../accounts/account-service.ts';
import type { PasskeyService } from '../passkeys/passkey-service.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import type { AuthenticationResponse } from '../passkeys/schemas.ts';
import type { TotpService } from '../verification/totp.ts';
import type { CodeStore } from '../verification/code-store.ts';
import type { Mailer } from '../mail/mailer.ts';
import { maskPhone, type SmsSender } from '../sms/sms-sender.ts';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import { translator, type Locale } from '../i18n/i18n.ts';

/** Ways a member proves it is them again before a change (step-up). */
export type StepUpMethod = 'passkey' | 'totp' | 'sms' | 'email';

/** What the step-up is for: registering a passkey (the SMS policy may apply) or any other change. */
export type StepUpPurpose = 'register' | 'manage';

/** The answer to starting one method. */
export interface StepUpStart {
  method: StepUpMethod;
  /** passkey: the authentication options (allowCredentials: this account's passkeys). */
  options?: PublicKeyCredentialRequestOptionsJSON;
  /** sms, email: where the code went, masked (`+81••••••5678`, `a•••@example.com`). */
  sentTo?: string;
  /** sms, email: the code's lifetime. */
  expiresInMinutes?: number;
}

/** What the member sends to complete one method. */
export interface StepUpInput { response?: AuthenticationResponse; code?: string }

/**
 * Step-up (PRODUCT.md, "Add a passkey"): which methods an account must complete before a change,
 * and the methods themselves. Completed step-ups are recorded by the caller, bound to its own
 * session (see `step-up-marks.ts`).
 */
export interface StepUpService {
  /**
   * Methods this account must complete, in order, for `purpose`: password disabled → passkey
   * (email code when the account has no passkey either); password enabled → TOTP, else SMS to the
   * verified phone, else email code. For `register`, an SMS code comes first when the
   * deployment's policy (`stepUp.smsBeforeRegistration`) applies to the account's verified phone.
   */
  required(account: Account, purpose: StepUpPurpose): Promise<StepUpMethod[]>;
  /**
   * Starts one method bound to `binding` (a session id, a link id): passkey → authentication
   * options; sms/email → sends a code (rate-limited per destination); totp → nothing to send.
   * Throws step_up.wrong_method when the account cannot use `method`.
   */
  start(binding: string, account: Account, method: StepUpMethod, locale: Locale): Promise<StepUpStart>;
  /** Verifies one method; throws AppError (passkey.*, code.*, rate_limited) on failure. */
  verify(binding: string, account: Account, method: StepUpMethod, input: StepUpInput): Promise<void>;
}

/** Dependencies of the step-up service. */
export interface StepUpDeps {
  passkeys: PasskeyService;
  passkeyRepository: PasskeyRepository;
  totp: TotpService;
  codes: CodeStore;
  mailer: Mailer;
  sms: SmsSender;
  /** `off`, `all` or a country calling code such as `+81` (config `stepUp.smsBeforeRegistration`). */
  smsBeforeRegistration: string;
  codeMinutes: number;
  limits: {
    /** Code sends per destination (shared with sign-in codes: the same budget per address). */
    codeSendPerTarget: RateLimiterAbstract;
    /** TOTP guesses per account. */
    totpAttempts: RateLimiterAbstract;
  };
  logger: Logger;
}

/** True when the deployment's SMS policy applies to this account (a verified phone it covers). */
export function smsPolicyApplies(policy: string, account: Pick<Account, 'phone' | 'phoneVerified'>): boolean {
  if (policy === 'off' || !account.phone || !account.phoneVerified) return false;
  return policy === 'all' || account.phone.startsWith(policy);
}

/** `a•••@example.com`: enough for the member to recognise their address. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '•••';
  return `${email[0]}•••${email.slice(at)}`;
}

/**
 * Counts one guess at a code checked without a code store (TOTP) before checking it, so that
 * parallel guesses get no extra tries; returns the guesses left after this one, or throws
 * code.too_many_attempts when none were left.
 */
export async function countGuess(limiter: RateLimiterAbstract, key: string): Promise<number> {
  try {
    return (await limiter.consume(key)).remainingPoints;
  } catch (rejection) {
    if (rejection instanceof Error) throw rejection;
    throw new AppError('code.too_many_attempts');
  }
}

/** Builds the step-up service. */
export function createStepUpService(deps: StepUpDeps): StepUpService {
  const { passkeys, passkeyRepository, totp, codes, mailer, sms, codeMinutes, limits } = deps;
  const challengeBinding = (binding: string) => `step-up:${binding}`;
  const localeOf = (account: Account, fallback: Locale): Locale => (account.locale === 'en' || account.locale === 'ja' ? account.locale : fallback);
  const hasVerifiedPhone = (account: Account) => Boolean(account.phone && account.phoneVerified);

  async function baseMethod(account: Account): Promise<StepUpMethod> {
    if (!account.passwordEnabled) {
      const keys = await passkeyRepository.listByAccount(account.id);
      return keys.length > 0 ? 'passkey' : 'email';
    }
    if (await totp.isEnabled(account.id)) return 'totp';
    return hasVerifiedPhone(account) ? 'sms' : 'email';
  }

  async function usable(account: Account, method: StepUpMethod): Promise<boolean> {
    switch (method) {
      case 'passkey': return (await passkeyRepository.listByAccount(account.id)).length > 0;
      case 'totp': return totp.isEnabled(account.id);
      case 'sms': return hasVerifiedPhone(account);
      case 'email': return true;
    }
  }

  async function sendSms(account: Account, binding: string, locale: Locale): Promise<StepUpStart> {
    const phone = account.phone!;
    await consumeOrThrow(limits.codeSendPerTarget, phone);
    const code = await codes.issue('step_up_sms', binding, { accountId: account.id });
    try {
      await sms.send({ to: phone, text: translator(locale)('account.sms.step_up', { code, minutes: codeMinutes }) });
    } catch (error) {
      throw new AppError('service.unavailable', {}, error);
    }
    return { method: 'sms', sentTo: maskPhone(phone), expiresInMinutes: codeMinutes };
  }

  async function sendEmail(account: Account, binding: string, locale: Locale): Promise<StepUpStart> {
    await consumeOrThrow(limits.codeSendPerTarget, normalizeEmail(account.email));
    const code = await codes.issue('step_up_email', binding, { accountId: account.id });
    try {
      await mailer.send({ to: account.email, locale, template: 'account.mail.step_up_code', code, params: { minutes: codeMinutes } });
    } catch (error) {
      throw new AppError('service.unavailable', {}, error);
    }
    return { method: 'email', sentTo: maskEmail(account.email), expiresInMinutes: codeMinutes };
  }

  async function verifyCode(purpose: 'step_up_sms' | 'step_up_email', binding: string, account: Account, code: string | undefined) {
    if (!code) throw new AppError('request.invalid', { detail: 'code: required' });
    const { accountId } = await codes.verify<{ accountId: string }>(purpose, binding, code);
    // A code issued under this binding for another account (the binding changed hands) proves nothing.
    if (accountId !== account.id) throw new AppError('code.invalid', { remaining: 0 });
  }

  async function verifyTotp(account: Account, code: string | undefined) {
    if (!code) throw new AppError('request.invalid', { detail: 'code: required' });
    const remaining = await countGuess(limits.totpAttempts, account.id);
    if (!(await totp.verify(account.id, code))) {
      if (remaining <= 0) throw new AppError('code.too_many_attempts');
      throw new AppError('code.invalid', { remaining });
    }
  }

  return {
    async required(account, purpose) {
      const base = await baseMethod(account);
      const policy = purpose === 'register' && smsPolicyApplies(deps.smsBeforeRegistration, account);
      return policy && base !== 'sms' ? ['sms', base] : [base];
    },

    async start(binding, account, method, fallbackLocale) {
      if (!(await usable(account, method))) throw new AppError('step_up.wrong_method');
      const locale = localeOf(account, fallbackLocale);
      switch (method) {
        case 'passkey':
          return { method, options: await passkeys.authenticationOptions(challengeBinding(binding), account.memberNumber) };
        case 'totp':
          return { method };
        case 'sms':
          return sendSms(account, binding, locale);
        case 'email':
          return sendEmail(account, binding, locale);
      }
    },

    async verify(binding, account, method, input) {
      if (!(await usable(account, method))) throw new AppError('step_up.wrong_method');
      switch (method) {
        case 'passkey': {
          if (!input.response) throw new AppError('request.invalid', { detail: 'response: required' });
          const { account: owner } = await passkeys.verifyAuthentication(challengeBinding(binding), input.response);
          if (owner.id !== account.id) throw new AppError('passkey.verification_failed');
          return;
        }
        case 'totp':
          return verifyTotp(account, input.code);
        case 'sms':
          return verifyCode('step_up_sms', binding, account, input.code);
        case 'email':
          return verifyCode('step_up_email', binding, account, input.code);
      }
    },
  };
}
