import type { ChangeFeed, RowChange } from './change-feed.ts';

/** Options of {@link createCachedReads}. */
export interface CachedReadsOptions<T> {
  /** The table whose changes drop entries (as the change feed names it). */
  table: string;
  /** Reads one row from the database; `undefined` when there is none. */
  load(key: string): Promise<T | undefined>;
  /** How long an entry may be served at most, as a backstop (default 60 s). */
  maxAgeMs?: number;
  /** How many entries are kept at most; the oldest go first (default 1,000). */
  maxEntries?: number;
}

/** Reads of rows that rarely change, kept in memory while a {@link ChangeFeed} says when they change. */
export interface CachedReads<T> {
  get(key: string): Promise<T | undefined>;
  /** Drops one entry now (a write in this process: no waiting for the feed). */
  invalidate(key: string): void;
}

/**
 * A per-process read cache that never serves a row after its change has been reported: the
 * feed drops the entry on every change (from any process), drops everything when it may have
 * missed changes, and nothing is served from memory while it is not live. A read that was
 * running when a change arrived is not kept (its answer may predate the change). Misses and
 * failed reads are not cached. Without a feed (the embedded database) every read goes to the
 * database.
 */
export function createCachedReads<T>(feed: ChangeFeed | undefined, options: CachedReadsOptions<T>): CachedReads<T> {
  const { table, load } = options;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 1000;
  const entries = new Map<string, { value: T; at: number }>();
  // Bumped on every change: a read that started before a change does not enter the cache.
  let generation = 0;

  feed?.subscribe((change: RowChange | null) => {
    if (change && change.table !== table) return;
    generation++;
    if (change) entries.delete(change.key);
    else entries.clear();
  });

  return {
    async get(key) {
      if (!feed?.live) return load(key);
      const hit = entries.get(key);
      if (hit && Date.now() - hit.at < maxAgeMs) return hit.value;
      const started = generation;
      const value = await load(key);
      if (value !== undefined && started === generation && feed.live) {
        entries.delete(key);
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(key, { value, at: Date.now() });
      }
      return value;
    },
    invalidate(key) {
      generation++;
      entries.delete(key);
    },
  };
}
