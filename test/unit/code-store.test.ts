import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createSealedBox } from '../../src/crypto/sealed-box.ts';
import { createCodeStore, maxCodeAttempts, type CodeStore } from '../../src/verification/code-store.ts';
import { AppError } from '../../src/http/errors.ts';
import type { KeyValueStore } from '../../src/store/store.ts';

/** The error code `promise` rejects with (fails when it resolves). */
async function errorOf(promise: Promise<unknown>): Promise<{ code: string; params: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(AppError);
    return { code: (error as AppError).code, params: (error as AppError).params };
  }
  throw new Error('expected a rejection');
}

const wrong = (code: string, n = 1) => String((Number(code) + n) % 1_000_000).padStart(6, '0');

describe('code store (memory store)', () => {
  let store: KeyValueStore;
  let codes: CodeStore;
  beforeEach(() => {
    store = createMemoryStore();
    codes = createCodeStore({ store, box: createSealedBox(randomBytes(32).toString('base64url')), ttlSeconds: 600 });
  });
  afterEach(() => store.close());

  it('issues 6-digit codes that return their payload once', async () => {
    const code = await codes.issue('signin', 'uid-1', { accountId: 'a' });
    expect(code).to.match(/^\d{6}$/);
    expect(await codes.verify('signin', 'uid-1', code)).to.deep.equal({ accountId: 'a' });
    expect((await errorOf(codes.verify('signin', 'uid-1', code))).code).to.equal('code.expired');
  });

  it('counts wrong attempts down and burns the code on the fifth', async () => {
    const code = await codes.issue('signin', 'uid-1', {});
    for (let i = 1; i < maxCodeAttempts; i++) {
      expect(await errorOf(codes.verify('signin', 'uid-1', wrong(code, i)))).to.deep.equal({ code: 'code.invalid', params: { remaining: maxCodeAttempts - i } });
    }
    expect((await errorOf(codes.verify('signin', 'uid-1', wrong(code, maxCodeAttempts)))).code).to.equal('code.too_many_attempts');
    expect((await errorOf(codes.verify('signin', 'uid-1', code))).code).to.equal('code.too_many_attempts');
  });

  it('compares at most five of many parallel guesses, and then refuses the right code', async () => {
    const code = await codes.issue('signin', 'uid-1', {});
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => errorOf(codes.verify('signin', 'uid-1', wrong(code, i + 1)))));
    const invalid = results.filter((r) => r.code === 'code.invalid');
    expect(invalid.length).to.equal(maxCodeAttempts - 1);
    expect(results.filter((r) => r.code === 'code.too_many_attempts').length).to.equal(50 - invalid.length);
    expect((await errorOf(codes.verify('signin', 'uid-1', code))).code).to.equal('code.too_many_attempts');
  });

  it('gives the payload to exactly one of two parallel right answers', async () => {
    const code = await codes.issue('signup', 'uid-1', { n: 1 });
    const results = await Promise.allSettled([codes.verify('signup', 'uid-1', code), codes.verify('signup', 'uid-1', code)]);
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as AppError).code).to.equal('code.expired');
  });

  it('replaces the previous code and its attempt count when a new one is issued', async () => {
    const old = await codes.issue('signin', 'uid-1', { v: 'old' });
    for (let i = 1; i < maxCodeAttempts; i++) await errorOf(codes.verify('signin', 'uid-1', wrong(old, i)));
    const fresh = await codes.issue('signin', 'uid-1', { v: 'new' });
    if (fresh !== old) expect(await errorOf(codes.verify('signin', 'uid-1', old))).to.deep.equal({ code: 'code.invalid', params: { remaining: 4 } });
    expect(await codes.verify('signin', 'uid-1', fresh)).to.deep.equal({ v: 'new' });
  });

  it('binds a code to its purpose and subject', async () => {
    const code = await codes.issue('signin', 'uid-1', {});
    expect((await errorOf(codes.verify('signin', 'uid-2', code))).code).to.equal('code.expired');
    expect((await errorOf(codes.verify('signup', 'uid-1', code))).code).to.equal('code.expired');
    expect(await codes.verify('signin', 'uid-1', code)).to.deep.equal({});
  });

  it('stores only a keyed hash of the code', async () => {
    const code = await codes.issue('signin', 'uid-1', { accountId: 'x' });
    const raw = (await store.get('code:signin:uid-1'))!;
    expect(raw).to.not.contain(code);
    expect(JSON.parse(raw).hash).to.be.a('string').with.length.greaterThan(40);
  });

  it('expires codes after their time to live', async () => {
    const short = createCodeStore({ store, box: createSealedBox(randomBytes(32).toString('base64url')), ttlSeconds: 1 });
    const code = await short.issue('signin', 'uid-1', {});
    const deadline = Date.now() + 3000;
    while (await store.get('code:signin:uid-1')) {
      expect(Date.now(), 'the code expires within 3 s').to.be.below(deadline);
      await delay(50);
    }
    expect((await errorOf(short.verify('signin', 'uid-1', code))).code).to.equal('code.expired');
  });
});
