import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from './errors.ts';
import { isUnavailable } from './error-handler.ts';

/**
 * Consumes one point for `key`; throws rate_limited (429, with the seconds to wait) when the
 * limit is reached.
 */
export async function consumeOrThrow(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof Error) {
      if (isUnavailable(rejection)) throw new AppError('service.unavailable', {}, rejection);
      throw rejection;
    }
    const ms = (rejection as { msBeforeNext?: number }).msBeforeNext ?? 60_000;
    throw new AppError('rate_limited', { seconds: Math.ceil(ms / 1000) });
  }
}
