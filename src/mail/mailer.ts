import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Eta } from 'eta';
import { translator, type Locale } from '../i18n/i18n.ts';

/**
 * Which email: a name under `mail.` in the main catalog (`'welcome'`), or the full path of a
 * section's mail (`'account.mail.passkey_removed'`). Each has `subject` and `body` (paragraphs).
 */
export type MailTemplate = 'signin_code' | 'signup_code' | 'signup_existing' | 'welcome' | 'passkey_registered' | `${string}.mail.${string}`;

/** One email to send: a template, its parameters and the recipient's language. */
export interface MailMessage {
  to: string;
  locale: Locale;
  template: MailTemplate;
  params?: Record<string, string | number>;
  /** A one-time code shown prominently (never logged). */
  code?: string;
  /** A call to action. */
  link?: { url: string; labelKey: string };
}

/** Sends localized emails. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/**
 * SMTP when SMTP_URL is set; otherwise (development) each mail is written to
 * DATA_DIR/mail/ and the log names the file (the body is not logged: it holds codes).
 */
export function createMailer(deps: { smtpUrl?: string; from: string; dataDir: string; views: Eta; logger: Logger }): Mailer {
  const { smtpUrl, from, dataDir, views, logger } = deps;
  const transport = smtpUrl
    ? nodemailer.createTransport(smtpUrl)
    : nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const mailDir = join(dataDir, 'mail');

  return {
    async send(message) {
      const t = translator(message.locale);
      const params = { ...message.params };
      const key = message.template.includes('.') ? message.template : `mail.${message.template}`;
      const subject = t(`${key}.subject`, params);
      const paragraphs = t(`${key}.body`, { ...params, returnObjects: true }) as unknown as string[];
      const link = message.link && { url: message.link.url, label: t(message.link.labelKey) };
      const footer = t('mail.footer');
      const text = [
        ...paragraphs.slice(0, 1),
        ...(message.code ? [`    ${message.code}`] : []),
        ...paragraphs.slice(1),
        ...(link ? [`${link.label}: ${link.url}`] : []),
        '--',
        footer,
      ].join('\n\n');
      const html = views.render('mail/layout', { subject, paragraphs, code: message.code, link, footer, lang: message.locale });
      const info = await transport.sendMail({ from, to: message.to, subject, text, html, headers: { 'Content-Language': message.locale } });
      if (!smtpUrl) {
        mkdirSync(mailDir, { recursive: true });
        const file = join(mailDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${message.template}.eml`);
        writeFileSync(file, (info as unknown as { message: Buffer }).message);
        logger.info({ mail: { to: message.to, subject, template: message.template, file } }, 'mail written to file (no SMTP_URL)');
      } else {
        logger.info({ mail: { to: message.to, template: message.template } }, 'mail sent');
      }
    },
    async close() { transport.close(); },
  };
}
