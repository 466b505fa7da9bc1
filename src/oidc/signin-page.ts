import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { Interaction, KoaContextWithOIDC } from 'oidc-provider';
import type { Renderer } from '../http/render.ts';
import { authorizationLocale } from '../http/locale.ts';
import { translator } from '../i18n/i18n.ts';
import { requiredAcr } from './acr.ts';

/** What the sign-in page needs of an interaction (oidc-provider's `Interaction`). */
type SignInInteraction = Pick<Interaction, 'uid' | 'params'>;

/**
 * Renders the sign-in page of an interaction in the login prompt. `client` is the name the page
 * shows; `url` is the page's own address, which its language links keep (the interaction's page).
 */
export type SignInPage = (ctx: Context, interaction: SignInInteraction, client: string, url?: string) => void;

/** The sign-in page, as `GET /interaction/:uid` and the authorization request answer it. */
export function signInPage(deps: { renderer: Renderer; codeMinutes: number }): SignInPage {
  return (ctx, interaction, client, url) => {
    const { params } = interaction;
    const required = requiredAcr(params.acr_values as string | undefined);
    // The same page for every interaction of this client, language and options: rendered once.
    deps.renderer.pageForUid(ctx, 'signin', interaction.uid, (uid) => ({
      title: translator(ctx.state.locale)('signin.title'),
      page: {
        uid, client, phrRequired: required === 'phr', codeMinutes: deps.codeMinutes, loginHint: params.login_hint ?? '',
        recoverUrl: `/recover?interaction=${encodeURIComponent(uid)}`, helpUrl: '/help/passkeys',
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
  return (ctx: Context): boolean => {
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
    deps.page(ctx, interaction, oidc.client?.clientName ?? String(interaction.params.client_id), url);
    return true;
  };
}
