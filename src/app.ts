import Koa, { type Context, type Next } from 'koa';
import compose from 'koa-compose';
import { bodyParser } from '@koa/bodyparser';
import type { Container } from './container.ts';
import { requestContext } from './http/request-context.ts';
import { errorHandler } from './http/error-handler.ts';
import { localeMiddleware } from './http/locale.ts';
import { staticFiles } from './http/static-files.ts';
import { pageSecurityHeaderSetter, securityHeaders, sameOriginOnly, staticSecurityHeaders } from './http/security.ts';
import { healthRoutes } from './http/health-routes.ts';
import { interactionRoutes } from './oidc/interaction-routes.ts';
import { flushHeldWrites, holdWrites, type HeldConsume, type HeldGrant } from './oidc/held-writes.ts';
import { resumeInPlace } from './oidc/resume-in-place.ts';
import { pageInPlace, signInPage } from './oidc/signin-page.ts';
import { passwordAttemptLimits } from './signin/password-signin.ts';
import { demoRoutes } from './demo/demo-routes.ts';
import { accountRoutes } from './account/account-routes.ts';
import { addDeviceRoutes } from './enrollment/add-device-routes.ts';
import { enrollRoutes } from './enrollment/enroll-routes.ts';
import { recoveryRoutes } from './recovery/recovery-routes.ts';
import { recoveryFlowSeconds } from './recovery/recovery-service.ts';
import { helpRoutes } from './help/help-routes.ts';
import { adminRoutes } from './admin/admin-routes.ts';

/** Paths served by Tobira's own routers; everything else goes to oidc-provider. */
const ownPrefixes = ['/interaction/', '/demo', '/admin/', '/enroll/', '/recover/', '/help/', '/account/api/add-device/', '/account/'];
/** The same paths without their trailing slash (`/admin` is ours too). */
const ownRoots = new Set(ownPrefixes.map((p) => p.replace(/\/$/, '')));
const isOwnPath = (path: string) => ownRoots.has(path) || ownPrefixes.some((p) => path.startsWith(p));

/**
 * Builds the Koa application: request id and logging, errors, language, security headers,
 * our routers, and oidc-provider mounted last.
 */
export async function createApp(c: Container): Promise<Koa> {
  const app = new Koa({ proxy: c.config.trustProxy });
  app.keys = c.cookieSigner;
  app.on('error', () => { /* logged by the error handler and request logger */ });

  const limits = {
    codeSendPerIp: c.store.rateLimiter({ keyPrefix: 'rl:code-ip', points: c.config.rateLimits.codeSendsPerIpPerHour, duration: 3600 }),
    codeSendPerTarget: c.store.rateLimiter({ keyPrefix: 'rl:code-target', points: c.config.rateLimits.codeSendsPerIdentifierPer15Minutes, duration: 900 }),
    ceremonyPerIp: c.store.rateLimiter({ keyPrefix: 'rl:ceremony-ip', points: c.config.rateLimits.ceremoniesPerIpPerMinute, duration: 60 }),
    passwordPerIp: c.store.rateLimiter({ keyPrefix: 'rl:password-ip', ...passwordAttemptLimits.perIp }),
    passwordPerIdentifier: c.store.rateLimiter({ keyPrefix: 'rl:password-id', ...passwordAttemptLimits.perIdentifier }),
  };
  const providerHeaders = staticSecurityHeaders({ contentSecurityPolicy: false, strictTransportSecurity: false });
  // oidc-provider's middleware runs in our request's own context (as koa-mount does), rather
  // than a second Koa context per request through provider.callback().
  const providerMiddleware = compose((c.provider as unknown as Koa).middleware);
  // What a request still holds is written by the models' own adapters (outside the request, they write at once).
  const grants = c.provider.Grant.adapter;
  const consumers: Record<string, { consume(id: string): Promise<void> }> = {
    RefreshToken: c.provider.RefreshToken.adapter, AuthorizationCode: c.provider.AuthorizationCode.adapter,
  };
  const flushTo = {
    writeGrant: ({ id, payload, expiresIn }: HeldGrant) => grants.upsert(id, payload, expiresIn as number),
    consume: ({ model, id }: HeldConsume) => consumers[model]!.consume(id),
    del: (keys: string[]) => c.store.del(...keys),
    put: (key: string, value: string, ttl: number) => c.store.set(key, value, ttl),
  };
  /**
   * Runs oidc-provider on `ctx`. Writes the request holds back go out with the write that
   * follows them (held-writes.ts: a grant with its session, a consumption with the next token);
   * the rest when the provider is done.
   */
  const runProvider = async (ctx: Context) => {
    holdWrites(ctx);
    try {
      await providerHeaders(ctx, () => providerMiddleware(ctx as never, async () => {}));
    } finally {
      await flushHeldWrites(ctx, flushTo);
    }
  };

  const codeMinutes = Math.round(c.config.ttl.codeSeconds / 60);
  const signIn = signInPage({ renderer: c.renderer, codeMinutes, passkeys: c.passkeys, ceremonyLimit: limits.ceremonyPerIp });
  const answerWithPage = pageInPlace({ page: signIn, headers: pageSecurityHeaderSetter() });

  const routers = [
    interactionRoutes({
      finish: resumeInPlace({ resumeCookie: c.provider.cookieName('resume'), sign: (data) => c.cookieSigner.sign(data), runProvider }),
      provider: c.provider, store: c.store, accounts: c.accounts, passkeys: c.passkeys, emailCode: c.emailCode, password: c.passwordSignIn,
      signup: c.signup, mailer: c.mailer, audit: c.audit, renderer: c.renderer, signInPage: signIn, limits,
      interactionTtlSeconds: c.config.ttl.interactionSeconds, codeMinutes,
    }),
  ];
  routers.push(await adminRoutes(c));
  routers.push(
    addDeviceRoutes({ kit: c.accountKit, links: c.addDeviceLinks, mailer: c.mailer, audit: c.audit, limits }),
    enrollRoutes({
      links: c.addDeviceLinks, enrollment: c.addDeviceEnrollment, renderer: c.renderer, audit: c.audit, mailer: c.mailer, limits,
      sessionSeconds: c.config.links.addDeviceSeconds,
    }),
    recoveryRoutes({
      recovery: c.recovery, renderer: c.renderer, mailer: c.mailer, limits,
      codeMinutes, flowSeconds: recoveryFlowSeconds,
    }),
    helpRoutes({ renderer: c.renderer }),
  );
  routers.push(accountRoutes(c, limits));
  if (c.config.demo) routers.push(await demoRoutes({ issuer: c.config.issuer, store: c.store, renderer: c.renderer, clients: c.clients }));

  const own = compose([
    securityHeaders(),
    sameOriginOnly(new URL(c.config.issuer).origin),
    bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '64kb', formLimit: '16kb', encoding: 'utf-8' }),
    ...routers.flatMap((r) => [r.routes(), r.allowedMethods()]),
  ]);

  app.use(requestContext(c.logger));
  app.use(localeMiddleware());
  app.use(errorHandler(c.renderer));
  app.use(staticFiles());
  const health = healthRoutes({ ds: c.ds, store: c.store });
  app.use(health.routes());
  app.use(async (ctx: Context, next: Next) => {
    if (isOwnPath(ctx.path)) return own(ctx as never, next);
    if (ctx.path === '/') { ctx.redirect(c.config.demo ? '/demo' : '/.well-known/openid-configuration'); return; }
    await runProvider(ctx);
    // An authorization that needs the member to sign in answers with the sign-in page itself.
    await answerWithPage(ctx);
  });
  return app;
}
