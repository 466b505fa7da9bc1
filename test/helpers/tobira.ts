import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { createApp } from '../../src/app.ts';
import type { Config } from '../../src/config/schema.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

/** A running Tobira for tests, with its SMTP sink. */
export interface TestTobira {
  url: string;
  config: Config;
  container: Container;
  smtp: SmtpSink;
  server: HttpServer;
  close(): Promise<void>;
}

/**
 * Fixed secrets for every Tobira (and CLI process) of a test run: instances that share one
 * database must open the signing keys another one sealed.
 */
export const testSecrets = {
  COOKIE_KEYS: 'test-cookie-key-0123456789abcdefghijklmnopqrstuvwxyz',
  DATA_ENCRYPTION_KEY: 'Qm9yaW5nLXRlc3Qta2V5LW5ldmVyLXVzZS1pbi1wcm8',
};

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Which stores the suite runs on: real Postgres/Redis when DATABASE_URL/REDIS_URL are set. */
export function backendLabel(): string {
  return `${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'} + ${process.env.REDIS_URL ? 'Redis' : 'in-process store'}`;
}

/**
 * Starts Tobira in this process on a free port: on DATABASE_URL/REDIS_URL when set (as .ci/run
 * does), else on the embedded default; mail goes to a real SMTP server (smtp-server).
 */
export async function startTobira(env: Record<string, string> = {}): Promise<TestTobira> {
  const smtp = await startSmtpSink();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'tobira-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: `http://localhost:${port}`,
    DATA_DIR: dataDir,
    SMTP_URL: smtp.url,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...testSecrets,
    REDIS_PREFIX: `tobira-test-${randomBytes(4).toString('hex')}:`,
    // The demo client is registered for one issuer: only the shared Tobira serves it.
    DEMO: 'false',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    ...env,
  });
  const container = await createContainer(config, createLogger(config.logLevel));
  const app = await createApp(container);
  const server = app.listen(port);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  return {
    url: config.issuer, config, container, smtp, server,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await container.close();
      await smtp.close();
    },
  };
}

let shared: Promise<TestTobira> | undefined;

/** One Tobira shared by the test files of a run (started on first use, stopped at exit). */
export function sharedTobira(): Promise<TestTobira> {
  shared ??= startTobira({ DEMO: 'true' });
  return shared;
}
