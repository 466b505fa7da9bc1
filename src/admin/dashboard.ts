import type { DataSource } from 'typeorm';

/** The dashboard's two windows: hourly buckets over a day, daily buckets over a month. */
export const dashboardPeriods = {
  '24h': { buckets: 24, unit: 'hour', stepMs: 3600_000 },
  '30d': { buckets: 30, unit: 'day', stepMs: 86_400_000 },
} as const;

export type DashboardPeriod = keyof typeof dashboardPeriods;

/** One time bucket: successful sign-ins per method and per client, and failures. */
export interface DashboardBucket {
  start: string;
  byMethod: Record<string, number>;
  byClient: Record<string, number>;
  failed: number;
}

/** What the dashboard shows for one period. */
export interface DashboardStats {
  period: DashboardPeriod;
  since: string;
  buckets: DashboardBucket[];
  /** Methods seen in the period, most used first. */
  methods: { method: string; count: number }[];
  /** Clients seen in the period, most used first, with their names. */
  clients: { clientId: string; name: string; count: number }[];
  totals: { success: number; failed: number };
  /** Members who signed in within 30 days, and how many of them have a passkey. */
  adoption: { active: number; activeWithPasskey: number; members: number; membersWithPasskey: number };
}

/** Sign-in statistics from the audit log. */
export interface Dashboard {
  stats(period: DashboardPeriod, now?: Date): Promise<DashboardStats>;
}

/** The start of the bucket holding `date` (UTC). */
function truncate(date: Date, unit: 'hour' | 'day'): Date {
  const d = new Date(date);
  d.setUTCMinutes(0, 0, 0);
  if (unit === 'day') d.setUTCHours(0);
  return d;
}

const sortedCounts = (counts: Map<string, number>) => [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** Builds the dashboard on a data source. */
export function createDashboard(ds: DataSource): Dashboard {
  return {
    async stats(period, now = new Date()) {
      const { buckets: count, unit, stepMs } = dashboardPeriods[period];
      const first = new Date(truncate(now, unit).getTime() - (count - 1) * stepMs);
      // The epoch of a UTC wall-clock bucket: no driver guesses at time zones.
      const rows: { bucket: number; type: string; method: string; client_id: string | null; n: number }[] = await ds.query(
        `SELECT extract(epoch FROM date_trunc('${unit}', at AT TIME ZONE 'UTC'))::float8 AS bucket, type, coalesce(data->>'method', 'unknown') AS method, client_id, count(*)::int AS n
         FROM audit_events WHERE type IN ('signin.success', 'signin.failure') AND at >= $1
         GROUP BY 1, 2, 3, 4`, [first.toISOString()]);
      const buckets: DashboardBucket[] = Array.from({ length: count }, (_, i) => ({
        start: new Date(first.getTime() + i * stepMs).toISOString(), byMethod: {}, byClient: {}, failed: 0,
      }));
      const methods = new Map<string, number>();
      const clients = new Map<string, number>();
      const totals = { success: 0, failed: 0 };
      for (const r of rows) {
        const bucket = buckets[Math.round((Number(r.bucket) * 1000 - first.getTime()) / stepMs)];
        if (!bucket) continue;
        if (r.type === 'signin.failure') {
          bucket.failed += r.n;
          totals.failed += r.n;
          continue;
        }
        const client = r.client_id ?? 'unknown';
        bucket.byMethod[r.method] = (bucket.byMethod[r.method] ?? 0) + r.n;
        bucket.byClient[client] = (bucket.byClient[client] ?? 0) + r.n;
        methods.set(r.method, (methods.get(r.method) ?? 0) + r.n);
        clients.set(client, (clients.get(client) ?? 0) + r.n);
        totals.success += r.n;
      }
      const ids = [...clients.keys()];
      const named: { client_id: string; name: string | null }[] = ids.length
        ? await ds.query(`SELECT client_id, metadata->>'client_name' AS name FROM oidc_clients WHERE client_id = ANY($1)`, [ids])
        : [];
      const names = new Map(named.map((n) => [n.client_id, n.name ?? n.client_id]));
      const [adoption] = await ds.query(
        `WITH active AS (SELECT DISTINCT account_id FROM audit_events
           WHERE type = 'signin.success' AND account_id IS NOT NULL AND at >= $1)
         SELECT (SELECT count(*)::int FROM active) AS active,
                (SELECT count(*)::int FROM active WHERE EXISTS (SELECT 1 FROM passkeys p WHERE p.account_id = active.account_id)) AS active_with_passkey,
                (SELECT count(*)::int FROM accounts WHERE disabled_at IS NULL) AS members,
                (SELECT count(DISTINCT account_id)::int FROM passkeys) AS members_with_passkey`,
        [new Date(now.getTime() - 30 * 86_400_000).toISOString()]);
      return {
        period,
        since: first.toISOString(),
        buckets,
        methods: sortedCounts(methods).map(([method, n]) => ({ method, count: n })),
        clients: sortedCounts(clients).map(([clientId, n]) => ({ clientId, name: names.get(clientId) ?? clientId, count: n })),
        totals,
        adoption: {
          active: adoption.active, activeWithPasskey: adoption.active_with_passkey,
          members: adoption.members, membersWithPasskey: adoption.members_with_passkey,
        },
      };
    },
  };
}
