import type { Logger } from 'pino';
import type { AccountService } from '../accounts/account-service.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { CodeStore } from '../verification/code-store.ts';
import type { Locale } from '../i18n/i18n.ts';
import type { Account } from '../accounts/account.entity.ts';
import { AppError } from '../http/errors.ts';

/** Sign-in with a one-time code sent to the account's verified email. */
export interface EmailCodeSignIn {
  /**
   * Sends a code when `identifier` names an active account with a verified email. The answer is
   * the same either way, and the mail is sent in the background so the timing is too.
   */
  start(binding: string, identifier: string, locale: Locale): Promise<void>;
  /** Returns the account the code was sent for. */
  verify(binding: string, code: string): Promise<Account>;
}

/** Builds the email-code sign-in. */
export function createEmailCodeSignIn(deps: {
  accounts: AccountService; codes: CodeStore; mailer: Mailer; codeMinutes: number; logger: Logger;
}): EmailCodeSignIn {
  const { accounts, codes, mailer, codeMinutes, logger } = deps;
  return {
    async start(binding, identifier, locale) {
      const account = await accounts.findByIdentifier(identifier);
      const usable = account && account.emailVerified && !account.disabledAt ? account : null;
      const code = await codes.issue('signin', binding, { accountId: usable?.id ?? null });
      if (usable) {
        mailer.send({ to: usable.email, locale: (usable.locale as Locale) ?? locale, template: 'signin_code', code, params: { minutes: codeMinutes } })
          .catch((err) => logger.error({ err }, 'sign-in code mail failed'));
      }
    },
    async verify(binding, code) {
      const { accountId } = await codes.verify<{ accountId: string | null }>('signin', binding, code);
      const account = accountId ? await accounts.findById(accountId) : null;
      if (!account) throw new AppError('code.invalid', { remaining: 0 });
      if (account.disabledAt) throw new AppError('account.disabled');
      return account;
    },
  };
}
