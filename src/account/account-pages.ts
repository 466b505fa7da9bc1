import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Renderer } from '../http/render.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import type { TotpService } from '../verification/totp.ts';
import { translator, type Locale, type Translate } from '../i18n/i18n.ts';
import type { AccountKit } from './account-kit.ts';
import type { Member } from './account-session.ts';
import { passkeyView, userHandleOf, type PasskeyView } from './passkey-view.ts';
import { stepUpStrings } from './step-up-strings.ts';

/** What the pages use besides the kit. */
export interface AccountPageDeps {
  renderer: Renderer;
  passkeyRepository: PasskeyRepository;
  totp: TotpService;
  rpId: string;
  codeMinutes: number;
}

/** A date as the page first shows it (the browser re-formats it in the member's time zone). */
export function displayDate(iso: string, locale: Locale): string {
  return new Intl.DateTimeFormat(locale === 'ja' ? 'ja-JP' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso));
}

/** What a passkey row shows, with its dates formatted. */
function row(view: PasskeyView, locale: Locale) {
  return { ...view, createdText: displayDate(view.createdAt, locale), lastUsedText: view.lastUsedAt ? displayDate(view.lastUsedAt, locale) : null };
}

/** Strings the page scripts show (already in the page's language). */
function scriptStrings(t: Translate, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, t(k, { name: '{name}', to: '{to}', minutes: '{minutes}', phone: '{phone}', email: '{email}', provider: '{provider}', date: '{date}' })]));
}

const passkeyPageKeys = [
  'account.passkeys.generic', 'account.passkeys.synced', 'account.passkeys.synced_hint', 'account.passkeys.device_bound',
  'account.passkeys.created', 'account.passkeys.last_used', 'account.passkeys.never_used', 'account.passkeys.rename', 'account.passkeys.remove', 'account.passkeys.rename_named',
  'account.passkeys.remove_named', 'account.passkeys.empty',
  'account.add.status_waiting', 'account.add.status_success', 'account.add.status_success_password', 'account.add.status_cancelled',
  'account.add.email_sent', 'account.add.qr_waiting', 'account.add.qr_done', 'account.add.qr_opened', 'account.add.qr_expired',
  'account.rename.name_required', 'account.rename.status_success',
  'account.remove.confirm', 'account.remove.last', 'account.remove.last_blocked', 'account.remove.status_success',
  'common.working', 'errors.internal', 'errors.service.unavailable',
];
const securityPageKeys = [
  'account.security.totp_on', 'account.security.totp_off', 'account.security.totp_enabled', 'account.security.totp_removed',
  'account.security.phone_none', 'account.security.phone_verified', 'account.security.phone_add', 'account.security.phone_change',
  'account.security.phone_invalid', 'account.security.phone_sent', 'account.security.phone_done', 'account.security.phone_removed',
  'account.security.phone_remove_confirm', 'account.security.phone_remove', 'account.security.totp_remove',
  'account.security.totp_remove_confirm', 'account.step_up.code_required',
  'common.working', 'errors.internal', 'errors.service.unavailable',
];

/**
 * The settings pages: `/account` (→ Passkeys), Passkeys, Security, the sign-in callback and
 * sign-out. A member who is not signed in is sent through Tobira's sign-in and back.
 */
export function accountPages(router: Router, kit: AccountKit, deps: AccountPageDeps): void {
  const { renderer, passkeyRepository, totp } = deps;

  function common(ctx: Context, member: Member, nav: 'passkeys' | 'security') {
    const t = translator(ctx.state.locale);
    return { t, wide: true, nav, memberNumber: member.account.memberNumber, stepUp: stepUpStrings(t) };
  }

  router.get('/', (ctx) => {
    ctx.redirect(`/account/passkeys${ctx.search}`);
  });

  router.get('/callback', async (ctx) => {
    await kit.rp.callback(ctx);
  });

  router.post('/signout', async (ctx) => {
    await kit.rp.signOut(ctx);
    ctx.status = 303;
  });

  router.get('/passkeys', async (ctx) => {
    const member = await kit.sessions.forPage(ctx);
    if (!member) return;
    const { account } = member;
    const { t, ...base } = common(ctx, member, 'passkeys');
    const keys = (await passkeyRepository.listByAccount(account.id)).map(passkeyView);
    renderer.page(ctx, 'account/passkeys', {
      ...base,
      title: t('account.passkeys.title'),
      passkeys: keys.map((k) => row(k, ctx.state.locale)),
      passwordEnabled: account.passwordEnabled,
      config: {
        locale: ctx.state.locale,
        passwordEnabled: account.passwordEnabled,
        emailVerified: account.emailVerified,
        email: account.email,
        passkeys: keys,
        signal: {
          rpId: deps.rpId, userId: userHandleOf(account.id), name: account.memberNumber,
          displayName: account.name ? `${account.name} (${account.memberNumber})` : account.email,
        },
        strings: scriptStrings(t, passkeyPageKeys),
      },
    });
  });

  router.get('/security', async (ctx) => {
    const member = await kit.sessions.forPage(ctx);
    if (!member) return;
    const { account } = member;
    const { t, ...base } = common(ctx, member, 'security');
    const totpEnabled = await totp.isEnabled(account.id);
    renderer.page(ctx, 'account/security', {
      ...base,
      title: t('account.security.title'),
      passwordEnabled: account.passwordEnabled,
      totpEnabled,
      phone: account.phone && account.phoneVerified ? account.phone : null,
      codeMinutes: deps.codeMinutes,
      config: {
        totpEnabled,
        phone: account.phone && account.phoneVerified ? account.phone : null,
        strings: scriptStrings(t, securityPageKeys),
      },
    });
  });
}
