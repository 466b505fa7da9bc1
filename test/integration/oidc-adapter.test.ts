import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createAdapterFactory, purgeExpiredPayloads } from '../../src/oidc/adapter.ts';

describe(`oidc-provider storage adapter (${backendLabel()})`, () => {
  let t: TestTobira;
  let adapter: ReturnType<typeof createAdapterFactory>;
  before(async () => {
    t = await sharedTobira();
    adapter = createAdapterFactory({ ds: t.container.ds, store: t.container.store });
  });
  const id = () => randomBytes(16).toString('base64url');

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
});
