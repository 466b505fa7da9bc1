/**
 * Writes held back within one request to the provider, so that they go out with the write that
 * follows them, in one statement and one commit:
 *
 * - **A grant goes with its session.** At a sign-in's redirect back, oidc-provider saves the new
 *   grant, issues the code, then saves the session before it answers; the grant rides with the
 *   session.
 * - **A rotated refresh token's consumption goes with its replacement.** oidc-provider consumes
 *   the old token and saves the new one right after, with nothing in between but building it.
 * - **An authorization code's consumption goes with the access token.** At the token endpoint,
 *   oidc-provider consumes the code, then issues the access token with nothing in between but
 *   building it: the consumption and the token's write go to Redis in one round trip.
 * - **A resume in place deletes its interaction with the code's write** (resume-in-place.ts).
 * - **An interaction a resume took (`GETDEL`) is put back** unless the request deletes or saves
 *   it: oidc-provider's resume does neither when it asks a member signed in as someone else to
 *   confirm signing out, and comes back to the same resume afterwards.
 *
 * Whatever the request did not write that way is written when the provider is done with it
 * ({@link flushHeldWrites}), before the answer leaves: nothing is ever left unwritten, and no
 * client can use a code before its grant is stored.
 *
 * Only requests that {@link holdWrites} opted in hold; everywhere else a save is a write.
 *
 * @packageDocumentation
 */
import Provider, { type AdapterPayload } from 'oidc-provider';

/** A grant held back: what the Grant adapter's upsert was given. */
export interface HeldGrant { id: string; payload: AdapterPayload; expiresIn?: number }

/** A consumption held back: the model (RefreshToken or AuthorizationCode) and the token's id. */
export interface HeldConsume { model: string; id: string }

/** A store value a request took (read and deleted), to put back unless the request deletes or saves it. */
export interface HeldPutBack { key: string; value: string; expiresAt: number }

interface Held {
  grants: Map<string, HeldGrant>;
  /** The token whose consumption waits for the next write (a refresh token's replacement, a code's access token). */
  consume?: HeldConsume;
  /** Store keys whose deletion waits for the store's next write. */
  deletes?: string[];
  putBack?: HeldPutBack;
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

/** Holds the consumption of `model` token `id` in the current request; false when the request does not hold (then consume now). */
export function holdConsume(model: string, id: string): boolean {
  const held = current();
  if (!held || held.consume !== undefined) return false;
  held.consume = { model, id };
  return true;
}

/** Takes the consumption of a `model` token the current request holds, if any (the caller now performs it). */
export function takeHeldConsume(model: string): string | undefined {
  const held = current();
  if (held?.consume?.model !== model) return undefined;
  const { id } = held.consume;
  held.consume = undefined;
  return id;
}

/** Holds the deletion of store `keys` until the store's next write in the current request; false when it does not hold (then delete now). */
export function holdDelete(keys: string[]): boolean {
  const held = current();
  if (!held) return false;
  held.deletes = [...held.deletes ?? [], ...keys];
  return true;
}

/** Takes the store deletions the current request holds, if any (the caller now performs them). */
export function takeHeldDeletes(): string[] | undefined {
  const held = current();
  const keys = held?.deletes;
  if (held) held.deletes = undefined;
  return keys;
}

/** Holds putting `value` back under `key` (until `expiresAt`, epoch seconds) when the current request ends; false when it does not hold. */
export function holdPutBack(key: string, value: string, expiresAt: number): boolean {
  const held = current();
  if (!held) return false;
  held.putBack = { key, value, expiresAt };
  return true;
}

/** Drops the put-back of `key` (the request deletes or saves it); true when one was held. */
export function dropPutBack(key: string): boolean {
  const held = current();
  if (held?.putBack?.key !== key) return false;
  held.putBack = undefined;
  return true;
}

/**
 * Writes what `ctx` still holds (`writeGrant` one grant at a time, `consume`, `del`, `put`) and stops
 * holding first, so that these may be the Grant and RefreshToken adapters' own.
 */
export async function flushHeldWrites(ctx: object, write: {
  writeGrant: (grant: HeldGrant) => Promise<void>;
  consume: (consume: HeldConsume) => Promise<void>;
  del: (keys: string[]) => Promise<void>;
  put: (key: string, value: string, ttlSeconds: number) => Promise<void>;
}): Promise<void> {
  const held = heldByRequest.get(ctx);
  heldByRequest.delete(ctx);
  if (!held) return;
  for (const grant of held.grants.values()) await write.writeGrant(grant);
  if (held.consume !== undefined) await write.consume(held.consume);
  if (held.deletes) await write.del(held.deletes);
  const ttl = held.putBack ? held.putBack.expiresAt - Math.floor(Date.now() / 1000) : 0;
  if (ttl > 0) await write.put(held.putBack!.key, held.putBack!.value, ttl);
}
