import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** One text message. `to` is E.164 (`+819012345678`). */
export interface SmsMessage { to: string; text: string }

/** Sends SMS. The body is never logged: it holds one-time codes. */
export interface SmsSender {
  readonly kind: 'webhook' | 'log';
  send(message: SmsMessage): Promise<void>;
}

/**
 * `SMS_URL` set: a webhook driver that POSTs `{ "to", "text" }` as JSON and expects a 2xx
 * within 5 s (put your SMS gateway behind it). Unset (development): the message is written to
 * DATA_DIR/sms/ and the log names the file.
 */
export function createSmsSender(deps: { smsUrl?: string; dataDir: string; logger: Logger }): SmsSender {
  const { smsUrl, dataDir, logger } = deps;
  if (smsUrl) {
    return {
      kind: 'webhook',
      async send(message) {
        const res = await fetch(smsUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(5000),
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`SMS webhook answered ${res.status}`);
        logger.info({ sms: { to: maskPhone(message.to) } }, 'sms sent');
      },
    };
  }
  const dir = join(dataDir, 'sms');
  return {
    kind: 'log',
    async send(message) {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.txt`);
      writeFileSync(file, `To: ${message.to}\n\n${message.text}\n`);
      logger.info({ sms: { to: maskPhone(message.to), file } }, 'sms written to file (no SMS_URL)');
    },
  };
}

/** `+81••••••5678`: enough to tell numbers apart in logs. */
export function maskPhone(phone: string): string {
  return phone.length <= 6 ? '••••' : `${phone.slice(0, 3)}${'•'.repeat(phone.length - 7)}${phone.slice(-4)}`;
}
