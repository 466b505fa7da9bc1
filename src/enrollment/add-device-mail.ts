import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { RegisteredPasskey } from '../passkeys/passkey-service.ts';
import { passkeyRegisteredMail } from '../passkeys/registered-mail.ts';
import type { Locale } from '../i18n/i18n.ts';

/** What sending the "passkey registered" email needs. */
export interface RegisteredMailDeps { mailer: Mailer }

/**
 * Sends the "passkey registered" email (it says so when the password was turned off) in the
 * background: a mail failure is logged; the passkey is registered either way.
 */
export function sendPasskeyRegisteredMail(deps: RegisteredMailDeps, account: Account, passkey: RegisteredPasskey, fallback: Locale, log?: Logger): void {
  deps.mailer.send(passkeyRegisteredMail(account, passkey, fallback))
    .catch((err) => log?.error({ err }, 'passkey-registered mail failed'));
}
