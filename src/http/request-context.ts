import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

/**
 * Gives every request an id (from X-Request-Id when it is sane) and a child logger, and logs
 * one line per request. Query strings are not logged: they can carry codes and tokens.
 */
export function requestContext(logger: Logger) {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = /^[A-Za-z0-9._-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    // The request's logger is made on first use (most requests log nothing at warn level).
    let log: Logger | undefined;
    const requestLog = () => (log ??= logger.child({ reqId: requestId }));
    Object.defineProperty(ctx.state, 'log', { get: requestLog, enumerable: true, configurable: true });
    (ctx.req as unknown as { tobira: unknown }).tobira = { requestId, get log() { return requestLog(); } };
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.respond === false ? ctx.res.statusCode : ctx.status;
      const level = status >= 500 ? 'error' : 'info';
      if (logger.isLevelEnabled(level)) {
        requestLog()[level]({ method: ctx.method, path: ctx.path, status, ms: Math.round(performance.now() - started) }, 'request');
      }
    }
  };
}
