import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import pkg from '../../../package.json' with { type: 'json' };
import { ConfigError } from '../../config/load.ts';
import { AppError } from '../../http/errors.ts';
import { translator } from '../../i18n/i18n.ts';
import { usageError, type Command, type OutputFormat } from './command.ts';
import { createContext, messageOf, type CliIo } from './context.ts';
import { commandHelp, commonOptions, groupHelp, mainHelp } from './help.ts';
import { clientCommands } from './client-commands.ts';
import { adminCommands, memberCommands } from './member-commands.ts';
import { systemCommands } from './system-commands.ts';
import { auditCommands } from './audit.ts';

export type { CliIo };

/** Every command of `tobira`, in the order help lists them. */
export const commands: Command[] = [...clientCommands, ...memberCommands, ...adminCommands, ...auditCommands, ...systemCommands];

/** Exit codes: 0 done, 1 failure, 2 usage or validation error, 4 not found. */
export const exitCodes = { ok: 0, failure: 1, usage: 2, notFound: 4 } as const;

/** Whether `argv` asks for help: -h, --help, or `help` as the first word. */
const wantsHelp = (argv: string[]) => argv.includes('--help') || argv.includes('-h') || argv[0] === 'help';

/** The command named by the leading words of `argv`, or what to print instead. */
function resolve(argv: string[]): { command: Command; rest: string[] } | { text: string; code: number } {
  const command = commands.find((c) => c.path.every((word, i) => argv[i] === word));
  if (command) return { command, rest: argv.slice(command.path.length) };
  const group = commands.filter((c) => c.path[0] === argv[0]);
  if (argv.length === 0 || wantsHelp(argv.slice(0, 1))) return { text: mainHelp(commands), code: argv.length === 0 ? exitCodes.usage : exitCodes.ok };
  if (argv[0] === '--version') return { text: `tobira ${pkg.version}`, code: exitCodes.ok };
  if (group.length === 0) return { text: `error: unknown command "${argv[0]}"\n\n${mainHelp(commands)}`, code: exitCodes.usage };
  if (argv.length === 1 || wantsHelp(argv.slice(1, 2))) return { text: groupHelp(argv[0], group), code: argv.length === 1 ? exitCodes.usage : exitCodes.ok };
  return { text: `error: unknown command "${argv[0]} ${argv[1]}"\n\n${groupHelp(argv[0], group)}`, code: exitCodes.usage };
}

/** Parses the command's options and arguments; a mistake is a usage error. */
function parse(command: Command, rest: string[]) {
  const name = command.path.join(' ');
  const specs = { ...command.options, ...commonOptions };
  const options: ParseArgsOptionsConfig = Object.fromEntries(Object.entries(specs).map(([key, o]) =>
    [key, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]));
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (error) {
    // Node adds a long hint on how to pass a positional starting with "-"; the first sentence is the point.
    throw usageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''), name);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) return { help: true as const };
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw usageError(`--format must be table or json, not ${String(format)}`, name);
  const expected = command.args ?? [];
  if (parsed.positionals.length !== expected.length) {
    throw usageError(parsed.positionals.length < expected.length
      ? `missing ${expected.slice(parsed.positionals.length).join(' ')}`
      : `unexpected argument "${parsed.positionals[expected.length]}"`, name);
  }
  for (const [key, o] of Object.entries(specs)) {
    if (o.required && (values[key] === undefined || values[key] === '')) throw usageError(`--${key} is required`, name);
  }
  return { help: false as const, format: format as OutputFormat, values, args: parsed.positionals };
}

/** Prints `error` the way the format asks and returns the exit code it means. */
function report(error: unknown, format: OutputFormat, io: CliIo): number {
  if (error instanceof AppError) {
    const detail = error.params.detail;
    const usage = typeof error.params.usage === 'string' ? error.params.usage : undefined;
    // A usage mistake or a missing record reads better as the bare detail than in the HTTP wording.
    const message = (usage || error.code === 'not_found') && typeof detail === 'string' ? detail : translator('en')(`errors.${error.code}`, error.params);
    const code = error.status === 404 ? exitCodes.notFound : error.status < 500 ? exitCodes.usage : exitCodes.failure;
    io.stderr(format === 'json'
      ? `${JSON.stringify({ error: error.code, message })}\n`
      : `error: ${error.code}: ${message}\n${usage ? `Run \`${usage}\` for usage.\n` : ''}`);
    return code;
  }
  const message = error instanceof ConfigError ? error.message : messageOf(error);
  io.stderr(format === 'json' ? `${JSON.stringify({ error: 'internal', message })}\n` : `error: ${message}\n`);
  return exitCodes.failure;
}

/** Runs `tobira <argv>` and returns its exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const found = resolve(argv);
  if ('text' in found) {
    (found.code === exitCodes.ok ? io.stdout : io.stderr)(`${found.text}\n`);
    return found.code;
  }
  const { command, rest } = found;
  // Known before parsing succeeds, so that a usage error is JSON too when JSON was asked for.
  let format: OutputFormat = rest.includes('--format=json') || rest[rest.indexOf('--format') + 1] === 'json' ? 'json' : 'table';
  let context: ReturnType<typeof createContext> | undefined;
  try {
    const input = parse(command, rest);
    if (input.help) {
      io.stdout(`${commandHelp(command)}\n`);
      return exitCodes.ok;
    }
    format = input.format;
    context = createContext(format, io);
    await command.run({ values: input.values, args: input.args }, context);
    return exitCodes.ok;
  } catch (error) {
    return report(error, format, io);
  } finally {
    await context?.close();
  }
}
