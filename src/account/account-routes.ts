import Router from '@koa/router';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Container } from '../container.ts';
import { accountPages } from './account-pages.ts';
import { stepUpRoutes } from './step-up-routes.ts';
import { passkeyRoutes } from './passkey-routes.ts';
import { securityRoutes } from './security-routes.ts';
import { createPhoneNumbers } from './phone-numbers.ts';
import { accountPrefix } from './account-session.ts';

/** The rate limits the account area shares with sign-in (same budgets per IP and per destination). */
export interface AccountLimits { codeSendPerIp: RateLimiterAbstract; codeSendPerTarget: RateLimiterAbstract; ceremonyPerIp: RateLimiterAbstract }

/**
 * The member's account area under `/account`: the settings pages (Passkeys, Security) and their
 * JSON API under `/account/api/*` (docs/api.md, "Account API"). Pages send a member who is not
 * signed in through Tobira's sign-in and back; the API answers 401 session.required instead.
 */
export function accountRoutes(c: Container, limits: AccountLimits): Router {
  const kit = c.accountKit;
  const router = new Router({ prefix: accountPrefix });
  const codeMinutes = Math.round(c.config.ttl.codeSeconds / 60);
  accountPages(router, kit, {
    renderer: c.renderer, passkeyRepository: c.passkeyRepository, totp: c.totp, rpId: c.config.webauthnRpId, codeMinutes,
  });
  stepUpRoutes(router, kit, c.audit, limits);
  passkeyRoutes(router, kit, {
    passkeys: c.passkeys, passkeyRepository: c.passkeyRepository, mailer: c.mailer, audit: c.audit, logger: c.logger,
    rpId: c.config.webauthnRpId, limits,
  });
  securityRoutes(router, kit, {
    store: c.store, totp: c.totp, codes: c.codes, sms: c.sms, phones: createPhoneNumbers(c.ds), codeMinutes, limits,
    totpSetupSeconds: 600,
    totpAttempts: c.store.rateLimiter({ keyPrefix: 'rl:totp-setup', points: 5, duration: 300 }),
  });
  return router;
}
