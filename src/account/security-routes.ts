import type Router from '@koa/router';
import { z } from 'zod';
import QRCode from 'qrcode';
import type { KeyValueStore } from '../store/store.ts';
import type { TotpService } from '../verification/totp.ts';
import type { CodeStore } from '../verification/code-store.ts';
import { maskPhone, type SmsSender } from '../sms/sms-sender.ts';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import { translator, isLocale } from '../i18n/i18n.ts';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { countGuess } from './step-up.ts';
import { jsonBody, noStore, type AccountKit } from './account-kit.ts';
import type { AccountLimits } from './account-routes.ts';
import type { Member } from './account-session.ts';
import { toE164, type PhoneNumbers } from './phone-numbers.ts';

const code = z.string().trim().regex(/^\d{6}$/, 'must be 6 digits');
const bodies = {
  empty: z.object({}).strict(),
  code: z.object({ code }).strict(),
  phone: z.object({ phone: z.string().max(32).transform((v, ctx) => toE164(v) ?? (ctx.addIssue({ code: 'custom', message: 'must be an international number (E.164), e.g. +819012345678' }), z.NEVER)) }).strict(),
};

/** What the security routes use besides the kit. */
export interface SecurityRouteDeps {
  store: KeyValueStore;
  totp: TotpService;
  codes: CodeStore;
  sms: SmsSender;
  phones: PhoneNumbers;
  codeMinutes: number;
  /** How long a started authenticator-app setup waits for its first code. */
  totpSetupSeconds: number;
  /** Guesses at a code from the authenticator app (shared with step-up, per account). */
  totpAttempts: RateLimiterAbstract;
  limits: AccountLimits;
}

/** An otpauth:// URI as a QR code: server-side SVG, as a data URL (the page's CSP allows data: images). */
async function qrDataUrl(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/**
 * The security page's API: an authenticator app (TOTP: start, confirm with a code, remove) and
 * a phone number verified by an SMS code (start, verify, remove). Each change needs a step-up
 * of this session, and is audited and emailed.
 */
export function securityRoutes(router: Router, kit: AccountKit, deps: SecurityRouteDeps): void {
  const { store, totp, codes, sms, phones } = deps;
  const totpKey = (member: Member) => `account:totp-setup:${member.session.id}`;

  router.post('/api/totp/start', async (ctx) => {
    bodies.empty.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    await kit.requireStepUp(member, 'manage');
    const { secret, uri } = totp.newSecret(member.account.memberNumber);
    // Only this session can confirm it; nothing is stored on the account before a right code.
    await store.set(totpKey(member), secret, deps.totpSetupSeconds);
    noStore(ctx);
    ctx.body = { secret, uri, qr: await qrDataUrl(uri) };
  });

  router.post('/api/totp/confirm', async (ctx) => {
    const { code: given } = bodies.code.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    const secret = await store.get(totpKey(member));
    if (!secret) throw new AppError('totp.not_started');
    const remaining = await countGuess(deps.totpAttempts, member.account.id);
    if (!(await totp.enable(member.account.id, secret, given))) {
      throw new AppError(remaining > 0 ? 'code.invalid' : 'code.too_many_attempts', { remaining });
    }
    await store.del(totpKey(member));
    // The member has just proved the app: that counts as its step-up in this session.
    await kit.markStepUp(member, 'totp');
    await kit.notifier.changed(ctx, member.account, { type: 'totp.enabled', mail: { template: 'totp_enabled' } });
    noStore(ctx);
    ctx.body = { totp: true };
  });

  router.post('/api/totp/remove', async (ctx) => {
    bodies.empty.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    if (!(await totp.isEnabled(member.account.id))) throw new AppError('totp.not_enabled');
    await kit.requireStepUp(member, 'manage');
    await totp.disable(member.account.id);
    await kit.notifier.changed(ctx, member.account, { type: 'totp.disabled', mail: { template: 'totp_disabled' } });
    noStore(ctx);
    ctx.body = { totp: false };
  });

  router.post('/api/phone/start', async (ctx) => {
    const { phone } = bodies.phone.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    await kit.requireStepUp(member, 'manage');
    await consumeOrThrow(deps.limits.codeSendPerIp, ctx.ip);
    await consumeOrThrow(deps.limits.codeSendPerTarget, phone);
    const issued = await codes.issue('phone_verify', member.session.id, { accountId: member.account.id, phone });
    const locale = isLocale(member.account.locale) ? member.account.locale : ctx.state.locale;
    try {
      await sms.send({ to: phone, text: translator(locale)('account.sms.phone_verify', { code: issued, minutes: deps.codeMinutes }) });
    } catch (error) {
      throw new AppError('service.unavailable', {}, error);
    }
    noStore(ctx);
    ctx.body = { sentTo: maskPhone(phone), expiresInMinutes: deps.codeMinutes };
  });

  router.post('/api/phone/verify', async (ctx) => {
    const { code: given } = bodies.code.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    let payload: { accountId: string; phone: string };
    try {
      payload = await codes.verify('phone_verify', member.session.id, given);
    } catch (error) {
      // No code was ever sent in this session: say what to do rather than "expired".
      if (error instanceof AppError && error.code === 'code.expired') throw new AppError('phone.not_started');
      throw error;
    }
    if (payload.accountId !== member.account.id) throw new AppError('code.invalid', { remaining: 0 });
    await phones.setVerified(member.account.id, payload.phone);
    // The member has just proved this phone: that counts as its SMS step-up in this session.
    await kit.markStepUp(member, 'sms');
    await kit.notifier.changed(ctx, member.account, {
      type: 'phone.verified', data: { phone: maskPhone(payload.phone), previous: member.account.phone ? maskPhone(member.account.phone) : null },
      mail: { template: 'phone_verified', params: { phone: maskPhone(payload.phone) } },
    });
    noStore(ctx);
    ctx.body = { phone: payload.phone, phoneVerified: true };
  });

  router.post('/api/phone/remove', async (ctx) => {
    bodies.empty.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    const phone = member.account.phone;
    if (!phone) throw new AppError('not_found');
    await kit.requireStepUp(member, 'manage');
    await phones.remove(member.account.id);
    await kit.notifier.changed(ctx, member.account, {
      type: 'phone.removed', data: { phone: maskPhone(phone) },
      mail: { template: 'phone_removed', params: { phone: maskPhone(phone) } },
    });
    noStore(ctx);
    ctx.body = { phone: null, phoneVerified: false };
  });
}
