import type { DataSource } from 'typeorm';
import type { AuditEvent } from '../../audit/audit-log.ts';
import type { SealedBox } from '../../crypto/sealed-box.ts';
import type { ClientService } from '../client-service.ts';
import type { MemberAdmin } from '../member-admin.ts';
import { AppError } from '../../http/errors.ts';

/** How results are printed: aligned text for people, JSON for scripts. */
export type OutputFormat = 'table' | 'json';

/** One option of a command, as node:util parseArgs takes it, plus its help line. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** A usage error when it is missing. */
  required?: boolean;
  /** Shown after the flag in help, e.g. URI. */
  value?: string;
  description: string;
}

/** The services a command works with, opened on first use and closed when the command ends. */
export interface AdminServices {
  ds: DataSource;
  box: SealedBox;
  clients: ClientService;
  members: MemberAdmin;
  /** Records an admin action in the audit log (actor: the CLI). */
  audit(event: AuditEvent): Promise<void>;
}

/** What a command gets besides its arguments. */
export interface CommandContext {
  format: OutputFormat;
  /** The database without running migrations (for `migrate`). */
  database(): Promise<DataSource>;
  /** The database, migrated, and the admin services on it. */
  services(): Promise<AdminServices>;
  /** Prints a result: `json` as JSON, or `text()` for people. */
  print(json: unknown, text: () => string): void;
  /** Writes raw text to standard output (streamed results such as JSON lines). */
  write(text: string): void;
}

/** A leaf command such as `tobira clients create`. */
export interface Command {
  /** The words that name it: ['clients', 'create']. */
  path: string[];
  summary: string;
  /** Positional arguments, all required, e.g. ['CLIENT_ID']. */
  args?: string[];
  options?: Record<string, OptionSpec>;
  /** Paragraphs printed under the usage line. */
  notes?: string[];
  examples: string[];
  run(input: { values: Record<string, string | boolean | string[] | undefined>; args: string[] }, ctx: CommandContext): Promise<void>;
}

/** A usage error: exit code 2 and a pointer to the help of `command`. */
export function usageError(message: string, command: string): AppError {
  return new AppError('request.invalid', { detail: message, usage: `tobira ${command} --help` });
}

/** The error for a missing record (exit code 4), e.g. `notFound('client abc')`. */
export function notFound(what: string): AppError {
  return new AppError('not_found', { detail: `${what} does not exist` });
}
