import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import pg from 'pg';
import * as oidc from 'openid-client';
import { createAdapterFactory, purgeExpiredPayloads, readAheadStatements } from '../../src/oidc/adapter.ts';
import { authorize, createRp, device, exchange, followToCallback, passkeySignIn } from '../helpers/oidc-flow.ts';
import { createMember } from '../helpers/oidc-extra.ts';

describe(`oidc-provider storage adapter (${backendLabel()})`, () => {
  let t: TestTobira;
  let adapter: ReturnType<typeof createAdapterFactory>;
  before(async () => {
    t = await sharedTobira();
    adapter = createAdapterFactory({ ds: t.container.ds, store: t.container.store });
  });
  const id = () => randomBytes(16).toString('base64url');

  /** What `run` returns, and the text of every statement the pg client sent meanwhile. */
  async function statementsOf<T>(run: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text?: string };
      sent.push(typeof config === 'string' ? config : String(config?.text));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      return { result: await run(), sent };
    } finally {
      pg.Client.prototype.query = query;
    }
  }

  /** A member who has just signed in with a passkey; the browser is about to follow the redirect back. */
  async function signedInBeforeRedirectBack() {
    const rp = await createRp(t);
    const member = await createMember(t, rp);
    const ua = device(t);
    const auth = await authorize(ua, rp);
    const verified = await passkeySignIn(ua, t, auth, member.authenticator);
    expect(verified.status, verified.text).to.equal(200);
    return { rp, member, ua, auth, verified };
  }

  for (const model of ['RefreshToken', 'AuthorizationCode'] as const) {
    it(`${model}: of five concurrent consumes exactly one succeeds; the others revoke the grant and say invalid_grant`, async () => {
      const grantId = id();
      const tokenId = id();
      const grants = adapter('Grant');
      const tokens = adapter(model);
      await grants.upsert(grantId, { jti: grantId, accountId: 'a', clientId: 'c', kind: 'Grant' }, 600);
      await tokens.upsert(tokenId, { jti: tokenId, grantId, kind: model }, 600);
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => tokens.consume(tokenId)));
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      for (const r of results.filter((x) => x.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason.error).to.equal('invalid_grant');
      }
      expect(await grants.find(grantId), 'reuse revokes the grant').to.equal(undefined);
      expect(await tokens.find(tokenId), 'and the token with it').to.equal(undefined);
    });
  }

  it('RefreshToken: a consumed token is found with its consumed time', async () => {
    const tokens = adapter('RefreshToken');
    const tokenId = id();
    await tokens.upsert(tokenId, { jti: tokenId, kind: 'RefreshToken' }, 600);
    expect((await tokens.find(tokenId))!.consumed).to.equal(undefined);
    await tokens.consume(tokenId);
    expect((await tokens.find(tokenId))!.consumed).to.be.a('number').within(Date.now() / 1000 - 60, Date.now() / 1000 + 1);
  });

  it('purges expired durable rows and keeps live ones', async () => {
    const { ds } = t.container;
    const expired = id();
    const live = id();
    await ds.query(`INSERT INTO oidc_payloads (model, id, payload, expires_at) VALUES ('Session', $1, '{}', now() - interval '1 minute')`, [expired]);
    await adapter('Session').upsert(live, { jti: live, uid: id(), kind: 'Session' }, 600);
    let purged = 0;
    for (let n = -1; n !== 0 && purged < 100_000;) { n = await purgeExpiredPayloads(ds, 500); purged += n; }
    expect(purged).to.be.at.least(1);
    const left = await ds.query('SELECT id FROM oidc_payloads WHERE id = ANY($1)', [[expired, live]]);
    expect(left.map((r: { id: string }) => r.id)).to.deep.equal([live]);
  });

  it("stores a sign-in's new grant with its session in one statement at the redirect back, before the code can be used", async () => {
    const { rp, ua, auth, verified } = await signedInBeforeRedirectBack();
    // Every statement the redirect back sends (on PostgreSQL; the embedded database has no pg client).
    const { result: callback, sent } = await statementsOf(() => followToCallback(ua, rp, verified.json.redirectTo));
    const writes = sent.filter((text) => /INSERT INTO oidc_payloads/.test(text));
    if (t.config.databaseUrl) {
      expect(writes, sent.join('\n---\n')).to.have.length(1);
      expect(writes[0]).to.match(/^WITH g AS \(INSERT INTO oidc_payloads/);
    }
    const tokens = await exchange(rp, auth, callback);
    const claims = tokens.claims()!;
    const rows: { model: string; account_id: string }[] = await t.container.ds.query(
      `SELECT model, account_id FROM oidc_payloads WHERE model IN ('Grant', 'Session') AND account_id = $1`, [claims.sub]);
    expect(rows.map((r) => r.model).sort()).to.include.members(['Grant', 'Session']);
    expect(tokens.refresh_token, 'a refresh token under that grant').to.be.a('string');
  });

  it('consumes a rotated refresh token in the statement that inserts its replacement; a reused one is still refused and revokes the grant', async () => {
    const { rp, ua, auth, verified } = await signedInBeforeRedirectBack();
    const tokens = await exchange(rp, auth, await followToCallback(ua, rp, verified.json.redirectTo));
    const first = tokens.refresh_token!;
    const { result: next, sent } = await statementsOf(() => oidc.refreshTokenGrant(rp.config, first));
    const writes = sent.filter((text) => /UPDATE oidc_payloads|INSERT INTO oidc_payloads/.test(text));
    if (t.config.databaseUrl) {
      expect(writes, sent.join('\n---\n')).to.have.length(1);
      expect(writes[0]).to.match(/^WITH c AS \(UPDATE oidc_payloads SET consumed_at/);
    }
    const rows: { id: string; consumed_at: Date | null }[] = await t.container.ds.query(
      `SELECT id, consumed_at FROM oidc_payloads WHERE model = 'RefreshToken' AND id = ANY($1)`, [[first, next.refresh_token]]);
    expect(rows.find((r) => r.id === first)?.consumed_at, 'the old token, consumed').to.not.equal(null);
    expect(rows.find((r) => r.id === next.refresh_token)?.consumed_at, 'its replacement, stored unconsumed').to.equal(null);
    // Reuse of the old token: refused, and the grant's newest token stops working too.
    const reused = await oidc.refreshTokenGrant(rp.config, first).then(() => undefined, (error: { error?: string }) => error);
    expect(reused?.error).to.equal('invalid_grant');
    const newest = await oidc.refreshTokenGrant(rp.config, next.refresh_token!).then(() => undefined, (error: { error?: string }) => error);
    expect(newest?.error).to.equal('invalid_grant');
  });

  it('takes the interaction at the redirect back with one GETDEL: it is gone afterwards, and a replayed resume is refused', async () => {
    const { rp, member, ua, auth, verified } = await signedInBeforeRedirectBack();
    const interactionKey = `oidc:Interaction:${auth.uid}`;
    expect(await t.container.store.get(interactionKey), 'the interaction, with its result').to.be.a('string');
    // Every store call naming the interaction while the browser follows the redirect back.
    const store = t.container.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const calls: string[] = [];
    const originals = Object.fromEntries(['get', 'mget', 'getDel', 'del', 'set', 'setIndexed'].map((name) => [name, store[name]!]));
    for (const [name, original] of Object.entries(originals)) {
      store[name] = (...args: unknown[]) => {
        if (args.flat().includes(interactionKey)) calls.push(name);
        return original.apply(store, args);
      };
    }
    let callback: URL;
    try {
      callback = await followToCallback(ua, rp, verified.json.redirectTo);
    } finally {
      Object.assign(store, originals);
    }
    expect(calls).to.deep.equal(['getDel']);
    expect(await t.container.store.get(interactionKey), 'the interaction after the redirect back').to.equal(null);
    const replay = await ua.get(`${t.url}/auth/${auth.uid}`);
    expect(replay.status).to.be.within(400, 499);
    const tokens = await exchange(rp, auth, callback);
    const [account] = await t.container.ds.query('SELECT id FROM accounts WHERE email = $1', [member.email]);
    expect(tokens.claims()!.sub).to.equal(account.id);
  });

  it('reads a session with its grants, or a refresh token with its session, by index lookups however large the table and whatever its statistics', async () => {
    // 3,000 sessions, each with a grant and a refresh token, and no ANALYZE since: the planner
    // knows nothing of the rows. A plan that scans every session or grant reads hundreds of pages.
    const { ds } = t.container;
    const tag = id();
    await ds.query(
      `INSERT INTO oidc_payloads (model, id, payload, uid, grant_id, expires_at)
       SELECT m.model, $1 || m.model || i, CASE m.model
           WHEN 'Session' THEN jsonb_build_object('uid', $1 || 'uid' || i, 'authorizations', jsonb_build_object('c', jsonb_build_object('grantId', $1 || 'Grant' || i)))
           WHEN 'RefreshToken' THEN jsonb_build_object('sessionUid', $1 || 'uid' || i, 'grantId', $1 || 'Grant' || i)
           ELSE '{}'::jsonb END,
         CASE m.model WHEN 'Session' THEN $1 || 'uid' || i END, CASE m.model WHEN 'RefreshToken' THEN $1 || 'Grant' || i END,
         now() + interval '1 hour'
       FROM generate_series(1, 3000) i, (VALUES ('Session'), ('Grant'), ('RefreshToken')) m(model)`,
      [tag],
    );
    try {
      /** Pages the statement reads, and its plan (for the failure message). */
      const pagesRead = async (statement: string, value: string): Promise<[number, string]> => {
        const [row] = await ds.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.replaceAll('$1', `'${value}'`)}`);
        const plan = (row['QUERY PLAN'] ?? row['query plan'])[0].Plan;
        return [plan['Shared Hit Blocks'] + plan['Shared Read Blocks'], JSON.stringify(plan, null, 1)];
      };
      const rows = await ds.query(readAheadStatements.sessionWithGrants, [`${tag}uid1500`]);
      expect(rows.map((r: { model: string }) => r.model)).to.deep.equal(['Session', 'Grant']);
      const [sessionPages, sessionPlan] = await pagesRead(readAheadStatements.sessionWithGrants, `${tag}uid1500`);
      expect(sessionPages, sessionPlan).to.be.below(60);
      const refresh = await ds.query(readAheadStatements.refreshTokenWithSessionAndGrant, [`${tag}RefreshToken1500`]);
      expect(refresh.map((r: { model: string }) => r.model).sort()).to.deep.equal(['Grant', 'RefreshToken', 'Session']);
      const [refreshPages, refreshPlan] = await pagesRead(readAheadStatements.refreshTokenWithSessionAndGrant, `${tag}RefreshToken1500`);
      expect(refreshPages, refreshPlan).to.be.below(60);
    } finally {
      await ds.query(`DELETE FROM oidc_payloads WHERE id LIKE $1 || '%'`, [tag]);
    }
  });
});

