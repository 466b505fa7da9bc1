import type { Context, Next } from 'koa';
import { ZodError } from 'zod';
import { errors as oidcErrors } from 'oidc-provider';
import { AppError } from './errors.ts';
import type { Renderer } from './render.ts';
import { translator } from '../i18n/i18n.ts';

const unavailablePatterns = [
  /ECONNREFUSED/, /ECONNRESET/, /ETIMEDOUT/, /EHOSTUNREACH/, /Connection terminated/i, /Connection is closed/i,
  /Stream isn't writeable/i, /MaxRetriesPerRequest/i, /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i, /the database system is (starting|shutting) up/i,
  /terminating connection/i, /Reached the max retries per request limit/i,
  // ioredis `commandTimeout` and pg `query_timeout`: a store that stopped answering.
  /Command timed out/i, /Query read timeout/i,
];

/** True for errors that mean Postgres or Redis is unreachable (answered 503, not 500). */
export function isUnavailable(error: unknown): boolean {
  for (let e = error as { message?: string; code?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const text = `${e.code ?? ''} ${e.message ?? ''}`;
    if (unavailablePatterns.some((p) => p.test(text))) return true;
  }
  return false;
}

/** Maps anything thrown to the one error type. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) {
    const first = error.issues[0];
    return new AppError('request.invalid', { detail: `${first.path.join('.') || 'body'}: ${first.message}` });
  }
  if (error instanceof oidcErrors.SessionNotFound) return new AppError('interaction.not_found');
  const clientFault = fromClientStatus(error);
  if (clientFault) return clientFault;
  if (isUnavailable(error)) return new AppError('service.unavailable', {}, error);
  return new AppError('internal', {}, error);
}

/**
 * The body parser (co-body, raw-body) rejects what the client sent with a 4xx `status` on a
 * plain error (a SyntaxError for broken JSON): those are the client's faults, never 500s. The
 * original error is not kept as the cause: it carries the raw body, which may hold a code.
 */
function fromClientStatus(error: unknown): AppError | undefined {
  const { status, type } = error as { status?: unknown; type?: unknown };
  if (status === 413 || type === 'entity.too.large') return new AppError('request.too_large');
  if (status === 415) return new AppError('request.unsupported_media_type');
  if (typeof status === 'number' && status >= 400 && status < 500) return new AppError('request.invalid', { detail: 'malformed body' });
  return undefined;
}

/**
 * The fields of `params.details` that the JSON answer carries, by code: only these, so nothing
 * else a service put in its params can leak to clients.
 */
const detailFields: Partial<Record<AppError['code'], readonly string[]>> = {
  'passkey.unknown_credential': ['credentialId'],
};

/** The whitelisted detail fields of `error` (empty for most codes). */
function detailsOf(error: AppError): Record<string, unknown> {
  const details = error.params.details;
  const fields = detailFields[error.code];
  if (!fields || typeof details !== 'object' || details === null) return {};
  return Object.fromEntries(fields.filter((f) => Object.hasOwn(details, f)).map((f) => [f, (details as Record<string, unknown>)[f]]));
}

/** True when the client wants JSON rather than a page. */
export function wantsJson(ctx: Context): boolean {
  return ctx.is('application/json') === 'application/json' || ctx.accepts('html', 'json') === 'json';
}

/**
 * The only place errors become responses: JSON `{ error, message }` for API calls, a page
 * otherwise; 4xx for the client's mistakes, 503 when a store is down, 500 for our bugs.
 */
export function errorHandler(renderer: Renderer) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) throw new AppError('not_found');
    } catch (thrown) {
      const error = toAppError(thrown);
      const log = ctx.state.log;
      if (error.status >= 500) log?.error({ err: error.cause ?? thrown, code: error.code }, 'request failed');
      else log?.info({ code: error.code }, 'request refused');
      if (error.code === 'rate_limited' && error.params.seconds) ctx.set('Retry-After', String(error.params.seconds));
      if (error.status === 503) ctx.set('Retry-After', '5');
      if (wantsJson(ctx)) {
        ctx.status = error.status;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { ...detailsOf(error), error: error.code, message: translator(ctx.state.locale ?? 'en')(`errors.${error.code}`, error.params) };
      } else {
        renderer.errorPage(ctx, error);
      }
    }
  };
}
