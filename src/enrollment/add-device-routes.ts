import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import QRCode from 'qrcode';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import { normalizeEmail } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Member } from '../account/account-session.ts';
import type { StepUpPurpose } from '../account/step-up.ts';
import { accountClientId } from '../account/notify.ts';
import { mailLocaleOf } from '../passkeys/registered-mail.ts';
import type { AddDeviceLinks, IssuedLink } from './add-device-links.ts';

/** Everything the settings page's "Register on another device" API uses. */
export interface AddDeviceRoutesDeps {
  /** The account area's sessions and step-up checks (src/account/account-kit.ts). */
  kit: {
    sessions: { forApi(ctx: Context): Promise<Member> };
    requireStepUp(member: Member, purpose: StepUpPurpose): Promise<void>;
  };
  links: AddDeviceLinks;
  mailer: Mailer;
  audit: AuditLog;
  limits: { codeSendPerIp: RateLimiterAbstract; codeSendPerTarget: RateLimiterAbstract; ceremonyPerIp: RateLimiterAbstract };
}

const empty = z.object({}).strict();

function json(ctx: Context): unknown {
  if (!ctx.is('application/json')) throw new AppError('request.unsupported_media_type');
  return ctx.request.body ?? {};
}

/** The QR code of a link: SVG, medium error correction, the standard quiet zone of 4 modules. */
export function qrSvg(url: string): Promise<string> {
  return QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 4, color: { dark: '#000000', light: '#ffffff' } });
}

/**
 * "Register on another device" on the settings page: a single-use link by email, or as a QR
 * code whose status the page follows (polling) until the other device has registered a passkey.
 * Only for a signed-in member whose step-up for registering still holds in this session.
 */
export function addDeviceRoutes(deps: AddDeviceRoutesDeps): Router {
  const { kit, links, mailer, audit, limits } = deps;
  const router = new Router({ prefix: '/account/api/add-device' });
  const meta = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') });

  /** A link opens a registration: the member must have stepped up for registering, in this session. */
  async function steppedUp(ctx: Context): Promise<Member> {
    const member = await kit.sessions.forApi(ctx);
    await kit.requireStepUp(member, 'register');
    return member;
  }

  async function issued(ctx: Context, account: Account, link: IssuedLink) {
    await audit.record({
      type: 'add_device.link_created', accountId: account.id, actorId: account.id, clientId: accountClientId, ...meta(ctx),
      data: { linkId: link.link.id, channel: link.link.channel },
    });
    ctx.set('Cache-Control', 'no-store');
  }

  router.post('/email', async (ctx) => {
    empty.parse(json(ctx));
    const { account } = await steppedUp(ctx);
    await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    await consumeOrThrow(limits.codeSendPerTarget, normalizeEmail(account.email));
    const link = await links.issue(account, 'email');
    const minutes = Math.round((link.link.expiresAt - Date.now()) / 60_000);
    try {
      await mailer.send({
        to: account.email, locale: mailLocaleOf(account, ctx.state.locale), template: 'enroll.mail.request',
        params: { memberNumber: account.memberNumber, minutes }, link: { url: link.url, labelKey: 'enroll.mail.open' },
      });
    } catch (error) {
      throw new AppError('service.unavailable', {}, error);
    }
    await issued(ctx, account, link);
    ctx.body = { id: link.link.id, sent: true, email: account.email, expiresAt: new Date(link.link.expiresAt).toISOString(), expiresInMinutes: minutes };
  });

  router.post('/qr', async (ctx) => {
    empty.parse(json(ctx));
    const { account } = await steppedUp(ctx);
    await consumeOrThrow(limits.ceremonyPerIp, ctx.ip);
    const link = await links.issue(account, 'qr');
    await issued(ctx, account, link);
    ctx.body = { id: link.link.id, url: link.url, qrSvg: await qrSvg(link.url), expiresAt: new Date(link.link.expiresAt).toISOString() };
  });

  router.get('/:id/status', async (ctx) => {
    const { account } = await kit.sessions.forApi(ctx);
    const status = await links.status(account.id, ctx.params.id);
    if (!status) throw new AppError('not_found');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...status, expiresAt: new Date(status.expiresAt).toISOString() };
  });

  return router;
}
