import type { Context, Next } from 'koa';
import helmet from 'koa-helmet';
import { AppError } from './errors.ts';

/**
 * Security headers for Tobira's own pages: scripts and styles only from this origin, no
 * framing. (form-action is left open: the consent form's redirect goes on to the RP.)
 */
export function securityHeaders() {
  return helmet({
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
  });
}

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
