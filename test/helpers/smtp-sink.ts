/**
 * A real SMTP server for tests: accepts every message on 127.0.0.1 and keeps it, parsed with
 * postal-mime, so tests can wait for and inspect mail the application sent.
 *
 * @packageDocumentation
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import PostalMime from 'postal-mime';
import type { Address, Email } from 'postal-mime';

/** A message received by the sink. */
export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), lower-cased. Includes Bcc recipients. */
  to: string[];
  /** Address of the From header, lower-cased ('' when absent). */
  from: string;
  /** Subject header ('' when absent). */
  subject: string;
  /** Plain-text body ('' when absent). */
  text: string;
  /** HTML body ('' when absent). */
  html: string;
  /** Headers by lower-case name; the first occurrence wins. */
  headers: Record<string, string>;
  /** The raw message as received. */
  raw: string;
}

/** Matches a message: either a predicate or recipient (and optional exact subject or pattern). */
export type MailMatcher =
  | ((mail: ReceivedMail) => boolean)
  | { to: string; subject?: string | RegExp };

/** A running SMTP sink. */
export interface SmtpSink {
  /** TCP port the sink listens on (on 127.0.0.1). */
  port: number;
  /** Connection URL, `smtp://127.0.0.1:PORT`. */
  url: string;
  /** Messages received so far, oldest first. */
  messages: ReceivedMail[];
  /** Resolves with the first received message matching `matcher`; rejects after `timeoutMs`. */
  waitFor(matcher: MailMatcher, timeoutMs?: number): Promise<ReceivedMail>;
  /** Forgets every received message. */
  clear(): void;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Interval between checks in `waitFor`. */
const POLL_MS = 20;

/**
 * Starts an SMTP sink on an ephemeral port of 127.0.0.1 (no TLS, authentication optional).
 *
 * @returns The running sink.
 */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (stream, session, callback) => {
      receive(stream, session).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  const port = await listen(server);
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    waitFor: (matcher, timeoutMs = 5000) => waitForMail(messages, matcher, timeoutMs),
    clear: () => {
      messages.length = 0;
    },
    close: () => closeServer(server),
  };
}

/** Starts listening on 127.0.0.1:0 and resolves with the bound port. */
function listen(server: SMTPServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.server.address() as AddressInfo).port);
    });
  });
}

/** Closes the server, resolving once it is fully closed. */
function closeServer(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
  });
}

/** Reads a DATA stream to the end. */
async function readStream(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  }
  return Buffer.concat(chunks);
}

/** Reads and parses one message. */
async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<ReceivedMail> {
  const raw = await readStream(stream);
  const email = await PostalMime.parse(raw);
  return toReceivedMail(email, session, raw.toString('utf8'));
}

/** Maps a parsed message and its envelope to a ReceivedMail. */
function toReceivedMail(email: Email, session: SMTPServerSession, raw: string): ReceivedMail {
  return {
    to: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
    from: firstAddress(email.from),
    subject: email.subject ?? '',
    text: email.text ?? '',
    html: email.html ?? '',
    headers: headerRecord(email),
    raw,
  };
}

/** The (first) mailbox address of a From header. */
function firstAddress(address: Address | undefined): string {
  const mailbox = address?.group ? address.group[0]?.address : address?.address;
  return (mailbox ?? '').toLowerCase();
}

/** Headers keyed by lower-case name; the first occurrence wins. */
function headerRecord(email: Email): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const header of email.headers) {
    headers[header.key] ??= header.value;
  }
  return headers;
}

/** Turns a MailMatcher into a predicate. */
function toPredicate(matcher: MailMatcher): (mail: ReceivedMail) => boolean {
  if (typeof matcher === 'function') return matcher;
  const to = matcher.to.toLowerCase();
  const subject = matcher.subject;
  return (mail) =>
    mail.to.includes(to) &&
    (subject === undefined || (typeof subject === 'string' ? mail.subject === subject : subject.test(mail.subject)));
}

/** Describes a matcher for error messages. */
function describeMatcher(matcher: MailMatcher): string {
  if (typeof matcher === 'function') return 'predicate';
  const subject = matcher.subject === undefined ? '' : `, subject ${String(matcher.subject)}`;
  return `to ${matcher.to}${subject}`;
}

/** Polls `messages` until one matches or `timeoutMs` elapses. */
async function waitForMail(messages: ReceivedMail[], matcher: MailMatcher, timeoutMs: number): Promise<ReceivedMail> {
  const predicate = toPredicate(matcher);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = messages.find(predicate);
    if (found) return found;
    if (Date.now() >= deadline) break;
    await delay(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
  const seen = messages.map((m) => `"${m.subject}" -> ${m.to.join(', ')}`).join('; ') || 'none';
  throw new Error(`smtp sink: no mail matching ${describeMatcher(matcher)} within ${timeoutMs} ms; received: ${seen}`);
}
