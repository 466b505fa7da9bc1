import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.ts';
import { isUniqueViolation } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { CodeStore } from '../verification/code-store.ts';
import type { Locale } from '../i18n/i18n.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../http/errors.ts';

type SignupPayload = { kind: 'new'; email: string; name: string | null; locale: Locale } | { kind: 'existing'; accountId: string };

/** Sign-up: email, verification code, account with a new member number, welcome email. */
export interface Signup {
  /**
   * Sends a verification code to `email`. When the email already has an account, the mail says
   * so and the code signs in to it instead: the page's answer never reveals which.
   */
  start(binding: string, input: { email: string; name?: string }, locale: Locale): Promise<void>;
  /** Verifies the code; creates the account (or finds the existing one). */
  verify(binding: string, code: string, context: { ip?: string; userAgent?: string; clientId?: string }): Promise<{ account: Account; created: boolean }>;
}

/** Builds the sign-up flow. */
export function createSignup(deps: {
  accounts: AccountService; codes: CodeStore; mailer: Mailer; audit: AuditLog; codeMinutes: number; logger: Logger;
}): Signup {
  const { accounts, codes, mailer, audit, codeMinutes, logger } = deps;
  const sendInBackground = (p: Promise<void>) => p.catch((err) => logger.error({ err }, 'sign-up mail failed'));

  return {
    async start(binding, input, locale) {
      const existing = await accounts.findByEmail(input.email);
      if (existing) {
        const code = await codes.issue<SignupPayload>('signup', binding, { kind: 'existing', accountId: existing.id });
        sendInBackground(mailer.send({ to: existing.email, locale: (existing.locale as Locale) ?? locale, template: 'signup_existing', code, params: { minutes: codeMinutes, memberNumber: existing.memberNumber } }));
        return;
      }
      const code = await codes.issue<SignupPayload>('signup', binding, { kind: 'new', email: input.email, name: input.name ?? null, locale });
      sendInBackground(mailer.send({ to: input.email, locale, template: 'signup_code', code, params: { minutes: codeMinutes } }));
    },
    async verify(binding, code, context) {
      const payload = await codes.verify<SignupPayload>('signup', binding, code);
      if (payload.kind === 'existing') {
        const account = await accounts.findById(payload.accountId);
        if (!account) throw new AppError('code.expired');
        if (account.disabledAt) throw new AppError('account.disabled');
        return { account, created: false };
      }
      let account: Account;
      try {
        account = await accounts.create({ email: payload.email, name: payload.name, locale: payload.locale, emailVerified: true });
      } catch (error) {
        // Two sign-ups for one email raced: the second proves the same email, so it signs in.
        if (!isUniqueViolation(error, 'email')) throw error;
        const existing = await accounts.findByEmail(payload.email);
        if (!existing) throw error;
        return { account: existing, created: false };
      }
      await audit.record({ type: 'signup', accountId: account.id, clientId: context.clientId, ip: context.ip, userAgent: context.userAgent });
      sendInBackground(mailer.send({ to: account.email, locale: payload.locale, template: 'welcome', params: { memberNumber: account.memberNumber } }));
      return { account, created: true };
    },
  };
}
