import Provider, { type AdapterPayload } from 'oidc-provider';

/**
 * Grant writes held back within one request to the provider, so that they go out with the
 * session's write, in one statement and one commit. At a sign-in's redirect back, oidc-provider
 * saves the new grant, issues the code, then saves the session before it answers; the grant
 * rides with the session. Whatever the request did not write that way is written when the
 * provider is done with it ({@link flushDeferredGrants}), before the answer leaves: nothing is
 * ever left unwritten, and no client can use a code before its grant is stored.
 *
 * Only requests that {@link deferGrantWrites} opted in defer; everywhere else a save is a write.
 */
export interface DeferredGrant { id: string; payload: AdapterPayload; expiresIn?: number }

const pendingByRequest = new WeakMap<object, Map<string, DeferredGrant>>();

/** Lets grant saves in this request (`ctx`, the provider's request context) wait for the session's write. */
export function deferGrantWrites(ctx: object): void {
  pendingByRequest.set(ctx, new Map());
}

/** The current provider request's held-back grants, or undefined when it does not defer. */
export function deferredGrants(): Map<string, DeferredGrant> | undefined {
  const ctx = Provider.ctx as object | undefined;
  return ctx ? pendingByRequest.get(ctx) : undefined;
}

/**
 * Writes what is still held back for `ctx` (with `write`, one grant at a time) and stops deferring
 * first, so that `write` may be the Grant adapter's own upsert.
 */
export async function flushDeferredGrants(ctx: object, write: (grant: DeferredGrant) => Promise<void>): Promise<void> {
  const pending = pendingByRequest.get(ctx);
  pendingByRequest.delete(ctx);
  if (pending) for (const grant of pending.values()) await write(grant);
}
