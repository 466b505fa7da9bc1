import Provider from 'oidc-provider';

/**
 * A refresh token's consumption, held back to the insert of the token that replaces it. With
 * rotation, oidc-provider consumes the old token and saves the new one right after, with nothing
 * in between but building it: both then go out in one statement and one commit (see
 * `adapter.ts`). Whatever a request still holds when the provider is done with it is consumed
 * then ({@link flushHeldConsume}), before the answer leaves.
 *
 * Only requests that {@link holdConsumes} opted in hold; everywhere else a consume is a write.
 */
const heldByRequest = new WeakMap<object, { id?: string }>();

/** Lets a refresh token's consumption in this request (`ctx`, the provider's request context) wait for its replacement. */
export function holdConsumes(ctx: object): void {
  heldByRequest.set(ctx, {});
}

/** Holds the consumption of refresh token `id` in the current request; false when the request does not hold (then consume now). */
export function holdConsume(id: string): boolean {
  const ctx = Provider.ctx as object | undefined;
  const held = ctx ? heldByRequest.get(ctx) : undefined;
  if (!held || held.id !== undefined) return false;
  held.id = id;
  return true;
}

/** Takes the consumption the current request holds, if any (the caller now performs it). */
export function takeHeldConsume(): string | undefined {
  const ctx = Provider.ctx as object | undefined;
  const held = ctx ? heldByRequest.get(ctx) : undefined;
  const id = held?.id;
  if (held) held.id = undefined;
  return id;
}

/**
 * Performs (with `consume`) the consumption `ctx` still holds, and stops holding first, so that
 * `consume` may be the RefreshToken adapter's own.
 */
export async function flushHeldConsume(ctx: object, consume: (id: string) => Promise<void>): Promise<void> {
  const held = heldByRequest.get(ctx);
  heldByRequest.delete(ctx);
  if (held?.id !== undefined) await consume(held.id);
}
