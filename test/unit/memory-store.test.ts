import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'chai';
import type { KeyValueStore } from '../../src/store/store.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import { Redis } from 'ioredis';

/** Polls `check` every 20 ms until it holds, failing after `boundMs`. */
async function eventually(check: () => Promise<boolean>, boundMs: number, what: string): Promise<void> {
  const end = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${boundMs} ms: ${what}`);
    await delay(20);
  }
}

/**
 * The key-value store contract (DESIGN.md: challenges are single use, codes expire, counters
 * keep the TTL they were created with). The in-process store is checked always; the Redis
 * store too when REDIS_URL is set, so both keep the same semantics.
 */
const stores: { name: string; make: () => Promise<KeyValueStore>; ttl: number }[] = [
  // The in-process store takes fractional seconds; Redis EX takes whole seconds.
  { name: 'in-process store', make: async () => createMemoryStore(), ttl: 0.1 },
];
if (process.env.REDIS_URL) {
  const url = process.env.REDIS_URL;
  stores.push({ name: 'Redis store', make: () => createRedisStore(url, `tobira-test-${randomBytes(4).toString('hex')}:`), ttl: 1 });
}

for (const { name, make, ttl } of stores) {
  describe(`key-value store semantics: ${name}`, () => {
    let store: KeyValueStore;
    const bound = ttl * 1000 + 2000;
    const key = (label: string) => `${label}:${randomBytes(6).toString('hex')}`;
    before(async () => { store = await make(); });
    after(async () => { await store.close(); });

    it('says what it is and answers ping', async () => {
      expect(store.kind).to.equal(name.startsWith('Redis') ? 'redis' : 'memory');
      await store.ping();
    });

    it('reads back what was set, and nothing after its time to live', async () => {
      const k = key('ttl');
      await store.set(k, 'v1', ttl);
      expect(await store.get(k)).to.equal('v1');
      await eventually(async () => (await store.get(k)) === null, bound, 'the key expires');
      expect(await store.mget([k])).to.deep.equal([null]);
    });

    it('keeps a key with a long TTL and replaces its value on set', async () => {
      const k = key('long');
      await store.set(k, 'a', 60);
      await store.set(k, 'b', 60);
      expect(await store.get(k)).to.equal('b');
    });

    it('mget answers in order with null for missing keys, and [] for no keys', async () => {
      const [a, b, c] = [key('a'), key('b'), key('c')];
      await store.set(a, '1', 60);
      await store.set(c, '3', 60);
      expect(await store.mget([a, b, c])).to.deep.equal(['1', null, '3']);
      expect(await store.mget([])).to.deep.equal([]);
    });

    it('getDel hands a value out once: a second caller, even a concurrent one, gets null', async () => {
      const k = key('once');
      await store.set(k, 'challenge', 60);
      expect(await store.getDel(k)).to.equal('challenge');
      expect(await store.getDel(k)).to.equal(null);
      expect(await store.get(k)).to.equal(null);

      const k2 = key('race');
      await store.set(k2, 'challenge', 60);
      const results = await Promise.all([store.getDel(k2), store.getDel(k2), store.getDel(k2)]);
      expect(results.filter((r) => r === 'challenge')).to.have.length(1);
      expect(results.filter((r) => r === null)).to.have.length(2);
    });

    it('getDel of an expired key is null', async () => {
      const k = key('expired-once');
      await store.set(k, 'x', ttl);
      await eventually(async () => (await store.get(k)) === null, bound, 'the key expires');
      expect(await store.getDel(k)).to.equal(null);
    });

    it('setIfAbsent sets only the first time (also under concurrency), and again once the key expired', async () => {
      const k = key('nx');
      expect(await store.setIfAbsent(k, 'first', ttl)).to.equal(true);
      expect(await store.setIfAbsent(k, 'second', ttl)).to.equal(false);
      expect(await store.get(k)).to.equal('first');
      await eventually(async () => (await store.get(k)) === null, bound, 'the key expires');
      expect(await store.setIfAbsent(k, 'third', 60)).to.equal(true);
      expect(await store.get(k)).to.equal('third');

      const k2 = key('nx-race');
      const won = await Promise.all([1, 2, 3, 4].map((n) => store.setIfAbsent(k2, String(n), 60)));
      expect(won.filter(Boolean)).to.have.length(1);
    });

    it('incr counts from 1 and keeps the TTL it was created with (later calls do not extend it)', async () => {
      const k = key('count');
      expect(await store.incr(k, ttl)).to.equal(1);
      expect(await store.incr(k, 3600)).to.equal(2);
      expect(await store.incr(k, 3600)).to.equal(3);
      // Only the first TTL counts: the counter starts over after it, despite the long TTLs since.
      await eventually(async () => (await store.get(k)) === null, bound, 'the counter expires');
      expect(await store.incr(k, 60)).to.equal(1);
    });

    it('incr is atomic under concurrency', async () => {
      const k = key('count-race');
      const values = await Promise.all(Array.from({ length: 20 }, () => store.incr(k, 60)));
      expect([...values].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('sadd collects distinct members and extends the set\'s TTL to the longest asked (a shorter one does not shorten it)', async () => {
      const k = key('set');
      await store.sadd(k, 'a', ttl);
      await store.sadd(k, 'b', 60);
      await store.sadd(k, 'a', ttl);
      const sentinel = key('sentinel');
      await store.set(sentinel, '1', ttl);
      await eventually(async () => (await store.get(sentinel)) === null, bound, 'the short TTL passes');
      expect((await store.smembers(k)).sort()).to.deep.equal(['a', 'b']);
      expect(await store.smembers(key('none'))).to.deep.equal([]);
    });

    it('a set with only a short TTL expires', async () => {
      const k = key('set-short');
      await store.sadd(k, 'a', ttl);
      await eventually(async () => (await store.smembers(k)).length === 0, bound, 'the set expires');
    });

    it('setIndexed stores the value with its TTL and adds the key, as the caller names it, to an index whose TTL only grows', async () => {
      const [short, long, index] = [key('indexed-short'), key('indexed-long'), key('index')];
      await store.setIndexed(long, 'L', 60, index);
      await store.setIndexed(short, 'S', ttl, index);
      expect(await store.mget([long, short])).to.deep.equal(['L', 'S']);
      // Members are keys the store's own calls take back (revoking a grant deletes them all).
      expect((await store.smembers(index)).sort()).to.deep.equal([long, short].sort());
      await eventually(async () => (await store.get(short)) === null, bound, 'the short value expires');
      expect(await store.get(long), 'the long value').to.equal('L');
      expect((await store.smembers(index)).sort(), 'the index outlives the shorter TTL').to.deep.equal([long, short].sort());
      await store.del(...await store.smembers(index), index);
      expect(await store.get(long)).to.equal(null);
      expect(await store.smembers(index)).to.deep.equal([]);
    });

    if (name.startsWith('Redis')) {
      it('setIndexed still works after Redis has forgotten its scripts (as after a restart)', async () => {
        const admin = new Redis(process.env.REDIS_URL!);
        try {
          const [k, index] = [key('indexed-flush'), key('index-flush')];
          await store.setIndexed(k, 'before', 60, index);
          await admin.script('FLUSH');
          await store.setIndexed(k, 'after', 60, index);
          expect(await store.get(k)).to.equal('after');
          expect(await store.smembers(index)).to.deep.equal([k]);
        } finally {
          admin.disconnect();
        }
      });
    }

    it('del removes several keys at once and accepts none', async () => {
      const [a, b] = [key('d1'), key('d2')];
      await store.set(a, '1', 60);
      await store.sadd(b, 'm', 60);
      await store.del(a, b);
      expect(await store.get(a)).to.equal(null);
      expect(await store.smembers(b)).to.deep.equal([]);
      await store.del();
    });
  });
}
