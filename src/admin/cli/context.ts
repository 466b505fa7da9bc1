import pino from 'pino';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { createDataSource, databaseTargetOf } from '../../db/data-source.ts';
import { migrate } from '../../db/migrate.ts';
import { createLogger } from '../../logger.ts';
import { createSealedBox } from '../../crypto/sealed-box.ts';
import { createAccountService } from '../../accounts/account-service.ts';
import { createPasskeyRepository } from '../../passkeys/passkey-repository.ts';
import { createAuditLog } from '../../audit/audit-log.ts';
import { createClientService } from '../client-service.ts';
import { createMemberAdmin } from '../member-admin.ts';
import type { AdminServices, CommandContext, OutputFormat } from './command.ts';

/** Where the CLI reads its environment and writes its output. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** The context commands run in: configuration, database and services opened on first use. */
export function createContext(format: OutputFormat, io: CliIo): CommandContext & { close(): Promise<void> } {
  let config: Config | undefined;
  let database: Promise<DataSource> | undefined;
  let services: Promise<AdminServices> | undefined;
  const getConfig = () => (config ??= loadConfig(io.env));

  const open = async (): Promise<DataSource> => {
    const target = databaseTargetOf(getConfig());
    if ('pgliteDir' in target && format === 'table') io.stderr(`Using the embedded database in ${target.pgliteDir} (DATABASE_URL is not set).\n`);
    const ds = createDataSource(target);
    try {
      await ds.initialize();
    } catch (error) {
      // Name the database (never the password) so a wrong DATABASE_URL or DATA_DIR is plain to see.
      const where = 'url' in target ? describeUrl(target.url) : target.pgliteDir;
      throw new Error(`cannot open the database ${where}: ${messageOf(error)}`, { cause: error });
    }
    return ds;
  };
  const build = async (): Promise<AdminServices> => {
    const ds = await (database ??= open());
    await migrate(ds);
    const cfg = getConfig();
    // Warnings (an audit write that failed) go to stderr, so stdout stays the command's result.
    const logger = createLogger(cfg.logLevel === 'silent' ? 'silent' : 'warn', pino.destination({ fd: 2, sync: true }));
    const auditLog = createAuditLog(ds, logger);
    return {
      ds,
      box: createSealedBox(cfg.dataEncryptionKey),
      clients: createClientService(ds),
      members: createMemberAdmin({ accounts: createAccountService(ds), passkeys: createPasskeyRepository(ds) }),
      audit: (event) => auditLog.record({ ...event, data: { via: 'cli', ...event.data } }),
    };
  };

  return {
    format,
    database: () => (database ??= open()),
    services: () => (services ??= build()),
    print(json, text) {
      io.stdout(`${format === 'json' ? JSON.stringify(json, null, 2) : text()}\n`);
    },
    write(text) {
      io.stdout(text);
    },
    async close() {
      const ds = await database?.catch(() => undefined);
      if (ds?.isInitialized) await ds.destroy();
    },
  };
}

function describeUrl(url: string): string {
  const parsed = URL.parse(url);
  return parsed ? `${parsed.host}${parsed.pathname}` : '(DATABASE_URL)';
}

/** The message of an error, also of an AggregateError (pg reports a refused connection per address so). */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length) return error.errors.map(messageOf).join('; ');
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}
