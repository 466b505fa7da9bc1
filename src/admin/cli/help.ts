import type { Command, OptionSpec } from './command.ts';
import { wrap } from './format.ts';

/** Help is wrapped to this many columns. */
const columns = 100;

/** Options every command takes. */
export const commonOptions: Record<string, OptionSpec> = {
  format: { type: 'string', value: 'table|json', description: 'output: aligned text (default) or JSON for scripts' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

const exitCodes = [
  'Exit codes: 0 done, 1 failure (database unreachable, configuration invalid), 2 invalid usage or',
  'invalid values (the message says which), 4 not found.',
];

const environment = [
  'Configuration comes from the same environment as the server: DATABASE_URL (PostgreSQL), or else',
  'the embedded database under DATA_DIR (default ./data; stop the server first: one process at a time),',
  'and DATA_ENCRYPTION_KEY for `keys rotate`. See docs/cli.md.',
];

function usageLine(c: Command): string {
  const required = Object.entries(c.options ?? {}).filter(([, o]) => o.required).map(([name, o]) => `--${name} ${o.value}`);
  return ['tobira', ...c.path, ...(c.args ?? []), ...required, '[options]'].join(' ');
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const flag = ([name, o]: [string, OptionSpec]) =>
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}${o.multiple ? ' (repeatable)' : ''}`;
  const entries = Object.entries(options);
  const width = Math.min(36, Math.max(...entries.map((e) => flag(e).length)) + 2);
  const indent = ' '.repeat(width + 2);
  return entries.flatMap((e) => {
    const head = flag(e);
    const description = wrap(e[1].description, columns - indent.length, indent);
    return head.length + 2 > width ? [`  ${head}`, `${indent}${description}`] : [`  ${head.padEnd(width)}${description}`];
  });
}

/** Help of one command: usage, notes, options, examples. */
export function commandHelp(c: Command): string {
  return [
    `${usageLine(c)}`,
    '',
    `  ${c.summary[0].toUpperCase()}${c.summary.slice(1)}.`,
    ...(c.notes?.length ? ['', ...c.notes.map((n) => `  ${wrap(n, columns - 2, '  ')}`)] : []),
    '',
    'Options:',
    ...optionLines({ ...c.options, ...commonOptions }),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
    '',
    ...exitCodes,
  ].join('\n');
}

function commandList(commands: Command[]): string[] {
  const width = Math.max(...commands.map((c) => usageLine(c).length)) + 2;
  const indent = ' '.repeat(width + 2);
  return commands.map((c) => `  ${usageLine(c).padEnd(width)}${wrap(c.summary, columns - indent.length, indent)}`);
}

/** Help of a group such as `tobira clients`: its commands. */
export function groupHelp(group: string, commands: Command[]): string {
  return [
    `tobira ${group} <command> [options]`,
    '',
    'Commands:',
    ...commandList(commands),
    '',
    `Run \`tobira ${group} <command> --help\` for a command's options and examples.`,
  ].join('\n');
}

/** Help of `tobira` itself: every command. */
export function mainHelp(commands: Command[]): string {
  return [
    'tobira: manage a Tobira identity provider (OIDC clients, members, admins, database, signing keys)',
    '',
    'Usage: tobira <command> [arguments] [options]        (or: npm run tobira -- <command> ...)',
    '',
    'Commands:',
    ...commandList(commands),
    '',
    'Every command takes --format table|json and --help.',
    '',
    'Examples:',
    '  tobira clients create --name "Mileage Club" --redirect-uri https://club.example.com/callback --first-party',
    '  tobira members create --email ops@example.com && tobira admins grant ops@example.com',
    '  tobira clients list --format json',
    '',
    ...environment,
    '',
    ...exitCodes,
  ].join('\n');
}
