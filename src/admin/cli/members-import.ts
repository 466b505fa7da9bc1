import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { importMembers, type ImportReport } from '../../accounts/member-import.ts';
import { AppError } from '../../http/errors.ts';
import { notFound, type Command } from './command.ts';

/** Throws not_found (exit code 4) unless FILE can be read (`-`: standard input). */
async function checkReadable(file: string): Promise<void> {
  if (file !== '-') await access(file).catch(() => { throw notFound(`file ${file}`); });
}

/**
 * The lines of FILE, or of standard input for `-`. Created right before they are read: readline
 * drops lines emitted before its iterator starts.
 */
function linesOf(file: string): AsyncIterable<string> {
  const input = file === '-' ? process.stdin : createReadStream(file, { encoding: 'utf8' });
  return createInterface({ input, crlfDelay: Infinity });
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The report as people read it: a summary, then every error and skipped line with its number. */
function describe(report: ImportReport): string {
  const withPassword = report.imported.filter((m) => m.password).length;
  const verb = report.dry_run ? 'Would import' : 'Imported';
  const out = [
    ...(report.dry_run ? ['Dry run: nothing was written.'] : []),
    `${verb} ${plural(report.imported.length, 'member')} (${withPassword} with a password). ` +
      `Skipped ${plural(report.skipped.length, 'line')} already present. ${plural(report.errors.length, 'line')} with errors.`,
  ];
  if (report.errors.length) out.push('', 'Errors:', ...report.errors.map((e) => `  line ${e.line}: ${e.message}`));
  if (report.skipped.length) out.push('', 'Skipped:', ...report.skipped.map((s) => `  line ${s.line}: ${s.email}: ${s.reason}`));
  if (report.imported.length && !report.dry_run) out.push('', '`--format json` lists each imported member with their member number.');
  return out.join('\n');
}

/** `tobira members import FILE`: members (and their old password hashes) from a JSON lines file. */
export const importCommand: Command = {
  path: ['members', 'import'],
  summary: 'import members from an older system (JSON lines), with their password hashes',
  args: ['FILE'],
  options: {
    'dry-run': { type: 'boolean', description: 'check every line and report what would be imported, without writing anything' },
  },
  notes: [
    'FILE has one JSON object a line (`-` reads standard input): {"email", "name"?, "locale"? (en|ja), "member_number"? (10 digits with a check digit; generated when absent), '
      + '"phone"? (E.164), "phone_verified"? (default true), "password_hash"? (bcrypt, argon2id/argon2i or PBKDF2), "email_verified"? (default true)}.',
    'Every line is checked on its own: bad lines are reported with their line numbers and the valid ones are imported. '
      + 'Running the same file again is safe: lines whose email or member number already exists are skipped and listed.',
    'Exit code 0 when every line was imported or skipped, 2 when some lines had errors (the valid ones were still imported).',
  ],
  examples: [
    'tobira members import members.jsonl --dry-run',
    'tobira members import members.jsonl --format json > import-report.json',
  ],
  async run({ values, args: [file] }, ctx) {
    await checkReadable(file);
    const { ds } = await ctx.services();
    const report = await importMembers(ds, linesOf(file), { dryRun: values['dry-run'] === true, auditData: { via: 'cli' } });
    ctx.print(report, () => describe(report));
    if (report.errors.length) {
      throw new AppError('request.invalid', { detail: `${plural(report.errors.length, 'line')} of ${file} had errors (listed in the report); ${report.dry_run ? 'the others are valid' : 'the others were imported'}` });
    }
  },
};
