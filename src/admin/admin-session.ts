import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { InternalRp, RpSession } from '../http/internal-rp.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../http/errors.ts';
import type { KeyValueStore } from '../store/store.ts';
import { adminRole } from './member-admin.ts';
import { signedOutEverywhereAt } from './member-console.ts';

/** Who is using the console on this request (`ctx.state.admin`). */
export interface AdminRequest {
  session: RpSession;
  account: Account;
  /** The session's CSRF token: a hidden field in forms, the X-CSRF-Token header of API calls. */
  csrf: string;
  /** Until when (epoch seconds) the last passkey sign-in counts as recent enough for changes. */
  freshUntil: number;
}

/** The header and form field that carry the CSRF token. */
export const csrfHeader = 'x-csrf-token';
export const csrfField = '_csrf';

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || !given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True for paths of the JSON API (answered with JSON errors, never redirected). */
export function isApiPath(path: string): boolean {
  return path === '/admin/api' || path.startsWith('/admin/api/');
}

/**
 * Guards every /admin request but the sign-in callback: a passkey (acr phr) sign-in of a member
 * with the admin role; for unsafe methods also the CSRF token and, for changes through the API,
 * a sign-in within `freshSeconds`. Anyone else learns nothing about the console: no session
 * means a sign-in (pages) or 401 (API), a member without the role gets 403.
 */
export function adminGuard(deps: { rp: InternalRp; store: KeyValueStore; accounts: AccountService; audit: AuditLog; freshSeconds: number; callbackPath: string }) {
  const { rp, store, accounts, audit, freshSeconds } = deps;
  /** A session that an admin's "sign out everywhere" ended (it began before the mark). */
  const endedEverywhere = async (session: RpSession) => {
    const mark = await signedOutEverywhereAt(store, session.accountId);
    return mark !== null && session.authTime <= mark;
  };
  const meta = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') });

  return async (ctx: Context, next: Next) => {
    if (ctx.path === deps.callbackPath) return next();
    const api = isApiPath(ctx.path);
    const unsafe = !safeMethods.has(ctx.method);
    ctx.set('Cache-Control', 'no-store');
    let session = await rp.session(ctx);
    if (session && await endedEverywhere(session)) {
      await rp.destroy(ctx);
      session = null;
    }
    if (!session || session.acr !== 'phr') {
      if (api || unsafe) throw new AppError('admin.unauthenticated');
      await rp.signIn(ctx, { returnTo: ctx.originalUrl, acr: 'phr', locale: ctx.state.locale });
      return;
    }
    const account = await accounts.findById(session.accountId);
    if (!account || account.disabledAt || !account.roles.includes(adminRole)) {
      if (!session.data.denied) {
        session.data.denied = true;
        await rp.save(session);
        await audit.record({ type: 'admin.access_denied', accountId: session.accountId, ...meta(ctx), data: { path: ctx.path } });
      }
      throw new AppError('admin.forbidden');
    }
    if (typeof session.data.csrf !== 'string') {
      // The first request of a new console session.
      session.data.csrf = randomBytes(24).toString('base64url');
      await rp.save(session);
      await audit.record({ type: 'admin.signin', accountId: account.id, actorId: account.id, ...meta(ctx), data: { acr: session.acr, amr: session.amr } });
    }
    const admin: AdminRequest = { session, account, csrf: session.data.csrf as string, freshUntil: session.authTime + freshSeconds };
    ctx.state.admin = admin;
    if (unsafe) {
      const given = api ? ctx.get(csrfHeader) : (ctx.request.body as Record<string, unknown> | undefined)?.[csrfField];
      if (!sameToken(given, admin.csrf)) throw new AppError('admin.csrf');
      if (api && Date.now() / 1000 > admin.freshUntil) throw new AppError('admin.reauth_required');
    }
    await next();
  };
}

/** The admin of this request (set by {@link adminGuard}). */
export function adminOf(ctx: Context): AdminRequest {
  return ctx.state.admin as AdminRequest;
}
