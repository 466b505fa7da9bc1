/**
 * Bulk import of members from an older system, one JSON object a line (JSON lines):
 *
 * ```json
 * {"email": "hanako@example.com", "name": "Hanako Yamada", "locale": "ja", "member_number": "1234567897",
 *  "phone": "+819012345678", "password_hash": "$2b$10$…", "email_verified": true}
 * ```
 *
 * Only `email` is required. Every line is checked on its own and a bad line is reported with its
 * number without stopping the others. Re-running the same file is safe: a line whose email or
 * member number is already taken is skipped and reported. Members are inserted in batches, each
 * batch with its audit events in one transaction.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { locales } from '../i18n/i18n.ts';
import { normalizeEmail } from './account-service.ts';
import { generateMemberNumber, parseMemberNumber } from './member-number.ts';
import { describeHash } from './password-hash.ts';

/** One line of an import file. */
export const importLineSchema = z.object({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(200).nullish(),
  locale: z.enum(locales).nullish(),
  member_number: z.union([z.string().max(32), z.number().int().nonnegative()]).nullish(),
  phone: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +819012345678').nullish(),
  phone_verified: z.boolean().nullish(),
  password_hash: z.string().min(1).max(1024).nullish(),
  email_verified: z.boolean().nullish(),
}).strict();

/** A valid line, ready to insert. `memberNumber` null: a new one is generated. */
export interface ImportCandidate {
  line: number;
  email: string;
  name: string | null;
  locale: string | null;
  memberNumber: string | null;
  phone: string | null;
  phoneVerified: boolean;
  passwordHash: string | null;
  emailVerified: boolean;
}

/** What happened to one line. */
export interface ImportedMember { line: number; email: string; member_number: string | null; password: boolean }
export interface SkippedLine { line: number; email: string; reason: string }
export interface LineError { line: number; message: string }

/** The outcome of an import (or of a dry run: what it would do). */
export interface ImportReport {
  dry_run: boolean;
  /** Imported members (in a dry run: those that would be; `member_number` null when one would be generated). */
  imported: ImportedMember[];
  /** Lines whose email or member number is already taken: nothing was changed for them. */
  skipped: SkippedLine[];
  /** Lines that are not valid, with the reason. */
  errors: LineError[];
}

/** Options of {@link importMembers}. */
export interface ImportOptions {
  /** Check everything, write nothing. */
  dryRun: boolean;
  /** Extra fields of each member's audit event (e.g. `{ via: 'cli' }`). */
  auditData?: Record<string, unknown>;
  /** Members per transaction (default 500). */
  batchSize?: number;
}

function issuesText(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/**
 * Parses and validates one line. Returns null for a blank line, a {@link LineError} for a bad
 * one, else the candidate.
 */
export function parseImportLine(text: string, line: number): ImportCandidate | LineError | null {
  if (!text.trim()) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, message: `not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { line, message: 'expected a JSON object' };
  const parsed = importLineSchema.safeParse(value);
  if (!parsed.success) return { line, message: issuesText(parsed.error.issues) };
  const input = parsed.data;
  let memberNumber: string | null = null;
  if (input.member_number !== undefined && input.member_number !== null) {
    memberNumber = parseMemberNumber(String(input.member_number));
    if (!memberNumber) return { line, message: 'member_number: must be 10 digits ending in a valid check digit (Tobira\'s member number format)' };
  }
  if (input.password_hash) {
    const hash = describeHash(input.password_hash);
    if (!hash.ok) return { line, message: `password_hash: ${hash.reason}` };
  }
  return {
    line,
    email: normalizeEmail(input.email),
    name: input.name ?? null,
    locale: input.locale ?? null,
    memberNumber,
    phone: input.phone ?? null,
    phoneVerified: input.phone ? (input.phone_verified ?? true) : false,
    passwordHash: input.password_hash ?? null,
    emailVerified: input.email_verified ?? true,
  };
}

/** Emails and member numbers already used, in the database or earlier in the file. */
interface Taken { emails: Map<string, string>; numbers: Map<string, string> }

async function findTaken(ds: DataSource, batch: ImportCandidate[]): Promise<Taken> {
  const rows: { email: string; member_number: string }[] = await ds.query(
    'SELECT lower(email) AS email, member_number FROM accounts WHERE lower(email) = ANY($1::text[]) OR member_number = ANY($2::text[])',
    [batch.map((c) => c.email), batch.flatMap((c) => (c.memberNumber ? [c.memberNumber] : []))],
  );
  return {
    emails: new Map(rows.map((r) => [r.email, r.member_number])),
    numbers: new Map(rows.map((r) => [r.member_number, r.email])),
  };
}

function skipReason(c: ImportCandidate, taken: Taken): string | null {
  const owner = taken.emails.get(c.email);
  if (owner !== undefined) return `already a member (member number ${owner})`;
  if (c.memberNumber && taken.numbers.has(c.memberNumber)) return `member number ${c.memberNumber} already belongs to ${taken.numbers.get(c.memberNumber)}`;
  return null;
}

interface Row extends ImportCandidate { id: string; number: string }

/** Inserts rows; returns the emails inserted (a row that hit a unique constraint is left out). */
async function insertRows(ds: DataSource, rows: Row[], auditData: Record<string, unknown>): Promise<Set<string>> {
  return ds.transaction(async (tx) => {
    const inserted: { id: string; email: string }[] = await tx.query(
      `INSERT INTO accounts (id, member_number, email, email_verified, name, locale, phone, phone_verified, password_hash, password_enabled)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::bool[], $9::text[], $10::bool[])
       ON CONFLICT DO NOTHING RETURNING id, email`,
      [rows.map((r) => r.id), rows.map((r) => r.number), rows.map((r) => r.email), rows.map((r) => r.emailVerified),
        rows.map((r) => r.name), rows.map((r) => r.locale), rows.map((r) => r.phone), rows.map((r) => r.phoneVerified),
        rows.map((r) => r.passwordHash), rows.map((r) => r.passwordHash !== null)],
    );
    if (inserted.length) {
      await tx.query(
        `INSERT INTO audit_events (type, account_id, data)
         SELECT 'admin.member_changed', id, $2::jsonb FROM unnest($1::uuid[]) AS id`,
        [inserted.map((r) => r.id), JSON.stringify({ action: 'import', ...auditData })],
      );
    }
    return new Set(inserted.map((r) => r.email));
  });
}

/**
 * Writes one batch. A row the database refused is looked at again: taken meanwhile (another
 * import running at once) → skipped; a generated member number that collided → a new one.
 */
async function writeBatch(ds: DataSource, batch: ImportCandidate[], report: ImportReport, auditData: Record<string, unknown>): Promise<void> {
  let pending: Row[] = batch.map((c) => ({ ...c, id: randomUUID(), number: c.memberNumber ?? generateMemberNumber() }));
  for (let attempt = 0; pending.length; attempt++) {
    const inserted = await insertRows(ds, pending, auditData);
    for (const r of pending.filter((p) => inserted.has(p.email))) {
      report.imported.push({ line: r.line, email: r.email, member_number: r.number, password: r.passwordHash !== null });
    }
    const refused = pending.filter((p) => !inserted.has(p.email));
    if (!refused.length) break;
    const taken = await findTaken(ds, refused);
    pending = [];
    for (const r of refused) {
      const reason = skipReason(r, taken);
      if (reason) report.skipped.push({ line: r.line, email: r.email, reason });
      else if (!r.memberNumber && attempt < 5) pending.push({ ...r, id: randomUUID(), number: generateMemberNumber() });
      else report.errors.push({ line: r.line, message: 'could not be inserted (a unique value collided); run the import again' });
    }
  }
}

async function processBatch(ds: DataSource, batch: ImportCandidate[], report: ImportReport, options: ImportOptions): Promise<void> {
  const taken = await findTaken(ds, batch);
  const fresh: ImportCandidate[] = [];
  for (const c of batch) {
    const reason = skipReason(c, taken);
    if (reason) report.skipped.push({ line: c.line, email: c.email, reason });
    else fresh.push(c);
  }
  if (options.dryRun) {
    for (const c of fresh) report.imported.push({ line: c.line, email: c.email, member_number: c.memberNumber, password: c.passwordHash !== null });
    return;
  }
  if (fresh.length) await writeBatch(ds, fresh, report, options.auditData ?? {});
}

/** A second line with an email or member number an earlier line already has is an error. */
function duplicateOf(c: ImportCandidate, seen: Taken): string | null {
  const emailLine = seen.emails.get(c.email);
  if (emailLine) return `email: ${c.email} already appears on line ${emailLine}`;
  const numberLine = c.memberNumber ? seen.numbers.get(c.memberNumber) : undefined;
  if (numberLine) return `member_number: ${c.memberNumber} already appears on line ${numberLine}`;
  seen.emails.set(c.email, String(c.line));
  if (c.memberNumber) seen.numbers.set(c.memberNumber, String(c.line));
  return null;
}

/** Imports the members of `lines` (the lines of a JSON lines file, in order). */
export async function importMembers(ds: DataSource, lines: AsyncIterable<string> | Iterable<string>, options: ImportOptions): Promise<ImportReport> {
  const report: ImportReport = { dry_run: options.dryRun, imported: [], skipped: [], errors: [] };
  const batchSize = options.batchSize ?? 500;
  const seen: Taken = { emails: new Map(), numbers: new Map() };
  let batch: ImportCandidate[] = [];
  let number = 0;
  for await (const raw of lines) {
    number++;
    const parsed = parseImportLine(number === 1 ? raw.replace(/^\uFEFF/, '') : raw, number);
    if (!parsed) continue;
    if ('message' in parsed) { report.errors.push(parsed); continue; }
    const duplicate = duplicateOf(parsed, seen);
    if (duplicate) { report.errors.push({ line: number, message: duplicate }); continue; }
    batch.push(parsed);
    if (batch.length >= batchSize) {
      await processBatch(ds, batch, report, options);
      batch = [];
    }
  }
  if (batch.length) await processBatch(ds, batch, report, options);
  const byLine = (a: { line: number }, b: { line: number }) => a.line - b.line;
  report.imported.sort(byLine);
  report.skipped.sort(byLine);
  report.errors.sort(byLine);
  return report;
}
