import pg from 'pg';
import type { Logger } from 'pino';

/** The channel the `tobira_notify_change()` trigger (migration 1764000000000) notifies on. */
export const changeChannel = 'tobira_changes';

/** A row that changed: its table and key, as the trigger reports them (`oidc_clients:mileage-club`). */
export interface RowChange { table: string; key: string }

/**
 * Changes to rows that instances cache, as PostgreSQL reports them (LISTEN/NOTIFY). Every
 * writer is covered, whichever process it runs in (`tobira` CLI, admin console, plain SQL),
 * because a trigger sends the notification when the writing transaction commits.
 */
export interface ChangeFeed {
  /** True while listening. A cache may answer from memory only then. */
  readonly live: boolean;
  /**
   * Calls `listener` for every change, and with `null` when changes may have been missed (the
   * connection was lost): then everything cached must go.
   */
  subscribe(listener: (change: RowChange | null) => void): void;
  close(): Promise<void>;
}

/** Parses a notification payload `table:key`; null for anything else. */
export function parseChange(payload: string | undefined): RowChange | null {
  const at = payload?.indexOf(':') ?? -1;
  return at > 0 ? { table: payload!.slice(0, at), key: payload!.slice(at + 1) } : null;
}

/**
 * Listens on PostgreSQL at `url` on a connection of its own, and reconnects (backing off up to
 * 5 s) when it is lost. Resolves once listening; if PostgreSQL cannot be reached at start, the
 * feed starts not live and keeps trying.
 */
export async function createChangeFeed(url: string, logger: Logger): Promise<ChangeFeed> {
  const listeners: ((change: RowChange | null) => void)[] = [];
  let live = false;
  let closed = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  const emit = (change: RowChange | null) => { for (const listener of listeners) listener(change); };

  const lost = (error?: Error) => {
    if (closed) return;
    if (live) logger.warn({ err: error?.message }, 'change feed: lost the PostgreSQL connection; caches are off until it is back');
    live = false;
    emit(null);
    client?.removeAllListeners();
    client?.end().catch(() => {});
    client = undefined;
    clearTimeout(retry);
    retry = setTimeout(() => { void connect(); }, Math.min(5000, 200 * 2 ** Math.min(failures++, 5)));
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const next = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 3000 });
    client = next;
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => {
      if (message.channel !== changeChannel) return;
      const change = parseChange(message.payload);
      if (change) emit(change);
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${changeChannel}`);
    } catch (error) {
      if (client === next) lost(error as Error);
      return;
    }
    if (client !== next || closed) return;
    failures = 0;
    // Anything may have changed while not listening.
    emit(null);
    live = true;
  }

  await connect();
  return {
    get live() { return live; },
    subscribe(listener) { listeners.push(listener); },
    async close() {
      closed = true;
      live = false;
      clearTimeout(retry);
      const last = client;
      client = undefined;
      last?.removeAllListeners();
      await last?.end().catch(() => {});
    },
  };
}
