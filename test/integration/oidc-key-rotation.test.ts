import { expect } from 'chai';
import { sharedTobira, startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { createRp, type TestRp } from '../helpers/oidc-flow.ts';
import { createMember, fetchJwks, jwtParts, signedInDevice, verifiesWith, type TestMember } from '../helpers/oidc-extra.ts';
import { loadSigningKeys, rotateSigningKeys } from '../../src/oidc/signing-keys.ts';

describe(`signing-key rotation (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  let second: TestTobira | undefined;
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });
  after(async () => { await second?.close(); });

  it('adds a key of each algorithm that comes first on the next load, and keeps the old ones', async () => {
    const { ds, box } = t.container;
    const before = (await loadSigningKeys(ds, box)).keys;
    const [esKid, rsKid] = await rotateSigningKeys(ds, box);
    const after = (await loadSigningKeys(ds, box)).keys;
    expect(after.find((k) => k.alg === 'ES256')!.kid, 'the newest ES256 key signs').to.equal(esKid);
    expect(after.find((k) => k.alg === 'RS256')!.kid, 'the newest RS256 key signs').to.equal(rsKid);
    const kept = after.map((k) => k.kid);
    for (const alg of ['ES256', 'RS256']) {
      const newestOld = before.find((k) => k.alg === alg)!;
      expect(kept, `the previous ${alg} key still verifies`).to.include(newestOld.kid);
    }
    expect(after.filter((k) => k.alg === 'ES256').length).to.be.at.most(3);
  });

  it('a second Tobira on the same database publishes old and new keys, signs with the new one, and old tokens still verify', async function () {
    if (!process.env.DATABASE_URL) {
      console.log('      (skipped: a second Tobira on the same database needs DATABASE_URL; embedded PGlite is one process\'s files)');
      this.skip();
    }
    const old = await signedInDevice(t, rp, member);
    const oldKid = jwtParts(old.tokens.id_token!).header.kid as string;
    const oldJwks = await fetchJwks(`${t.url}/jwks`);
    expect(oldJwks.map((k) => k.kid)).to.include(oldKid);

    const [newEsKid, newRsKid] = await rotateSigningKeys(t.container.ds, t.container.box);
    second = await startTobira({ DATA_ENCRYPTION_KEY: t.config.dataEncryptionKey });

    const jwks = await fetchJwks(`${second.url}/jwks`);
    const kids = jwks.map((k) => k.kid);
    expect(kids).to.include.members([newEsKid, newRsKid, oldKid]);
    for (const key of jwks) expect(key).not.to.have.property('d');

    const rp2 = await createRp(second);
    const fresh = await signedInDevice(second, rp2, member);
    const { header } = jwtParts(fresh.tokens.id_token!);
    expect(header.kid).to.equal(newEsKid);
    expect(header.alg).to.equal('ES256');
    expect(verifiesWith(fresh.tokens.id_token!, jwks)).to.equal(true);
    expect(verifiesWith(old.tokens.id_token!, jwks), 'a token signed before the rotation still verifies').to.equal(true);
    expect(verifiesWith(fresh.tokens.id_token!, oldJwks), 'the old JWKS does not know the new key').to.equal(false);
  });
});
