import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { KeyValueStore } from './store.ts';

type Entry = { value: string | Set<string>; expiresAt: number };

/**
 * The in-process store of the no-setup default. It has the semantics of the Redis store but
 * lives in one process, so it serves one instance only.
 */
export function createMemoryStore(): KeyValueStore {
  const map = new Map<string, Entry>();
  const limiters = new Map<string, RateLimiterMemory>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key);
  }, 60_000);
  sweep.unref();

  function live(key: string): Entry | undefined {
    const entry = map.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  }
  const str = (key: string) => {
    const v = live(key)?.value;
    return typeof v === 'string' ? v : null;
  };
  const expiry = (ttl: number) => Date.now() + ttl * 1000;

  return {
    kind: 'memory',
    async get(key) { return str(key); },
    async mget(keys) { return keys.map(str); },
    async set(key, value, ttl) { map.set(key, { value, expiresAt: expiry(ttl) }); },
    async setIfAbsent(key, value, ttl) {
      if (live(key)) return false;
      map.set(key, { value, expiresAt: expiry(ttl) });
      return true;
    },
    async getDel(key) {
      const value = str(key);
      map.delete(key);
      return value;
    },
    async del(...keys) { for (const key of keys) map.delete(key); },
    async incr(key, ttl) {
      const entry = live(key);
      const next = (entry ? Number(entry.value) : 0) + 1;
      map.set(key, { value: String(next), expiresAt: entry?.expiresAt ?? expiry(ttl) });
      return next;
    },
    async sadd(key, member, ttl) {
      const entry = live(key);
      const set = entry?.value instanceof Set ? entry.value : new Set<string>();
      set.add(member);
      map.set(key, { value: set, expiresAt: Math.max(entry?.expiresAt ?? 0, expiry(ttl)) });
    },
    async setIndexed(key, value, ttl, indexKey) {
      await this.set(key, value, ttl);
      await this.sadd(indexKey, key, ttl);
    },
    async smembers(key) {
      const v = live(key)?.value;
      return v instanceof Set ? [...v] : [];
    },
    async ping() {},
    rateLimiter(options) {
      // Like Redis, limiters with the same prefix share one budget.
      const key = `${options.keyPrefix}:${options.points}:${options.duration}`;
      let limiter = limiters.get(key);
      if (!limiter) limiters.set(key, limiter = new RateLimiterMemory(options));
      return limiter;
    },
    async close() { clearInterval(sweep); map.clear(); },
  };
}
