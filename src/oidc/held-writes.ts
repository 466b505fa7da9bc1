import Provider, { type AdapterPayload } from 'oidc-provider';

/**
 * Writes held back within one request to the provider, so that they go out with the write that
 * follows them, in one statement and one commit:
 *
 * - **A grant goes with its session.** At a sign-in's redirect back, oidc-provider saves the new
 *   grant, issues the code, then saves the session before it answers; the grant rides with the
 *   session.
 * - **A rotated refresh token's consumption goes with its replacement.** oidc-provider consumes
 *   the old token and saves the new one right after, with nothing in between but building it.
 *
 * Whatever the request did not write that way is written when the provider is done with it
 * ({@link flushHeldWrites}), before the answer leaves: nothing is ever left unwritten, and no
 * client can use a code before its grant is stored.
 *
 * Only requests that {@link holdWrites} opted in hold; everywhere else a save is a write.
 */
export interface HeldGrant { id: string; payload: AdapterPayload; expiresIn?: number }

interface Held {
  grants: Map<string, HeldGrant>;
  /** The refresh token whose consumption waits for its replacement's insert. */
  consume?: string;
}

const heldByRequest = new WeakMap<object, Held>();

/** The current provider request's held writes, or undefined when it does not hold. */
function current(): Held | undefined {
  const ctx = Provider.ctx as object | undefined;
  return ctx ? heldByRequest.get(ctx) : undefined;
}

/** Lets writes in this request (`ctx`, the provider's request context) wait for the write that follows them. */
export function holdWrites(ctx: object): void {
  heldByRequest.set(ctx, { grants: new Map() });
}

/** The current provider request's held-back grants, or undefined when it does not hold. */
export function heldGrants(): Map<string, HeldGrant> | undefined {
  return current()?.grants;
}

/** Holds the consumption of refresh token `id` in the current request; false when the request does not hold (then consume now). */
export function holdConsume(id: string): boolean {
  const held = current();
  if (!held || held.consume !== undefined) return false;
  held.consume = id;
  return true;
}

/** Takes the consumption the current request holds, if any (the caller now performs it). */
export function takeHeldConsume(): string | undefined {
  const held = current();
  const id = held?.consume;
  if (held) held.consume = undefined;
  return id;
}

/**
 * Writes what `ctx` still holds (`writeGrant` one grant at a time, then `consume`) and stops
 * holding first, so that these may be the Grant and RefreshToken adapters' own.
 */
export async function flushHeldWrites(ctx: object, write: {
  writeGrant: (grant: HeldGrant) => Promise<void>;
  consume: (refreshTokenId: string) => Promise<void>;
}): Promise<void> {
  const held = heldByRequest.get(ctx);
  heldByRequest.delete(ctx);
  if (!held) return;
  for (const grant of held.grants.values()) await write.writeGrant(grant);
  if (held.consume !== undefined) await write.consume(held.consume);
}
