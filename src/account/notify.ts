import type { Context } from 'koa';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import type { AuditLog, AuditType } from '../audit/audit-log.ts';
import type { Mailer } from '../mail/mailer.ts';
import { mailDate, mailLocaleOf } from '../passkeys/registered-mail.ts';
import type { Locale } from '../i18n/i18n.ts';

/** The client id of the account area: audit events say the change came from there. */
export const accountClientId = 'tobira-account';

/** Emails of the account area (section `account.mail`). */
export type AccountMail =
  | 'passkey_renamed' | 'passkey_removed' | 'totp_enabled' | 'totp_disabled' | 'phone_verified' | 'phone_removed';

/** One change to record: its audit event and, when the member is told by email, which one. */
export interface AccountChange {
  type: AuditType;
  data?: Record<string, unknown>;
  mail?: { template: AccountMail; params?: Record<string, string> };
}

/** Records changes to an account: audit log (awaited) and an email to the member (in the background). */
export interface Notifier {
  changed(ctx: Context, account: Account, change: AccountChange): Promise<void>;
}

/** Builds the notifier. */
export function createNotifier(deps: { audit: AuditLog; mailer: Mailer; logger: Logger }): Notifier {
  const { audit, mailer } = deps;
  return {
    async changed(ctx, account, change) {
      await audit.record({
        type: change.type, accountId: account.id, actorId: account.id, clientId: accountClientId,
        ip: ctx.ip, userAgent: ctx.get('user-agent'), data: change.data,
      });
      if (!change.mail) return;
      const locale = mailLocaleOf(account, ctx.state.locale as Locale);
      const log: Logger = ctx.state.log ?? deps.logger;
      mailer.send({
        to: account.email, locale, template: `account.mail.${change.mail.template}`,
        params: { date: mailDate(new Date(), locale), ...change.mail.params },
      }).catch((err) => log.error({ err, template: change.mail?.template }, 'account mail failed'));
    },
  };
}
