import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import type { Renderer } from '../http/render.ts';
import { normalizeEmail } from '../accounts/account-service.ts';
import { parseMemberNumber } from '../accounts/member-number.ts';
import { registrationResponseSchema } from '../passkeys/schemas.ts';
import { translator } from '../i18n/i18n.ts';
import { sendPasskeyRegisteredMail, type RegisteredMailDeps } from '../enrollment/add-device-mail.ts';
import type { RecoveryService } from './recovery-service.ts';

/** Everything the recovery pages and API use. */
export interface RecoveryRoutesDeps extends RegisteredMailDeps {
  recovery: RecoveryService;
  renderer: Renderer;
  /** The same limiters (and so the same budgets) as sign-in email codes. */
  limits: { codeSendPerIp: RateLimiterAbstract; codeSendPerTarget: RateLimiterAbstract; ceremonyPerIp: RateLimiterAbstract };
  codeMinutes: number;
  flowSeconds: number;
}

/** The recovery cookie: the flow belongs to the browser that started it. */
export const recoveryCookie = 'tobira_recover';

const code = z.string().trim().regex(/^\d{6}$/, 'must be 6 digits');
const bodies = {
  start: z.object({ identifier: z.string().trim().min(1).max(254), interaction: z.string().optional() }).strict(),
  code: z.object({ code }).strict(),
  empty: z.object({}).strict(),
  registerVerify: z.object({ response: registrationResponseSchema, name: z.string().trim().max(100).optional() }).strict(),
};

/** An oidc-provider interaction id, or null (anything else is ignored, never reflected). */
function interactionOf(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{10,64}$/.test(value) ? value : null;
}

/** The key code sends count under: the identifier's canonical form (as for sign-in codes). */
function limitTarget(identifier: string): string {
  return parseMemberNumber(identifier) ?? normalizeEmail(identifier);
}

function json(ctx: Context): unknown {
  if (!ctx.is('application/json')) throw new AppError('request.unsupported_media_type');
  return ctx.request.body ?? {};
}

/**
 * "Lost your passkey?" at /recover (the sign-in page links here, with `?interaction=<uid>` to
 * come back to that sign-in afterwards): the page and its JSON API. The recovery cookie is
 * scoped to /recover and accepted by nothing else, so a recovery can only register a passkey.
 */
export function recoveryRoutes(deps: RecoveryRoutesDeps): Router {
  const { recovery, renderer, limits } = deps;
  const router = new Router({ prefix: '/recover' });
  const meta = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') });
  const flowId = (ctx: Context) => ctx.cookies.get(recoveryCookie, { signed: true }) ?? '';
  const setCookie = (ctx: Context, value: string | null) => ctx.cookies.set(recoveryCookie, value, {
    signed: true, httpOnly: true, sameSite: 'strict', path: '/recover', overwrite: true,
    maxAge: value ? deps.flowSeconds * 1000 : undefined,
  });

  router.get('/', async (ctx) => {
    const interaction = interactionOf(ctx.query.interaction);
    // Reloading the page resumes a flow past its first step; otherwise it starts afresh.
    const flow = await recovery.flow(flowId(ctx)).catch(() => null);
    const stage = flow && flow.stage !== 'email' ? flow.stage : 'start';
    const back = interaction ?? flow?.interaction ?? null;
    renderer.page(ctx, 'recover/recover', {
      title: translator(ctx.state.locale)('recovery.title'),
      config: { stage, interaction: back, smsTo: flow?.smsTo ?? null },
      signinHref: back ? `/interaction/${back}` : null,
      codeMinutes: deps.codeMinutes,
    });
  });

  router.post('/api/start', async (ctx) => {
    const input = bodies.start.parse(json(ctx));
    await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    await consumeOrThrow(limits.codeSendPerTarget, limitTarget(input.identifier));
    const flow = await recovery.start(flowId(ctx) || null, input.identifier, interactionOf(input.interaction), ctx.state.locale, meta(ctx));
    setCookie(ctx, flow.id);
    ctx.body = { sent: true, expiresInMinutes: deps.codeMinutes };
  });

  router.post('/api/email/verify', async (ctx) => {
    const input = bodies.code.parse(json(ctx));
    ctx.body = await recovery.verifyEmail(flowId(ctx), input.code, ctx.state.locale, meta(ctx));
  });

  router.post('/api/sms/resend', async (ctx) => {
    bodies.empty.parse(json(ctx));
    await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    ctx.body = await recovery.resendSms(flowId(ctx), ctx.state.locale);
  });

  router.post('/api/sms/verify', async (ctx) => {
    const input = bodies.code.parse(json(ctx));
    ctx.body = await recovery.verifySms(flowId(ctx), input.code, ctx.state.locale, meta(ctx));
  });

  router.post('/api/register/options', async (ctx) => {
    bodies.empty.parse(json(ctx));
    await consumeOrThrow(limits.ceremonyPerIp, ctx.ip);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await recovery.registrationOptions(flowId(ctx));
  });

  router.post('/api/register/verify', async (ctx) => {
    const { response, name } = bodies.registerVerify.parse(json(ctx));
    const { account, passkey, interaction } = await recovery.register(flowId(ctx), response, name, ctx.state.locale, meta(ctx));
    setCookie(ctx, null);
    sendPasskeyRegisteredMail(deps, account, passkey, ctx.state.locale, ctx.state.log);
    ctx.body = { passkey: { id: passkey.id, name: passkey.name }, passwordRetired: passkey.passwordRetired, redirectTo: interaction ? `/interaction/${interaction}` : null };
  });

  return router;
}
