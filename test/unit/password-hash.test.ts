import { expect } from 'chai';
import { pbkdf2Sync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import * as argon2 from '@node-rs/argon2';
import { describeHash, verifyDummy, verifyPassword } from '../../src/accounts/password-hash.ts';

/**
 * Hashes made by the systems members are imported from, not by Tobira's own code: Django 3.2's
 * `make_password` and passlib 1.7.4 (Debian's python3-django and python3-passlib), for
 * {@link referencePassword}.
 */
const referencePassword = 'correct horse ✓ battery';
const reference = {
  'passlib pbkdf2_sha256': '$pbkdf2-sha256$29000$BEAIYcyZc04pJSREKMXYuw$Udb0Wqcm4h0FieyOtrnumNcP/LFC2204x5gFbWXyu68',
  'passlib pbkdf2_sha1': '$pbkdf2$131000$yfmfs9Z6T4nRmrN2zvmf8w$Nha17IP6VoZp15D1UOg3p7LaOkA',
  'passlib pbkdf2_sha512': '$pbkdf2-sha512$25000$c04JgRCitHaOUerdWwvhPA$Ovsjj2Y19tjC2llmOhNlIX3iFa8.7/kW.RlDGpP4jheyv0SWmu38DKeHMqAHBnysDBCYc8hBzYw/EG5n.2HLnQ',
  'Django pbkdf2_sha256': 'pbkdf2_sha256$260000$BiuA6W6n2ZJ8jFc1jSPYBz$6zu/p7RMBY0WSII3rzRm/9/IlSBfkm6JIfKVlN20S/w=',
  'Django pbkdf2_sha1': 'pbkdf2_sha1$260000$JZcb6NycHXY7CHaweCzzOu$8kqvwnCCEEqhf8Jp7tjfnH67rFE=',
  'passlib django_pbkdf2_sha256': 'pbkdf2_sha256$29000$KUMdxQ2N032p$ouYLJuQYFSFPivNbJmLEXUapqHMPlKJG+Pri+cMiMF0=',
  // The PHP manual's password_verify() example.
  'PHP password_hash ($2y$)': '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a',
  // The argon2 reference implementation's README example.
  'argon2 reference (argon2i)': '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG',
};
const passwordOf = (name: string) => (name.startsWith('PHP') ? 'rasmuslerdorf' : name.startsWith('argon2 reference') ? 'password' : referencePassword);

describe('password hashes of imported members', () => {
  for (const [name, hash] of Object.entries(reference)) {
    it(`verifies a ${name} hash, and refuses a wrong password`, async () => {
      expect(describeHash(hash)).to.include({ ok: true });
      expect(await verifyPassword(passwordOf(name), hash)).to.equal(true);
      expect(await verifyPassword(`${passwordOf(name)}x`, hash)).to.equal(false);
      expect(await verifyPassword('', hash)).to.equal(false);
    });
  }

  it('verifies bcrypt $2a$, $2b$ and $2y$ (the same algorithm under three names)', async () => {
    const hash = await bcrypt.hash('s3cret-Passw0rd', 4).then((h) => h.replace(/^\$2[ab]\$/, '$2b$'));
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const variant = prefix + hash.slice(4);
      expect(describeHash(variant)).to.deep.equal({ ok: true, scheme: 'bcrypt' });
      expect(await verifyPassword('s3cret-Passw0rd', variant), prefix).to.equal(true);
      expect(await verifyPassword('s3cret-passw0rd', variant), prefix).to.equal(false);
    }
  });

  it('verifies argon2id and argon2i PHC strings', async () => {
    for (const algorithm of [2, 1]) {
      const hash = await argon2.hash('パスワード', { algorithm, memoryCost: 1024, timeCost: 1 });
      expect(describeHash(hash)).to.deep.equal({ ok: true, scheme: 'argon2' });
      expect(await verifyPassword('パスワード', hash)).to.equal(true);
      expect(await verifyPassword('ぱすわーど', hash)).to.equal(false);
    }
  });

  it('verifies the documented PBKDF2 format with i= and l=, the RFC 6070 and RFC 7914 test vectors', async () => {
    // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64.
    const rfc7914 = '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783';
    const phc = `$pbkdf2-sha256$i=1,l=64$${Buffer.from('salt').toString('base64')}$${Buffer.from(rfc7914, 'hex').toString('base64')}`;
    expect(await verifyPassword('passwd', phc)).to.equal(true);
    // RFC 6070: PBKDF2-HMAC-SHA1, P="password", S="salt", c=4096, dkLen=20 (as Django writes it).
    const django = `pbkdf2_sha1$4096$salt$${Buffer.from('4b007901b765489abead49d926f721d065a429c1', 'hex').toString('base64')}`;
    expect(await verifyPassword('password', django)).to.equal(true);
    expect(await verifyPassword('Password', django)).to.equal(false);
  });

  it('accepts base64 with or without padding in the documented format', async () => {
    const salt = Buffer.from('0123456789abcdef');
    const dk = pbkdf2Sync('pw', salt, 1000, 32, 'sha512');
    const padded = `$pbkdf2-sha512$i=1000$${salt.toString('base64')}$${dk.toString('base64')}`;
    expect(await verifyPassword('pw', padded)).to.equal(true);
    const unpadded = padded.replace(/=+(\$|$)/g, '$1');
    expect(unpadded).to.have.length(padded.length - 3);
    expect(await verifyPassword('pw', unpadded)).to.equal(true);
  });

  it('refuses formats it cannot verify safely, and says why', async () => {
    const refused: [string, RegExp][] = [
      ['5f4dcc3b5aa765d61d8327deb882cf99', /unknown password hash format/],
      ['$2x$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a', /\$2x\$/],
      ['$2b$31$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a', /cost must be from 4 to 15/],
      ['$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG', /above the limits/],
      ['$argon2id$v=19$m=65536,t=2,p=4$not base64!$x', /not a valid argon2/],
      ['$argon2d$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG', /unknown password hash format/],
      ['pbkdf2_sha256$99000000$salt$6zu/p7RMBY0WSII3rzRm/9/IlSBfkm6JIfKVlN20S/w=', /iterations must be from 1 to 5000000/],
      ['pbkdf2_sha256$1000$salt$AAAA', /must be 16 to 64 bytes/],
      ['pbkdf2_md5$1000$salt$6zu/p7RMBY0WSII3rzRm/9/IlSBfkm6JIfKVlN20S/w=', /unknown password hash format/],
    ];
    for (const [hash, reason] of refused) {
      const described = describeHash(hash);
      expect(described.ok, hash).to.equal(false);
      expect((described as { reason: string }).reason, hash).to.match(reason);
      expect(await verifyPassword('password', hash), hash).to.equal(false);
    }
  });

  it('a dummy verification never matches and takes about as long as a bcrypt cost-10 one', async () => {
    const real = await bcrypt.hash('pw', 10);
    await verifyDummy('warm-up');
    const time = async (fn: () => Promise<unknown>) => { const start = performance.now(); await fn(); return performance.now() - start; };
    const dummyMs = await time(() => verifyDummy('pw'));
    const realMs = await time(() => verifyPassword('nope', real));
    expect(await verifyDummy('')).to.equal(false);
    expect(dummyMs).to.be.within(realMs / 4, realMs * 4);
  });
});
