import type { Account } from '../accounts/account.entity.ts';
import type { MailMessage } from '../mail/mailer.ts';
import { isLocale, type Locale } from '../i18n/i18n.ts';
import type { RegisteredPasskey } from './passkey-service.ts';

/** A date as a member reads it in an email (UTC, and it says so). */
export function mailDate(date: Date, locale: Locale): string {
  return date.toLocaleString(locale === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'UTC', timeZoneName: 'short' });
}

/** The member's language for email: their saved choice, else the request's. */
export function mailLocaleOf(account: Account, fallback: Locale): Locale {
  return isLocale(account.locale) ? account.locale : fallback;
}

/**
 * The "passkey registered" email of any registration path (settings, another device, recovery,
 * sign-up invitation). When this registration retired the account's password, the email says so.
 */
export function passkeyRegisteredMail(account: Account, passkey: RegisteredPasskey, fallback: Locale): MailMessage {
  const locale = mailLocaleOf(account, fallback);
  return {
    to: account.email,
    locale,
    template: passkey.passwordRetired ? 'account.mail.passkey_registered_password_off' : 'account.mail.passkey_registered',
    params: { name: passkey.name, date: mailDate(passkey.createdAt, locale) },
  };
}
