import { createServer, type Server } from 'node:http';

/** A received text message. */
export interface ReceivedSms { to: string; text: string }

/** A webhook endpoint standing in for an SMS gateway (SMS_URL) in tests. */
export interface SmsSink {
  url: string;
  messages: ReceivedSms[];
  /** Waits (polling, bounded) for a message to `to`; returns the newest match. */
  waitFor(to: string, timeoutMs?: number): Promise<ReceivedSms>;
  /** Makes the webhook answer this status from now on (200 by default). */
  failWith(status: number): void;
  close(): Promise<void>;
}

/** Starts the SMS webhook sink on a free loopback port. */
export async function startSmsSink(): Promise<SmsSink> {
  const messages: ReceivedSms[] = [];
  let status = 200;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      try {
        const parsed = JSON.parse(body);
        if (status < 300) messages.push({ to: String(parsed.to), text: String(parsed.text) });
      } catch { /* a malformed post is recorded nowhere */ }
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/sms`,
    messages,
    async waitFor(to, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.filter((m) => m.to === to).at(-1);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`sms sink: no message to ${to} within ${timeoutMs} ms; received: ${messages.map((m) => m.to).join(', ') || 'none'}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    failWith(next) { status = next; },
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}
