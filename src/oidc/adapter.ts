import type { DataSource } from 'typeorm';
import Provider, { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { dropReadAhead, readAheadKey, requestReadAhead, takeReadAhead } from './read-ahead.ts';
import { dropPutBack, heldGrants, holdConsume, holdDelete, holdPutBack, takeHeldConsume, takeHeldDeletes } from './held-writes.ts';
import { offeredInteractionWritten, takeOfferedInteraction } from './resume-in-place.ts';
import { plainSql, type Sql } from '../db/sql.ts';
import type { KeyValueStore } from '../store/store.ts';
import type { CachedReads } from '../db/cached-reads.ts';

/**
 * Models whose loss would sign members out or break relying parties' refresh tokens live in
 * Postgres; everything short-lived lives in the key-value store with a TTL (DESIGN.md,
 * "Where state lives").
 */
const durableModels = new Set(['Session', 'Grant', 'RefreshToken']);

/** How long a "consumed" marker outlives any code it marks. */
const consumedMarkerSeconds = 24 * 3600;

function reuseError(model: string): Error {
  return new errors.InvalidGrant(`${model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`);
}

/** A row of `oidc_payloads` as read: its payload, with `consumed` when it was consumed. */
function toPayload(row: { payload: AdapterPayload; consumed_at: Date | string | null }): AdapterPayload {
  return row.consumed_at ? { ...row.payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : row.payload;
}

/** Not expired: the condition on `expires_at` of the row aliased `alias` (none for the only table). */
const live = (alias = '') => `(${alias}expires_at IS NULL OR ${alias}expires_at > now())`;

/** The account a payload names (`accountId`), as a row of one column `payload` (guarding the uuid cast). */
const accountOf = (payload: string) => `SELECT 'Account' AS model, a.id::text AS id, to_jsonb(a) - 'totp_secret' AS payload, NULL::timestamptz AS consumed_at
  FROM accounts a WHERE a.id = CASE WHEN ${payload}->>'accountId' ~ '^[0-9a-f-]{36}$' THEN (${payload}->>'accountId')::uuid END`;

/**
 * One query: a session by uid, the grants of its authorizations, and its account. Each grant is
 * a primary-key probe of its own (LATERAL … LIMIT 1): a join could be planned as a scan of every
 * grant when the table's statistics are missing or stale.
 */
const sessionWithGrants = `WITH s AS (SELECT id, payload, consumed_at FROM oidc_payloads WHERE model = 'Session' AND uid = $1 AND ${live()} LIMIT 1)
  SELECT 'Session' AS model, id, payload, consumed_at FROM s
  UNION ALL
  SELECT 'Grant', g.id, g.payload, g.consumed_at
    FROM s, jsonb_each(s.payload->'authorizations') a,
    LATERAL (SELECT id, payload, consumed_at FROM oidc_payloads
      WHERE model = 'Grant' AND id = a.value->>'grantId' AND ${live()} LIMIT 1) g
  UNION ALL
  ${accountOf('(SELECT payload FROM s)')}`;

/**
 * One query: a refresh token by id, its session (by uid), its grant and its account. The session
 * and the grant are index probes of their own (LATERAL … LIMIT 1), like the grants above.
 */
const refreshTokenWithSessionAndGrant = `WITH r AS (SELECT id, payload, consumed_at FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $1 AND ${live()} LIMIT 1)
  SELECT 'RefreshToken' AS model, id, payload, consumed_at FROM r
  UNION ALL
  SELECT 'Session', o.id, o.payload, o.consumed_at FROM r,
    LATERAL (SELECT id, payload, consumed_at FROM oidc_payloads
      WHERE model = 'Session' AND uid = r.payload->>'sessionUid' AND ${live()} LIMIT 1) o
  UNION ALL
  SELECT 'Grant', o.id, o.payload, o.consumed_at FROM r,
    LATERAL (SELECT id, payload, consumed_at FROM oidc_payloads
      WHERE model = 'Grant' AND id = r.payload->>'grantId' AND ${live()} LIMIT 1) o
  UNION ALL
  ${accountOf('(SELECT payload FROM r)')}`;

/** An upsert of one `oidc_payloads` row from parameters `$first`… (model, id, payload, grant, uid, account, ttl). */
function upsertRow(first: number): string {
  const [model, id, payload, grantId, uid, accountId, ttl] = Array.from({ length: 7 }, (_, i) => `$${first + i}`);
  return `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, account_id, expires_at)
    VALUES (${model}, ${id}, ${payload}, ${grantId}, ${uid}, ${accountId}, CASE WHEN ${ttl}::int IS NULL THEN NULL ELSE now() + make_interval(secs => ${ttl}::int) END)
    ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
      uid = EXCLUDED.uid, account_id = EXCLUDED.account_id, expires_at = EXCLUDED.expires_at`;
}

/** One row's upsert, and a session's upsert carrying a grant's (one statement, one commit). */
const upsertOne = upsertRow(1);
const upsertSessionWithGrant = `WITH g AS (${upsertRow(8)}) ${upsertRow(1)}`;

/** Marks row (`model`, `id`) consumed unless it already was (atomic), returning its grant. */
const consumeRow = (model: string, id: string) => `UPDATE oidc_payloads SET consumed_at = now()
    WHERE model = ${model} AND id = ${id} AND consumed_at IS NULL RETURNING grant_id`;

/** A consumption: the consumed row's grant, or no row when it was already used. */
const consumeOne = `WITH c AS (${consumeRow('$1', '$2')}) SELECT grant_id FROM c`;

/**
 * A rotated refresh token's consumption ($8: the old token's id) with its replacement's upsert:
 * one statement, one commit. `consumed` is 0 when the old token was already used.
 */
const consumeAndUpsert = `WITH c AS (${consumeRow("'RefreshToken'", '$8')}), i AS (${upsertRow(1)})
  SELECT count(*)::int AS consumed FROM c`;

/** The parameters of {@link upsertRow} for a payload of `model`. */
function rowParams(model: string, id: string, payload: AdapterPayload, expiresIn?: number): unknown[] {
  return [model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.accountId ?? null, expiresIn ?? null];
}

/** The read-ahead statements (exported for the test that checks they stay index lookups). */
export const readAheadStatements = { sessionWithGrants, refreshTokenWithSessionAndGrant };

/** Durable models: rows in `oidc_payloads`. Consumption is one conditional UPDATE (atomic). */
function postgresAdapter(sql: Sql, model: string, revokeGrant: (grantId: string) => Promise<void>): Adapter {
  const selectBy = (column: 'id' | 'uid') => `SELECT payload, consumed_at FROM oidc_payloads
    WHERE model = $1 AND ${column} = $2 AND ${live()} LIMIT 1`;
  const selects = { id: selectBy('id'), uid: selectBy('uid') };
  const load = async (column: 'id' | 'uid', value: string): Promise<AdapterPayload | undefined> => {
    const rows = await sql(selects[column], [model, value]);
    return rows.length ? toPayload(rows[0]) : undefined;
  };

  /**
   * Runs a read-ahead query: returns this model's row and keeps the others for the request,
   * recording what this row points to (`pointsTo`) but was not found as absent (expired or revoked).
   */
  async function loadAhead(statement: string, value: string, pointsTo: (own: AdapterPayload) => string[]): Promise<AdapterPayload | undefined> {
    const rows: { model: string; id: string; payload: AdapterPayload; consumed_at: Date | null }[] = await sql(statement, [value]);
    const ahead = requestReadAhead()!;
    let own: AdapterPayload | undefined;
    for (const row of rows) {
      if (row.model === model) own = toPayload(row);
      else if (row.model === 'Account') ahead.set(readAheadKey.account(row.id), row.payload);
      else ahead.set(row.model === 'Session' ? readAheadKey.session(String(row.payload.uid)) : readAheadKey.grant(row.id), toPayload(row));
    }
    if (own) for (const key of pointsTo(own)) if (!ahead.has(key)) ahead.set(key, null);
    return own;
  }

  const finders: Pick<Adapter, 'find' | 'findByUid'> = {
    find: (id) => load('id', id),
    findByUid: (uid) => load('uid', uid),
  };
  if (model === 'Session') {
    finders.findByUid = async (uid) => {
      const ahead = takeReadAhead(readAheadKey.session(uid));
      if (ahead !== undefined) return ahead ?? undefined;
      if (!Provider.ctx) return load('uid', uid);
      return loadAhead(sessionWithGrants, uid, (session) => [
        ...Object.values((session.authorizations ?? {}) as Record<string, { grantId?: string }>)
          .flatMap((a) => (a.grantId ? [readAheadKey.grant(a.grantId)] : [])),
        ...(session.accountId ? [readAheadKey.account(String(session.accountId))] : []),
      ]);
    };
  } else if (model === 'Grant') {
    finders.find = async (id) => {
      const held = heldGrants()?.get(id);
      if (held) return structuredClone(held.payload);
      const ahead = takeReadAhead(readAheadKey.grant(id));
      return ahead !== undefined ? (ahead ?? undefined) : load('id', id);
    };
  } else if (model === 'RefreshToken') {
    finders.find = (id) => (Provider.ctx
      ? loadAhead(refreshTokenWithSessionAndGrant, id, (token) => [
        ...(token.sessionUid ? [readAheadKey.session(String(token.sessionUid))] : []),
        ...(token.grantId ? [readAheadKey.grant(token.grantId)] : []),
        ...(token.accountId ? [readAheadKey.account(String(token.accountId))] : [])])
      : load('id', id));
  }

  /** A consumption that found the token already used: the grant is revoked (theft), then invalid_grant. */
  async function refuseReuse(id: string): Promise<never> {
    const existing = await load('id', id);
    if (existing?.grantId) await revokeGrant(existing.grantId);
    throw reuseError(model);
  }

  return {
    ...finders,
    async upsert(id, payload, expiresIn) {
      dropReadAhead();
      const consumed = model === 'RefreshToken' ? takeHeldConsume('RefreshToken') : undefined;
      if (consumed !== undefined) {
        const [row] = await sql(consumeAndUpsert, [...rowParams(model, id, payload, expiresIn), consumed]);
        if (!(row as { consumed: number }).consumed) {
          // The replacement must not outlive the refusal, whatever the old token's grant.
          await sql('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
          await refuseReuse(consumed);
        }
        return;
      }
      const held = heldGrants();
      if (model === 'Grant' && held) {
        held.set(id, { id, payload, expiresIn });
        return;
      }
      const grant = model === 'Session' && held?.size === 1 ? [...held.values()][0] : undefined;
      if (grant) {
        await sql(upsertSessionWithGrant, [...rowParams(model, id, payload, expiresIn), ...rowParams('Grant', grant.id, grant.payload, grant.expiresIn)]);
        held!.clear();
        return;
      }
      await sql(upsertOne, rowParams(model, id, payload, expiresIn));
    },
    async findByUserCode() { return undefined; },
    async consume(id) {
      dropReadAhead();
      // With rotation, the replacement's insert follows at once and consumes this in its statement.
      if (model === 'RefreshToken' && holdConsume(model, id)) return;
      const rows = await sql(consumeOne, [model, id]);
      if (!rows.length) await refuseReuse(id);
    },
    async destroy(id) {
      dropReadAhead();
      if (model === 'Grant') heldGrants()?.delete(id);
      await sql('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
    },
    async revokeByGrantId(grantId) { dropReadAhead(); await revokeGrant(grantId); },
  };
}

/** oidc-provider's context of the current request when it is a resume (the redirect back). */
function resumeContext(): object | undefined {
  const ctx = Provider.ctx as { oidc?: { route?: string } } | undefined;
  return ctx?.oidc?.route === 'resume' ? ctx : undefined;
}

/** Where a short-lived model's payload is in the store, and its "consumed" marker. */
const storeKey = (model: string, id: string) => `oidc:${model}:${id}`;
const markerOf = (key: string) => `${key}:consumed`;
const consumedKey = (model: string, id: string) => markerOf(storeKey(model, id));

/** Short-lived models: JSON in the store with the model's TTL, indexed by grant for revocation. */
function storeAdapter(store: KeyValueStore, model: string, revokeGrant: (grantId: string) => Promise<void>): Adapter {
  const key = (id: string) => storeKey(model, id);
  /** Marks `model` token `id` consumed; true when this call did (atomic). */
  const markConsumed = (consumedModel: string, id: string) =>
    store.setIfAbsent(consumedKey(consumedModel, id), String(Math.floor(Date.now() / 1000)), consumedMarkerSeconds);
  /** A consumption that found the token already used: its grant is revoked (theft), then invalid_grant. */
  const refuseReuse = async (consumedModel: string, id: string): Promise<never> => {
    const raw = await store.get(storeKey(consumedModel, id));
    const grantId = raw ? (JSON.parse(raw) as AdapterPayload).grantId : undefined;
    if (grantId) await revokeGrant(grantId);
    throw reuseError(consumedModel);
  };
  // Only interactions are taken at a resume.
  const resume = model === 'Interaction' ? resumeContext : () => undefined;
  return {
    async upsert(id, payload, expiresIn) {
      const ttl = Math.max(1, expiresIn ?? 3600);
      // A resume that saves its interaction again (oidc-provider does, to switch accounts) keeps
      // it: the store has it, nothing to put back.
      const resuming = resume();
      if (resuming) {
        dropPutBack(key(id));
        offeredInteractionWritten(resuming, id);
      }
      // Codes and tokens are indexed under their grant, to go with it when it is revoked; an
      // interaction is not (a sign-out that revokes the old member's grant must not take the
      // interaction that is switching to another member).
      const write = payload.grantId && model !== 'Interaction'
        ? store.setIndexed(key(id), JSON.stringify(payload), ttl, `oidc:grant:${payload.grantId}`)
        : store.set(key(id), JSON.stringify(payload), ttl);
      // What this request held back goes out with this write, in one round trip: the code's
      // consumption (at the token endpoint, this is its access token), and an interaction's
      // deletion by a resume in place (this is its code).
      const code = takeHeldConsume('AuthorizationCode');
      const deletes = takeHeldDeletes();
      if (!code && !deletes) {
        await write;
        return;
      }
      const [, first] = await Promise.all([write, code ? markConsumed('AuthorizationCode', code) : true, deletes && store.del(...deletes)]);
      // A reused code: the grant's revocation takes this token with it (it is indexed under the grant).
      if (!first) await refuseReuse('AuthorizationCode', code!);
    },
    async find(id) {
      const resuming = resume();
      if (resuming) {
        // Resumed in the request that signed in (resume-in-place.ts): the interaction as it holds it.
        const offered = takeOfferedInteraction(resuming, id);
        if (offered) return offered;
        // The redirect back reads its interaction and, once the checks pass, deletes it: one
        // GETDEL does both. (A resume that fails its checks uses its interaction up; a retry
        // would fail the same checks.) One the request neither deletes nor saves is put back.
        const taken = await store.getDel(key(id));
        if (!taken) return undefined;
        const payload = JSON.parse(taken) as AdapterPayload;
        holdPutBack(key(id), taken, Number(payload.exp));
        return payload;
      }
      const [raw, consumed] = await store.mget([key(id), consumedKey(model, id)]);
      if (!raw) return undefined;
      const payload = JSON.parse(raw) as AdapterPayload;
      return consumed ? { ...payload, consumed: Number(consumed) } : payload;
    },
    async findByUid() { return undefined; },
    async findByUserCode() { return undefined; },
    async consume(id) {
      // At the token endpoint the access token's write follows at once and consumes the code with it.
      if (model === 'AuthorizationCode' && holdConsume(model, id)) return;
      if (!await markConsumed(model, id)) await refuseReuse(model, id);
    },
    async destroy(id) {
      const resuming = resume();
      // Taken by the resume's GETDEL: already deleted.
      if (resuming && dropPutBack(key(id))) return;
      // Offered by a resume in place: deleted with the code's write, next.
      const keys = [key(id), consumedKey(model, id)];
      if (resuming && offeredInteractionWritten(resuming, id) && holdDelete(keys)) return;
      await store.del(...keys);
    },
    async revokeByGrantId(grantId) { await revokeGrant(grantId); },
  };
}

/** Reads a client's metadata from `oidc_clients`; a disabled or unknown client is `undefined`. */
export function clientMetadataReader(sql: Sql): (clientId: string) => Promise<AdapterPayload | undefined> {
  return async (clientId) => {
    const rows = await sql('SELECT metadata FROM oidc_clients WHERE client_id = $1 AND NOT disabled', [clientId]);
    return rows[0]?.metadata;
  };
}

/**
 * Read-only client registry over `oidc_clients`. With `cached` (PostgreSQL's change feed), reads
 * come from memory until the row changes; otherwise every use reads the table. Either way an
 * edit applies to the client's next request on every instance.
 */
function clientAdapter(read: (clientId: string) => Promise<AdapterPayload | undefined>): Adapter {
  const readOnly = async () => { throw new Error('clients are managed with `tobira clients`'); };
  return {
    find: (id) => read(id),
    upsert: readOnly,
    destroy: readOnly,
    consume: readOnly,
    async findByUid() { return undefined; },
    async findByUserCode() { return undefined; },
    async revokeByGrantId() {},
  };
}

/**
 * The oidc-provider adapter factory: `adapter: createAdapterFactory({ ds, store, clients })`.
 * `clients` reads client metadata (a cache kept fresh by the change feed); by default the table.
 */
export function createAdapterFactory(deps: {
  ds: DataSource; store: KeyValueStore; clients?: CachedReads<AdapterPayload>;
}): (model: string) => Adapter {
  const { ds, store } = deps;
  const sql = plainSql(ds);
  const readClient = deps.clients ? (id: string) => deps.clients!.get(id) : clientMetadataReader(sql);
  async function revokeGrant(grantId: string): Promise<void> {
    heldGrants()?.delete(grantId);
    const keys = await store.smembers(`oidc:grant:${grantId}`);
    await store.del(...keys, ...keys.map(markerOf), `oidc:grant:${grantId}`);
    await sql('DELETE FROM oidc_payloads WHERE grant_id = $1 OR (model = $2 AND id = $1)', [grantId, 'Grant']);
  }
  return (model: string) => {
    if (model === 'Client') return clientAdapter(readClient);
    return durableModels.has(model) ? postgresAdapter(sql, model, revokeGrant) : storeAdapter(store, model, revokeGrant);
  };
}

/**
 * Deletes up to `limit` rows of `oidc_payloads` whose time to live has passed (expired sessions,
 * grants and refresh tokens are never read again, but nothing else removes them). Returns how
 * many were deleted; call it periodically until it returns less than `limit`.
 */
export async function purgeExpiredPayloads(ds: Pick<DataSource, 'query'>, limit = 1000): Promise<number> {
  // A SELECT over the DELETE: drivers answer a bare DELETE in different shapes.
  const rows = await ds.query(
    `WITH d AS (DELETE FROM oidc_payloads WHERE (model, id) IN (
       SELECT model, id FROM oidc_payloads WHERE expires_at <= now() LIMIT $1) RETURNING 1)
     SELECT count(*)::int AS n FROM d`,
    [limit],
  );
  return rows[0].n;
}
