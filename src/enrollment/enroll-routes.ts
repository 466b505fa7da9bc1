import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../http/errors.ts';
import { wantsJson } from '../http/error-handler.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import type { Renderer } from '../http/render.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { authenticationResponseSchema, registrationResponseSchema } from '../passkeys/schemas.ts';
import { translator } from '../i18n/i18n.ts';
import { stepUpStrings } from '../account/step-up-strings.ts';
import type { AddDeviceLinks } from './add-device-links.ts';
import type { AddDeviceEnrollment, EnrollmentView } from './add-device-enrollment.ts';
import { sendPasskeyRegisteredMail, type RegisteredMailDeps } from './add-device-mail.ts';

/** Everything the other device's pages and API use. */
export interface EnrollRoutesDeps extends RegisteredMailDeps {
  links: AddDeviceLinks;
  enrollment: AddDeviceEnrollment;
  renderer: Renderer;
  audit: AuditLog;
  limits: { codeSendPerIp: RateLimiterAbstract; ceremonyPerIp: RateLimiterAbstract };
  /** Lifetime of the enrollment cookie (the session's own lifetime). */
  sessionSeconds: number;
}

/** The enrollment cookie: it binds the registration to the device that chose "Register". */
export const enrollCookie = 'tobira_enroll';

const method = z.enum(['passkey', 'totp', 'sms', 'email']);
const bodies = {
  empty: z.object({}).strict(),
  stepUpStart: z.object({ method }).strict(),
  stepUpVerify: z.union([
    z.object({ method: z.literal('passkey'), response: authenticationResponseSchema }).strict(),
    z.object({ method: z.enum(['totp', 'sms', 'email']), code: z.string().trim().regex(/^\d{6}$/, 'must be 6 digits') }).strict(),
  ]),
  registerVerify: z.object({ response: registrationResponseSchema, name: z.string().trim().max(100).optional() }).strict(),
};

function json(ctx: Context): unknown {
  if (!ctx.is('application/json')) throw new AppError('request.unsupported_media_type');
  return ctx.request.body ?? {};
}

/** The last four digits of a member number: enough for the member to recognise the account. */
function last4(memberNumber: string): string {
  return memberNumber.slice(-4);
}

/** What the enrollment page's script gets: the steps and the strings it shows. */
function pageConfig(view: EnrollmentView) {
  return {
    required: view.required,
    passed: view.passed,
    next: view.next,
    firstPasskeyRetiresPassword: view.firstPasskeyRetiresPassword,
  };
}

/**
 * The other device's side of "Register on another device": the link's confirmation page (GET
 * changes nothing, so mail scanners cannot use the link up), "Register" (POST: uses the link,
 * atomically, and starts an enrollment bound to this device by a cookie), then step-up and
 * WebAuthn registration through a small JSON API, and the done page.
 */
export function enrollRoutes(deps: EnrollRoutesDeps): Router {
  const { links, enrollment, renderer, audit, limits } = deps;
  const router = new Router({ prefix: '/enroll' });
  const meta = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') });
  const t = (ctx: Context) => translator(ctx.state.locale);

  const sessionId = (ctx: Context) => ctx.cookies.get(enrollCookie, { signed: true }) ?? '';
  const setCookie = (ctx: Context, value: string | null) => ctx.cookies.set(enrollCookie, value, {
    signed: true, httpOnly: true, sameSite: 'strict', path: '/enroll', overwrite: true,
    maxAge: value ? deps.sessionSeconds * 1000 : undefined,
  });

  function invalidPage(ctx: Context, status = 410) {
    ctx.set('Referrer-Policy', 'no-referrer');
    renderer.page(ctx, 'enroll/invalid', { title: t(ctx)('enroll.invalid.title') }, status);
  }

  // The enrollment page (after "Register"): step-up, then the passkey.
  router.get('/', async (ctx) => {
    let view: EnrollmentView;
    try {
      view = await enrollment.view(sessionId(ctx));
    } catch (error) {
      if (error instanceof AppError && error.code === 'enroll.session_expired') { setCookie(ctx, null); invalidPage(ctx); return; }
      throw error;
    }
    renderer.page(ctx, 'enroll/session', { title: t(ctx)('enroll.title'), config: pageConfig(view), stepUp: stepUpStrings(t(ctx)) });
  });

  router.post('/api/step-up/start', async (ctx) => {
    const { method: m } = bodies.stepUpStart.parse(json(ctx));
    if (m === 'sms' || m === 'email') await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    if (m === 'passkey') await consumeOrThrow(limits.ceremonyPerIp, ctx.ip);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await enrollment.startStepUp(sessionId(ctx), m, ctx.state.locale);
  });

  router.post('/api/step-up/verify', async (ctx) => {
    const input = bodies.stepUpVerify.parse(json(ctx));
    const id = sessionId(ctx);
    try {
      const view = await enrollment.verifyStepUp(id, input.method, input);
      await audit.record({ type: 'step_up.success', accountId: view.account.id, actorId: view.account.id, ...meta(ctx), data: { method: input.method, via: 'add_device' } });
      ctx.body = pageConfig(view);
    } catch (error) {
      if (error instanceof AppError && error.code !== 'enroll.session_expired' && error.code !== 'request.invalid') {
        const accountId = await enrollment.view(id).then((v) => v.account.id, () => null);
        await audit.record({ type: 'step_up.failure', accountId, ...meta(ctx), data: { method: input.method, via: 'add_device', code: error.code } });
      }
      throw error;
    }
  });

  router.post('/api/register/options', async (ctx) => {
    bodies.empty.parse(json(ctx));
    await consumeOrThrow(limits.ceremonyPerIp, ctx.ip);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await enrollment.registrationOptions(sessionId(ctx));
  });

  router.post('/api/register/verify', async (ctx) => {
    const { response, name } = bodies.registerVerify.parse(json(ctx));
    const { account, session, passkey } = await enrollment.register(sessionId(ctx), response, name, meta(ctx));
    setCookie(ctx, null);
    await links.complete(session.linkId, passkey.name);
    await audit.record({
      type: 'passkey.registered', accountId: account.id, actorId: account.id, ...meta(ctx),
      data: { passkeyId: passkey.id, aaguid: passkey.aaguid, via: 'add_device', channel: session.channel, linkId: session.linkId },
    });
    sendPasskeyRegisteredMail(deps, account, passkey, ctx.state.locale, ctx.state.log);
    ctx.body = { passkey: { id: passkey.id, name: passkey.name }, passwordRetired: passkey.passwordRetired };
  });

  // The page a link opens: a confirmation with a "Register" button. It changes nothing.
  router.get('/:token', async (ctx) => {
    const found = await links.peek(ctx.params.token);
    // The token is in the URL: keep it out of Referer headers of anything this page loads.
    ctx.set('Referrer-Policy', 'no-referrer');
    if (!found) { invalidPage(ctx); return; }
    const minutes = Math.max(1, Math.ceil((found.link.expiresAt - Date.now()) / 60_000));
    renderer.page(ctx, 'enroll/confirm', {
      title: t(ctx)('enroll.confirm.heading'), token: ctx.params.token, last4: last4(found.account.memberNumber), minutes,
    });
  });

  // "Register": uses the link (single use, atomic) and binds the enrollment to this device.
  router.post('/:token', async (ctx) => {
    let used;
    try {
      used = await links.consume(ctx.params.token);
    } catch (error) {
      if (error instanceof AppError && error.code === 'enroll.link_invalid' && !wantsJson(ctx)) { invalidPage(ctx); return; }
      throw error;
    }
    const previous = sessionId(ctx);
    if (previous) await enrollment.end(previous);
    const id = await enrollment.begin(used.link);
    setCookie(ctx, id);
    await audit.record({ type: 'add_device.link_used', accountId: used.account.id, actorId: used.account.id, ...meta(ctx), data: { linkId: used.link.id, channel: used.link.channel } });
    if (wantsJson(ctx)) { ctx.body = { next: '/enroll' }; return; }
    ctx.status = 303;
    ctx.redirect('/enroll');
  });

  return router;
}
