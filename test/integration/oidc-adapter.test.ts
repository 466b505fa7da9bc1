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

  /** A member about to sign in with a passkey: the browser is on the sign-in page of `params`' authorization request. */
  async function onSignInPage(params: Record<string, string> = {}) {
    const rp = await createRp(t);
    const member = await createMember(t, rp);
    const ua = device(t);
    const auth = await authorize(ua, rp, params);
    return { rp, member, ua, auth, signIn: () => passkeySignIn(ua, t, auth, member.authenticator) };
  }

  /** A store call made while `run` ran: the method, its (first) key, and the calls still unanswered then. */
  interface StoreCall { name: string; key: string; pending: string[] }

  /** Every store call while `run` runs. `pending` names unanswered calls as "method oidc:Model". */
  async function storeCallsDuring<T>(run: () => Promise<T>): Promise<{ result: T; calls: StoreCall[] }> {
    const store = t.container.store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const calls: StoreCall[] = [];
    const inFlight = new Set<string>();
    const originals = Object.fromEntries(['get', 'mget', 'getDel', 'setIfAbsent', 'set', 'setIndexed', 'del'].map((name) => [name, store[name]!]));
    for (const [name, original] of Object.entries(originals)) {
      store[name] = (...args: unknown[]) => {
        const key = String([args[0]].flat()[0]);
        const label = `${name} ${key.split(':').slice(0, 2).join(':')}`;
        calls.push({ name, key, pending: [...inFlight] });
        inFlight.add(label);
        return (original.apply(store, args) as Promise<unknown>).finally(() => inFlight.delete(label));
      };
    }
    try {
      return { result: await run(), calls };
    } finally {
      Object.assign(store, originals);
    }
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

  it("stores a sign-in's new grant with its session in one statement, before the code can be used", async () => {
    const { rp, auth, signIn } = await onSignInPage();
    // Every statement the sign-in sends, its resume included (on PostgreSQL; the embedded database has no pg client).
    const { result: verified, sent } = await statementsOf(signIn);
    expect(verified.status, verified.text).to.equal(200);
    const writes = sent.filter((text) => /INSERT INTO oidc_payloads/.test(text));
    if (t.config.databaseUrl) {
      expect(writes, sent.join('\n---\n')).to.have.length(1);
      expect(writes[0]).to.match(/^WITH g AS \(INSERT INTO oidc_payloads/);
    }
    const tokens = await exchange(rp, auth, new URL(verified.json.redirectTo));
    const claims = tokens.claims()!;
    const rows: { model: string; account_id: string }[] = await t.container.ds.query(
      `SELECT model, account_id FROM oidc_payloads WHERE model IN ('Grant', 'Session') AND account_id = $1`, [claims.sub]);
    expect(rows.map((r) => r.model).sort()).to.include.members(['Grant', 'Session']);
    expect(tokens.refresh_token, 'a refresh token under that grant').to.be.a('string');
  });

  it('consumes a rotated refresh token in the statement that inserts its replacement; a reused one is still refused and revokes the grant', async () => {
    const { rp, ua, auth, signIn } = await onSignInPage();
    const tokens = await exchange(rp, auth, await followToCallback(ua, rp, (await signIn()).json.redirectTo));
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

  it("consumes an authorization code in the round trip that writes its access token; a reused code is still refused and revokes the grant", async () => {
    const { rp, auth, signIn } = await onSignInPage();
    const callback = new URL((await signIn()).json.redirectTo);
    const { result: tokens, calls } = await storeCallsDuring(() => exchange(rp, auth, callback));
    const consume = calls.find((c) => c.name === 'setIfAbsent' && /^oidc:AuthorizationCode:.*:consumed$/.test(c.key));
    expect(consume, JSON.stringify(calls)).to.not.equal(undefined);
    expect(consume!.pending, 'the access token\'s write, in flight with the consumption').to.include('setIndexed oidc:AccessToken');
    expect(tokens.access_token).to.be.a('string');
    // The same code again: refused, and what it gave stops working.
    const again = await exchange(rp, auth, callback).then(() => undefined, (error: { error?: string }) => error);
    expect(again?.error).to.equal('invalid_grant');
    const userinfo = await fetch(`${t.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status, 'the first access token, revoked with the grant').to.equal(401);
  });

  it("finishes the authorization in the sign-in's own request: it answers the RP's callback, reads the interaction once and deletes it", async () => {
    const { rp, member, ua, auth, signIn } = await onSignInPage();
    const interactionKey = `oidc:Interaction:${auth.uid}`;
    const { result: verified, calls } = await storeCallsDuring(signIn);
    expect(verified.status, verified.text).to.equal(200);
    // The passkey options and the verification read the interaction; the resume, in the
    // verification's request, takes it from there and deletes it. (Before: the result was saved,
    // and the redirect back read it again.)
    const onInteraction = calls.filter((c) => c.key === interactionKey);
    expect(onInteraction.map((c) => c.name)).to.deep.equal(['mget', 'mget', 'del']);
    expect(onInteraction[2]!.pending, "the deletion, in flight with the code's write").to.include('setIndexed oidc:AuthorizationCode');
    const callback = new URL(verified.json.redirectTo);
    expect(callback.href.startsWith(rp.redirectUri), callback.href).to.equal(true);
    expect(callback.searchParams.get('state')).to.equal(auth.state);
    expect(await t.container.store.get(interactionKey), 'the interaction afterwards').to.equal(null);
    const replay = await ua.get(`${t.url}/auth/${auth.uid}`);
    expect(replay.status, 'a replayed resume').to.be.within(400, 499);
    const tokens = await exchange(rp, auth, callback);
    const [account] = await t.container.ds.query('SELECT id FROM accounts WHERE email = $1', [member.email]);
    expect(tokens.claims()!.sub).to.equal(account.id);
  });

  it('sends a member signed in as someone else through the resume URL, which asks to confirm signing out, then signs the new member in', async () => {
    const rp = await createRp(t);
    const [first, second] = [await createMember(t, rp), await createMember(t, rp)];
    const ua = device(t);
    const auth1 = await authorize(ua, rp);
    await exchange(rp, auth1, await followToCallback(ua, rp, (await passkeySignIn(ua, t, auth1, first.authenticator)).json.redirectTo));
    // The same browser, now asked to sign in again, signs in as the second member.
    const auth2 = await authorize(ua, rp, { prompt: 'login' });
    const verified = await passkeySignIn(ua, t, auth2, second.authenticator);
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json.redirectTo, 'not a redirect from the resume in place: the resume URL').to.equal(`${t.url}/auth/${auth2.uid}`);
    expect(await t.container.store.get(`oidc:Interaction:${auth2.uid}`), 'the interaction, kept with its result').to.be.a('string');
    const confirm = await ua.get(verified.json.redirectTo);
    expect(confirm.status).to.equal(200);
    const action = /<form[^>]+action="([^"]+)"/.exec(confirm.text)?.[1];
    const fields = Object.fromEntries([...confirm.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(action, confirm.text.slice(0, 500)).to.match(/\/session\/end\/confirm$/);
    expect(fields).to.include({ logout: 'yes' });
    const signedOut = await ua.post(action!.replace(/&amp;/g, '&'), fields, { form: true });
    const tokens = await exchange(rp, auth2, await followToCallback(ua, rp, signedOut.location!));
    const [account] = await t.container.ds.query('SELECT id FROM accounts WHERE email = $1', [second.email]);
    expect(tokens.claims()!.sub).to.equal(account.id);
  });

  it('leaves a form_post authorization to the redirect back, which takes the interaction with one GETDEL', async () => {
    const { ua, auth, signIn } = await onSignInPage({ response_mode: 'form_post' });
    const interactionKey = `oidc:Interaction:${auth.uid}`;
    const verified = await signIn();
    expect(verified.status, verified.text).to.equal(200);
    expect(verified.json.redirectTo).to.equal(`${t.url}/auth/${auth.uid}`);
    expect(await t.container.store.get(interactionKey), 'the interaction, with its result').to.be.a('string');
    const { result: posted, calls } = await storeCallsDuring(() => ua.get(verified.json.redirectTo));
    expect(calls.filter((c) => c.key === interactionKey).map((c) => c.name)).to.deep.equal(['getDel']);
    expect(posted.status).to.equal(200);
    expect(posted.text).to.match(/<form method="post" action="http:\/\/127\.0\.0\.1:9\/cb\//);
    expect(posted.text).to.include(`value="${auth.state}"`);
    expect(await t.container.store.get(interactionKey), 'the interaction after the redirect back').to.equal(null);
    expect((await ua.get(verified.json.redirectTo)).status, 'a replayed resume').to.be.within(400, 499);
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

