import Provider from 'oidc-provider';

/**
 * Rows read ahead for the request oidc-provider is handling, so that what it asks for next costs
 * no query: with a session, the grants it holds and its account; with a refresh token, its
 * session, grant and account (see `adapter.ts`). Keyed by oidc-provider's request context (its
 * AsyncLocalStorage), so nothing outlives the request. `null` records that a row does not exist.
 * An entry is used once, and any write of a durable model in the request drops them all.
 */
const rowsByRequest = new WeakMap<object, Map<string, Record<string, unknown> | null>>();

/** The keys rows are kept under. */
export const readAheadKey = {
  session: (uid: string) => `Session:uid:${uid}`,
  grant: (id: string) => `Grant:${id}`,
  account: (id: string) => `Account:${id}`,
};

/** The read-ahead rows of the current oidc-provider request, made on first use; undefined outside one. */
export function requestReadAhead(): Map<string, Record<string, unknown> | null> | undefined {
  const ctx = Provider.ctx as object | undefined;
  if (!ctx) return undefined;
  let rows = rowsByRequest.get(ctx);
  if (!rows) rowsByRequest.set(ctx, (rows = new Map()));
  return rows;
}

/** Takes a row read ahead in this request: the row, `null` (known absent) or `undefined` (not read ahead). */
export function takeReadAhead(key: string): Record<string, unknown> | null | undefined {
  const ctx = Provider.ctx as object | undefined;
  const rows = ctx && rowsByRequest.get(ctx);
  const row = rows?.get(key);
  rows?.delete(key);
  return row;
}

/** Drops every row read ahead in this request (a durable model was written). */
export function dropReadAhead(): void {
  const ctx = Provider.ctx as object | undefined;
  if (ctx) rowsByRequest.delete(ctx);
}
