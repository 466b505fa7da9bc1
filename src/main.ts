import { loadConfig, ConfigError } from './config/load.ts';
import { createLogger } from './logger.ts';
import { createContainer } from './container.ts';
import { createApp } from './app.ts';
import { purgeExpiredPayloads } from './oidc/adapter.ts';

/**
 * Starts Tobira: validates configuration (exiting with every problem listed), builds the
 * container, listens, and shuts down gracefully on SIGTERM/SIGINT.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Tobira cannot start.\n${error.message}\nSee README.md, "Configuration".\n`);
      process.exit(78);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const container = await createContainer(config, logger);
  const app = await createApp(container);
  const server = app.listen(config.port);
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  logger.info({ issuer: config.issuer, port: config.port, env: config.env }, 'Tobira is listening');
  if (config.env !== 'production') {
    process.stdout.write([
      '',
      `  Tobira is running at ${config.issuer}`,
      config.demo ? `  Try it: open ${config.issuer}/demo and click "Sign in" (mail goes to ${config.dataDir}/mail/)` : '',
      `  OpenID configuration: ${config.issuer}/.well-known/openid-configuration`,
      config.databaseUrl
        ? '  Register your own application: npm run tobira -- clients create --help'
        : '  Register your own application: stop Tobira, then npm run tobira -- clients create --help (the embedded database is one process at a time)',
      '',
    ].filter((l) => l !== undefined).join('\n') + '\n');
  }

  // Expired sessions, grants and rotated refresh tokens are deleted in the background.
  const purge = setInterval(() => {
    purgeExpiredPayloads(container.ds).catch((err) => logger.warn({ err }, 'purge of expired OIDC rows failed'));
  }, 10 * 60_000);
  purge.unref();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(purge);
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close();
    server.closeIdleConnections();
    await new Promise((resolve) => server.once('close', resolve));
    await container.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

await main();
