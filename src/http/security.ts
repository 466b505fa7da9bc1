import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import helmet, { type HelmetOptions } from 'helmet';
import { AppError } from './errors.ts';

/**
 * Helmet's headers for `options`, worked out once: with no nonce, they are the same for every
 * request, so each response gets them from a list instead of running Helmet's dozen middleware.
 * Helmet stays the source of the values (and of which headers it removes, `X-Powered-By`).
 */
export function staticSecurityHeaders(options: HelmetOptions) {
  const setOn = securityHeaderSetter(options);
  return async (ctx: Context, next: Next) => {
    setOn(ctx.res);
    await next();
  };
}

/** {@link staticSecurityHeaders} as a function that sets them on a response. */
export function securityHeaderSetter(options: HelmetOptions): (res: ServerResponse) => void {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) { set.push([name, String(value)]); return recorder; },
    removeHeader(name: string) { removed.push(name); },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => { failure = error; });
  if (failure) throw failure;
  return (res) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
  };
}

/**
 * Helmet's options for Tobira's own pages: scripts and styles only from this origin, no
 * framing. (form-action is left open: the consent form's redirect goes on to the RP.)
 */
const pageSecurity: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      // https: for client logos on the consent page (validated to be https URLs).
      'img-src': ["'self'", 'data:', 'https:'],
      'form-action': null,
      'upgrade-insecure-requests': null,
    },
  },
  strictTransportSecurity: false,
};

/** Security headers for Tobira's own pages (middleware). */
export const securityHeaders = () => staticSecurityHeaders(pageSecurity);

/** The same headers, set on a response: for a page answered from oidc-provider's routes. */
export const pageSecurityHeaderSetter = () => securityHeaderSetter(pageSecurity);

/**
 * Refuses state-changing requests to our routes that a browser says come from another site
 * (Origin or Sec-Fetch-Site); JSON endpoints are also protected by requiring a JSON body.
 */
export function sameOriginOnly(issuerOrigin: string) {
  return async (ctx: Context, next: Next) => {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(ctx.method)) {
      const origin = ctx.get('origin');
      const site = ctx.get('sec-fetch-site');
      if ((origin && origin !== issuerOrigin && origin !== 'null') || site === 'cross-site') throw new AppError('request.cross_site');
    }
    await next();
  };
}
