import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { parseMemberNumber } from '../accounts/member-number.ts';
import { normalizeEmail } from '../accounts/account-service.ts';

/** An audit event as the console, the API and the export show it. */
export interface AuditRecord {
  id: string;
  at: string;
  type: string;
  account_id: string | null;
  member_number: string | null;
  actor_id: string | null;
  actor_member_number: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Record<string, unknown>;
}

/** What to look for. `member` is a sub, member number or email (as subject or as actor). */
export interface AuditFilter {
  member?: string;
  client?: string;
  /** An exact type (`signin.failure`) or a family (`signin` matches `signin.*`). */
  type?: string;
  since?: Date;
  until?: Date;
  /** Keyset cursor: only events older than this id (the `next` of the previous page). */
  before?: string;
  limit?: number;
}

/** One page of events, newest first, and the cursor of the next (older) page. */
export interface AuditPage { events: AuditRecord[]; next: string | null }

/** Filters as query parameters (console and API): validated, empty strings ignored. */
export const auditFilterSchema = z.object({
  member: z.string().trim().max(254).optional(),
  client: z.string().trim().max(255).optional(),
  type: z.string().trim().regex(/^[a-z_]+(\.[a-z_]+)*$/, 'a type such as signin.failure, or a family such as signin').max(64).optional(),
  since: z.iso.datetime({ offset: true, local: true }).or(z.iso.date()).optional(),
  until: z.iso.datetime({ offset: true, local: true }).or(z.iso.date()).optional(),
  before: z.string().regex(/^\d{1,18}$/, 'a cursor from a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
}).strict();

/** A date or date-time from a filter; a bare date or local time counts as UTC. */
export function filterDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const withZone = /[zZ]|[+-]\d\d:\d\d$/.test(value) ? value : `${value}${value.includes('T') ? '' : 'T00:00:00'}Z`;
  return new Date(withZone);
}

/** Turns query parameters into a filter (empty values dropped); throws a ZodError on bad input. */
export function parseAuditFilter(query: Record<string, unknown>): AuditFilter {
  const cleaned = Object.fromEntries(Object.entries(query).filter(([k, v]) => typeof v === 'string' && v.trim() !== '' && k !== 'lang'));
  const f = auditFilterSchema.parse(cleaned);
  return { member: f.member, client: f.client, type: f.type, since: filterDate(f.since), until: filterDate(f.until), before: f.before, limit: f.limit };
}

/** Reads the audit log: search with filters and keyset pagination, and export in id order. */
export interface AuditQuery {
  search(filter: AuditFilter): Promise<AuditPage>;
  /** Every matching event, oldest first, in batches (for `tobira audit export`). */
  exportAll(filter: Omit<AuditFilter, 'before' | 'limit'>, onBatch: (events: AuditRecord[]) => void | Promise<void>): Promise<number>;
  /** The distinct event types seen so far (for the filter's choices). */
  types(): Promise<string[]>;
}

type Row = Omit<AuditRecord, 'id' | 'at'> & { id: string | number; at: Date };

const select = `SELECT e.id, e.at, e.type, e.account_id, a.member_number, e.actor_id, x.member_number AS actor_member_number,
  e.client_id, e.ip, e.user_agent, e.data
  FROM audit_events e LEFT JOIN accounts a ON a.id = e.account_id LEFT JOIN accounts x ON x.id = e.actor_id`;

const toRecord = (r: Row): AuditRecord => ({ ...r, id: String(r.id), at: new Date(r.at).toISOString() });

/** Builds the audit query on a data source. */
export function createAuditQuery(ds: DataSource): AuditQuery {
  /** The account a member filter names, or null when none does (then nothing matches). */
  async function memberId(member: string): Promise<string | null> {
    if (/^[0-9a-f-]{36}$/i.test(member)) return member.toLowerCase();
    const number = parseMemberNumber(member);
    const rows: { id: string }[] = number
      ? await ds.query('SELECT id FROM accounts WHERE member_number = $1', [number])
      : member.includes('@') ? await ds.query('SELECT id FROM accounts WHERE lower(email) = $1', [normalizeEmail(member)]) : [];
    return rows[0]?.id ?? null;
  }

  /** WHERE clauses and parameters for a filter; null when the filter can match nothing. */
  async function where(filter: AuditFilter): Promise<{ sql: string; params: unknown[] } | null> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => { params.push(value); clauses.push(sql.replaceAll('$?', `$${params.length}`)); };
    if (filter.member) {
      const id = await memberId(filter.member);
      if (!id) return null;
      add('(e.account_id = $? OR e.actor_id = $?)', id);
    }
    if (filter.client) add('e.client_id = $?', filter.client);
    if (filter.type) add(`(e.type = $? OR e.type LIKE $? || '.%')`, filter.type);
    if (filter.since) add('e.at >= $?', filter.since.toISOString());
    if (filter.until) add('e.at < $?', filter.until.toISOString());
    return { sql: clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '', params };
  }

  return {
    async search(filter) {
      const limit = filter.limit ?? 50;
      const w = await where(filter);
      if (!w) return { events: [], next: null };
      const params = [...w.params];
      let sql = w.sql;
      if (filter.before) {
        params.push(filter.before);
        sql += `${sql ? ' AND' : ' WHERE'} e.id < $${params.length}`;
      }
      params.push(limit + 1);
      const rows: Row[] = await ds.query(`${select}${sql} ORDER BY e.id DESC LIMIT $${params.length}`, params);
      const events = rows.slice(0, limit).map(toRecord);
      return { events, next: rows.length > limit ? events[events.length - 1].id : null };
    },

    async exportAll(filter, onBatch) {
      const w = await where(filter);
      if (!w) return 0;
      let after = '0';
      let total = 0;
      for (;;) {
        const params = [...w.params, after, 1000];
        const sql = `${select}${w.sql}${w.sql ? ' AND' : ' WHERE'} e.id > $${params.length - 1} ORDER BY e.id ASC LIMIT $${params.length}`;
        const rows: Row[] = await ds.query(sql, params);
        if (!rows.length) return total;
        const events = rows.map(toRecord);
        await onBatch(events);
        total += events.length;
        after = events[events.length - 1].id;
      }
    },

    async types() {
      // A skip scan over the (type, at) index: one probe per distinct type, not a pass over every event.
      const rows: { type: string }[] = await ds.query(`WITH RECURSIVE t AS (
          (SELECT type FROM audit_events ORDER BY type LIMIT 1)
          UNION ALL
          SELECT (SELECT e.type FROM audit_events e WHERE e.type > t.type ORDER BY e.type LIMIT 1) FROM t WHERE t.type IS NOT NULL
        ) SELECT type FROM t WHERE type IS NOT NULL`);
      return rows.map((r) => r.type);
    },
  };
}
