import { expect } from 'chai';
import { sharedTobira, startTobira, backendLabel, testSecrets, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, type TestRp } from '../helpers/oidc-flow.ts';
import { createUserAgent } from '../helpers/user-agent.ts';
import { en } from '../../src/i18n/en.ts';
import { createMember, fetchJwks, jwtParts, signedInDevice, verifiesWith, type TestMember } from '../helpers/oidc-extra.ts';
import { loadSigningKeys, rotateSigningKeys } from '../../src/oidc/signing-keys.ts';

describe(`signing-key rotation (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: TestMember;
  let second: TestTobira | undefined;
  const others: TestTobira[] = [];
  before(async () => {
    t = await sharedTobira();
    rp = await createRp(t);
    member = await createMember(t, rp);
  });
  after(async () => { await Promise.all([second, ...others].map((x) => x?.close())); });

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

  it('cookie keys rotate: a cookie signed with the previous key still works, one signed with no configured key is refused', async function () {
    if (!process.env.DATABASE_URL || !process.env.REDIS_URL) {
      console.log('      (skipped: instances sharing an interaction need DATABASE_URL and REDIS_URL)');
      this.skip();
    }
    // One browser (cookies are per host, not per port), sending each instance its own Origin.
    const ua = createUserAgent();
    const auth = await authorize(ua, rp);
    const shared = { DATA_ENCRYPTION_KEY: t.config.dataEncryptionKey, REDIS_PREFIX: t.config.redisPrefix };
    const rotated = await startTobira({ ...shared, COOKIE_KEYS: `rotated-cookie-key-0123456789abcdefghijklmnop,${testSecrets.COOKIE_KEYS}` });
    const unknown = await startTobira({ ...shared, COOKIE_KEYS: 'unrelated-cookie-key-0123456789abcdefghijklmn' });
    others.push(rotated, unknown);
    const options = (x: TestTobira) => ua.post(`${x.url}/interaction/${auth.uid}/passkey/options`, {}, { headers: { origin: x.url } });

    const accepted = await options(rotated);
    expect(accepted.status, accepted.text).to.equal(200);
    expect(accepted.json.challenge).to.be.a('string');
    const refused = await options(unknown);
    expect(refused.status).to.equal(404);
    expect(refused.json).to.deep.equal({ error: 'interaction.not_found', message: en.errors['interaction.not_found'] });
  });
});
