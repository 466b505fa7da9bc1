import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { KeyValueStore } from './store.ts';

/**
 * `setIndexed` as one command: the value with its TTL, the key added to the index, and the
 * index's TTL raised to at least the value's (set when it has none). The member is the key as
 * the caller names it (ARGV[3]): ioredis prefixes KEYS only, and `smembers` hands the members
 * back to `del`, which prefixes them again. One script, rather than MULTI with four commands
 * and EXEC, is one command for ioredis to build and Redis to run.
 */
const setIndexedScript = `redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2], 'GT')
redis.call('EXPIRE', KEYS[2], ARGV[2], 'NX')
return 1`;

/** ioredis with the script `createRedisStore` defines. */
type ScriptedRedis = Redis & {
  tobiraSetIndexed(key: string, indexKey: string, value: string, ttlSeconds: number, member: string): Promise<number>;
};

/**
 * The Redis store. Commands fail fast while Redis is unreachable (no offline queue) so that
 * requests answer 503 at once; ioredis reconnects by itself when Redis is back.
 */
export async function createRedisStore(url: string, prefix = 'tobira:'): Promise<KeyValueStore> {
  const redis = new Redis(url, {
    keyPrefix: prefix,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    // Commands issued in the same tick (by one request or by concurrent ones) go out in one write.
    enableAutoPipelining: true,
  });
  redis.on('error', () => { /* reported by failing commands and /readyz */ });
  // Sent as EVALSHA; after a Redis restart has emptied its script cache, ioredis sends it again.
  redis.defineCommand('tobiraSetIndexed', { numberOfKeys: 2, lua: setIndexedScript });
  const scripted = redis as ScriptedRedis;
  await redis.connect();

  return {
    kind: 'redis',
    get: (key) => redis.get(key),
    mget: (keys) => (keys.length ? redis.mget(...keys) : Promise.resolve([])),
    async set(key, value, ttl) { await redis.set(key, value, 'EX', ttl); },
    async setIfAbsent(key, value, ttl) { return (await redis.set(key, value, 'EX', ttl, 'NX')) === 'OK'; },
    getDel: (key) => redis.getdel(key),
    async del(...keys) { if (keys.length) await redis.del(...keys); },
    async incr(key, ttl) {
      const [[err, value]] = (await redis.multi().incr(key).expire(key, ttl, 'NX').exec())!;
      if (err) throw err;
      return value as number;
    },
    async sadd(key, member, ttl) {
      const results = await redis.multi().sadd(key, member).expire(key, ttl, 'GT').expire(key, ttl, 'NX').exec();
      for (const [err] of results!) if (err) throw err;
    },
    smembers: (key) => redis.smembers(key),
    async setIndexed(key, value, ttl, indexKey) { await scripted.tobiraSetIndexed(key, indexKey, value, ttl, key); },
    async ping() { await redis.ping(); },
    rateLimiter(options) {
      return new RateLimiterRedis({ storeClient: redis, ...options, keyPrefix: `${options.keyPrefix}` });
    },
    async close() { redis.disconnect(); },
  };
}
