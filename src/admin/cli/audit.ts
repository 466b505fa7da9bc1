import { createAuditQuery, filterDate } from '../audit-query.ts';
import { usageError, type Command } from './command.ts';

const dateValue = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** A --since/--until value as a Date; a usage error when it is not an ISO date or date-time. */
function dateOption(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = dateValue.test(value) ? filterDate(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw usageError(`--${name} must be a date such as 2026-11-01 or a date-time such as 2026-11-01T09:00:00Z (got "${value}")`, 'audit export');
  return date;
}

const exportCommand: Command = {
  path: ['audit', 'export'],
  summary: 'print audit events as JSON lines, oldest first',
  options: {
    since: { type: 'string', value: 'DATE', required: true, description: 'first moment to include: 2026-11-01 or 2026-11-01T09:00:00Z (a date or a time without zone is UTC)' },
    until: { type: 'string', value: 'DATE', description: 'stop before this moment (same format; default: now)' },
    type: { type: 'string', value: 'TYPE', description: 'one type (signin.failure) or a family (signin: every signin.* event)' },
    member: { type: 'string', value: 'MEMBER', description: 'events of one member (as subject or as the admin who acted): member number, email or subject' },
  },
  notes: [
    'Each line is one JSON object: id, at, type, account_id, member_number, actor_id, actor_member_number, client_id, ip, user_agent, data. --format does not change this output.',
    'Events are read in batches in id order, so a large export does not hold the log in memory.',
  ],
  examples: [
    'tobira audit export --since 2026-11-01 > audit-november.jsonl',
    'tobira audit export --since 2026-11-01 --until 2026-12-01 --type signin.failure',
    'tobira audit export --since 2026-11-01T00:00:00Z --member 1234567890',
  ],
  async run({ values }, ctx) {
    const since = dateOption('since', values.since as string);
    const until = dateOption('until', values.until as string | undefined);
    const type = values.type as string | undefined;
    if (type !== undefined && !/^[a-z_]+(\.[a-z_]+)*$/.test(type)) throw usageError(`--type must be a type such as signin.failure or a family such as signin (got "${type}")`, 'audit export');
    const { ds } = await ctx.services();
    await createAuditQuery(ds).exportAll({ since, until, type, member: values.member as string | undefined }, (events) => {
      ctx.write(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    });
  },
};

/** `tobira audit ...`: the audit log from the command line. */
export const auditCommands: Command[] = [exportCommand];
