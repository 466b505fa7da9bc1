import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Short-lived state with a time to live: WebAuthn challenges, one-time codes, interactions,
 * authorization codes, rate-limit counters. Redis in production; an in-process map for the
 * no-setup default. Values are strings (callers JSON-encode).
 */
export interface KeyValueStore {
  /** `redis` or `memory`, for logs and readiness. */
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Several keys in one round trip; missing keys are `null`. */
  mget(keys: string[]): Promise<(string | null)[]>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Sets only when the key does not exist; true when this call set it (atomic). */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Reads and deletes in one atomic step: a second caller gets `null`. */
  getDel(key: string): Promise<string | null>;
  del(...keys: string[]): Promise<void>;
  /** Increments a counter, setting its time to live when it is created. */
  incr(key: string, ttlSeconds: number): Promise<number>;
  /** Adds a member to a set and extends the set's time to live to at least `ttlSeconds`. */
  sadd(key: string, member: string, ttlSeconds: number): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /** `set` plus `sadd(indexKey, key)` in one atomic round trip (one script on Redis). */
  setIndexed(key: string, value: string, ttlSeconds: number, indexKey: string): Promise<void>;
  /** Resolves when the store answers; rejects when it is unreachable. */
  ping(): Promise<void>;
  /** A rate limiter on this store (same options as rate-limiter-flexible). */
  rateLimiter(options: { keyPrefix: string; points: number; duration: number; blockDuration?: number }): RateLimiterAbstract;
  close(): Promise<void>;
}
