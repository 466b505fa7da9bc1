import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { Interaction, KoaContextWithOIDC } from 'oidc-provider';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Renderer } from '../http/render.ts';
import { authorizationLocale } from '../http/locale.ts';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import type { PasskeyService } from '../passkeys/passkey-service.ts';
import { translator } from '../i18n/i18n.ts';
import { requiredAcr } from './acr.ts';

/** What the sign-in page needs of an interaction (oidc-provider's `Interaction`). */
type SignInInteraction = Pick<Interaction, 'uid' | 'params'>;

/**
 * Renders the sign-in page of an interaction in the login prompt. `client` is the name the page
 * shows; `url` is the page's own address, which its language links keep (the interaction's page).
 */
export type SignInPage = (ctx: Context, interaction: SignInInteraction, client: string, url?: string) => Promise<void>;

/**
 * The page's passkey options: a discoverable sign-in's (no identifier), for the page's first
 * ceremony, autofill or the button, so that it starts without asking for options first. They
 * are issued as `POST …/passkey/options` issues them: a challenge of this interaction, single
 * use, counted as a ceremony of this address. Past the limit the page comes without them, and
 * its script asks for options as it would after the first ceremony (and gets the limit's
 * message). The challenge is stored in the same round trip that counts it.
 */
async function startingOptions(deps: PageDeps, ctx: Context, uid: string) {
  const [counted, options] = await Promise.allSettled([consumeOrThrow(deps.ceremonyLimit, ctx.ip), deps.passkeys.authenticationOptions(uid)]);
  if (counted.status === 'rejected') {
    if (counted.reason instanceof AppError && counted.reason.code === 'rate_limited') return undefined;
    throw counted.reason;
  }
  if (options.status === 'rejected') throw options.reason;
  return options.value;
}

/** What the sign-in page uses. */
interface PageDeps {
  renderer: Renderer;
  codeMinutes: number;
  passkeys: Pick<PasskeyService, 'authenticationOptions'>;
  /** The limit on passkey ceremonies per address (`rateLimits.ceremoniesPerIpPerMinute`). */
  ceremonyLimit: RateLimiterAbstract;
}

/** The sign-in page, as `GET /interaction/:uid` and the authorization request answer it. */
export function signInPage(deps: PageDeps): SignInPage {
  return async (ctx, interaction, client, url) => {
    const { params } = interaction;
    const required = requiredAcr(params.acr_values as string | undefined);
    const options = await startingOptions(deps, ctx, interaction.uid);
    const values: Record<string, string> = options ? { uid: interaction.uid, challenge: options.challenge } : { uid: interaction.uid };
    // The same page for every interaction of this client, language and options: rendered once,
    // with the uid and the challenge filled in.
    deps.renderer.pageWithValues(ctx, 'signin', values, (filled) => ({
      title: translator(ctx.state.locale)('signin.title'),
      page: {
        uid: filled.uid, client, phrRequired: required === 'phr', codeMinutes: deps.codeMinutes, loginHint: params.login_hint ?? '',
        recoverUrl: `/recover?interaction=${encodeURIComponent(filled.uid!)}`, helpUrl: '/help/passkeys',
        passkeyOptions: options ? { ...options, challenge: filled.challenge } : null,
      },
    }), url);
  };
}

/** The answer a browser accepts as a page: its Accept header names HTML (fetch's default does not). */
const acceptsPage = (ctx: Context) => /\btext\/html\b/i.test(ctx.get('accept'));

/**
 * The sign-in page in the authorization request's own answer.
 *
 * oidc-provider answers an authorization request that needs the member to sign in with a
 * redirect to the interaction's page (`/interaction/:uid`), which the browser then fetches,
 * and which reads the interaction back from the store. The interaction was made in this very
 * request, so this answers with the page itself, as Keycloak's authorization endpoint does: one
 * request and one store round trip fewer, and one network round trip fewer for the member. The
 * interaction's cookies are set exactly as for the redirect, and the page's script puts the
 * interaction's address in the address bar (`history.replaceState`), so reloading it or
 * switching language works as on the page reached by the redirect. The answer names that
 * address in `Content-Location`.
 *
 * Only a browser's navigation (Accept names HTML) to the login prompt is answered so; anything
 * else (consent, API clients, a redirect elsewhere) keeps oidc-provider's redirect.
 *
 * Returns true when it answered with the page. `headers` sets the security headers of
 * Tobira's own pages.
 */
export function pageInPlace(deps: { page: SignInPage; headers: (res: ServerResponse) => void }) {
  return async (ctx: Context): Promise<boolean> => {
    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    if (oidc?.route !== 'authorization' || ctx.status !== 303 || !acceptsPage(ctx)) return false;
    const interaction = oidc.entities.Interaction;
    if (!interaction || interaction.prompt.name !== 'login') return false;
    const url = `/interaction/${interaction.uid}`;
    if (ctx.response.get('Location') !== url) return false;
    ctx.remove('Location');
    // Where this page lives (RFC 9110, 8.7): clients that read the uid from the redirect find it here.
    ctx.set('Content-Location', url);
    // As the interaction's page would: the RP's ui_locales, unless the member chose a language.
    ctx.state.locale = authorizationLocale(ctx.req, interaction.params);
    deps.headers(ctx.res);
    await deps.page(ctx, interaction, oidc.client?.clientName ?? String(interaction.params.client_id), url);
    return true;
  };
}
