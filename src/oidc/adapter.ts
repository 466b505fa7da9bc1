import type { DataSource } from 'typeorm';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { KeyValueStore } from '../store/store.ts';

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

/** Durable models: rows in `oidc_payloads`. Consumption is one conditional UPDATE (atomic). */
function postgresAdapter(ds: DataSource, model: string, revokeGrant: (grantId: string) => Promise<void>): Adapter {
  const select = `SELECT payload, consumed_at FROM oidc_payloads
    WHERE model = $1 AND %COL% = $2 AND (expires_at IS NULL OR expires_at > now()) LIMIT 1`;
  const load = async (column: 'id' | 'uid', value: string): Promise<AdapterPayload | undefined> => {
    const rows = await ds.query(select.replace('%COL%', column), [model, value]);
    if (!rows.length) return undefined;
    const { payload, consumed_at: consumedAt } = rows[0];
    return consumedAt ? { ...payload, consumed: Math.floor(new Date(consumedAt).getTime() / 1000) } : payload;
  };
  return {
    async upsert(id, payload, expiresIn) {
      await ds.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, account_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(secs => $7::int) END)
         ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
           uid = EXCLUDED.uid, account_id = EXCLUDED.account_id, expires_at = EXCLUDED.expires_at`,
        [model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null,
          payload.accountId ?? null, expiresIn ?? null],
      );
    },
    find: (id) => load('id', id),
    findByUid: (uid) => load('uid', uid),
    async findByUserCode() { return undefined; },
    async consume(id) {
      const rows = await ds.query(
        `WITH c AS (UPDATE oidc_payloads SET consumed_at = now()
           WHERE model = $1 AND id = $2 AND consumed_at IS NULL RETURNING grant_id)
         SELECT grant_id FROM c`,
        [model, id],
      );
      if (!rows.length) {
        const existing = await load('id', id);
        if (existing?.grantId) await revokeGrant(existing.grantId);
        throw reuseError(model);
      }
    },
    async destroy(id) {
      await ds.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
    },
    async revokeByGrantId(grantId) { await revokeGrant(grantId); },
  };
}

/** Short-lived models: JSON in the store with the model's TTL, indexed by grant for revocation. */
function storeAdapter(store: KeyValueStore, model: string, revokeGrant: (grantId: string) => Promise<void>): Adapter {
  const key = (id: string) => `oidc:${model}:${id}`;
  return {
    async upsert(id, payload, expiresIn) {
      const ttl = Math.max(1, expiresIn ?? 3600);
      if (payload.grantId) await store.setIndexed(key(id), JSON.stringify(payload), ttl, `oidc:grant:${payload.grantId}`);
      else await store.set(key(id), JSON.stringify(payload), ttl);
    },
    async find(id) {
      const [raw, consumed] = await store.mget([key(id), `${key(id)}:consumed`]);
      if (!raw) return undefined;
      const payload = JSON.parse(raw) as AdapterPayload;
      return consumed ? { ...payload, consumed: Number(consumed) } : payload;
    },
    async findByUid() { return undefined; },
    async findByUserCode() { return undefined; },
    async consume(id) {
      const first = await store.setIfAbsent(`${key(id)}:consumed`, String(Math.floor(Date.now() / 1000)), consumedMarkerSeconds);
      if (!first) {
        const raw = await store.get(key(id));
        const grantId = raw ? (JSON.parse(raw) as AdapterPayload).grantId : undefined;
        if (grantId) await revokeGrant(grantId);
        throw reuseError(model);
      }
    },
    async destroy(id) { await store.del(key(id), `${key(id)}:consumed`); },
    async revokeByGrantId(grantId) { await revokeGrant(grantId); },
  };
}

/** Read-only client registry: `oidc_clients`, read on every use so edits apply at once everywhere. */
function clientAdapter(ds: DataSource): Adapter {
  const readOnly = async () => { throw new Error('clients are managed with `tobira clients`'); };
  return {
    async find(id) {
      const rows = await ds.query('SELECT metadata FROM oidc_clients WHERE client_id = $1 AND NOT disabled', [id]);
      return rows[0]?.metadata;
    },
    upsert: readOnly,
    destroy: readOnly,
    consume: readOnly,
    async findByUid() { return undefined; },
    async findByUserCode() { return undefined; },
    async revokeByGrantId() {},
  };
}

/**
 * The oidc-provider adapter factory: `adapter: createAdapterFactory({ ds, store })`.
 */
export function createAdapterFactory(deps: { ds: DataSource; store: KeyValueStore }): (model: string) => Adapter {
  const { ds, store } = deps;
  async function revokeGrant(grantId: string): Promise<void> {
    const keys = await store.smembers(`oidc:grant:${grantId}`);
    await store.del(...keys, ...keys.map((k) => `${k}:consumed`), `oidc:grant:${grantId}`);
    await ds.query('DELETE FROM oidc_payloads WHERE grant_id = $1 OR (model = $2 AND id = $1)', [grantId, 'Grant']);
  }
  return (model: string) => {
    if (model === 'Client') return clientAdapter(ds);
    return durableModels.has(model) ? postgresAdapter(ds, model, revokeGrant) : storeAdapter(store, model, revokeGrant);
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
