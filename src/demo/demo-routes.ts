import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { KeyValueStore } from '../store/store.ts';
import type { Renderer } from '../http/render.ts';
import type { ClientService } from '../admin/client-service.ts';
import { translator } from '../i18n/i18n.ts';

/** The demo relying party's client id. */
export const demoClientId = 'tobira-demo';

const cookie = 'tobira_demo';

/** An answer of the authorization server that says "no" (as opposed to Tobira being down). */
function isSignInRefused(error: unknown): boolean {
  return error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError || error instanceof oidc.ClientError;
}

/**
 * A small first-party relying party served at /demo (development only): it signs in through
 * Tobira with openid-client like any RP would, and shows the ID token's claims and userinfo.
 */
export async function demoRoutes(deps: { issuer: string; store: KeyValueStore; renderer: Renderer; clients: ClientService }): Promise<Router> {
  const { issuer, store, renderer } = deps;
  await deps.clients.ensure({
    client_id: demoClientId,
    client_name: 'Tobira Demo',
    redirect_uris: [`${issuer}/demo/callback`],
    post_logout_redirect_uris: [`${issuer}/demo`],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email phone member offline_access',
    token_endpoint_auth_method: 'none',
    first_party: true,
  });

  let configuration: Promise<oidc.Configuration> | undefined;
  const config = () => {
    configuration ??= oidc.discovery(new URL(issuer), demoClientId, undefined, oidc.None(), {
      execute: issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
    }).catch((error) => { configuration = undefined; throw error; });
    return configuration;
  };
  const sessionKey = (id: string) => `demo:${id}`;
  const ttl = 3600;

  async function session(ctx: Context): Promise<Record<string, unknown> | null> {
    const id = ctx.cookies.get(cookie, { signed: true });
    const raw = id ? await store.get(sessionKey(id)) : null;
    return raw ? JSON.parse(raw) : null;
  }

  const router = new Router({ prefix: '/demo' });

  router.get('/', async (ctx) => {
    const s = await session(ctx);
    renderer.page(ctx, 'demo', { title: translator(ctx.state.locale)('demo.title'), session: s?.claims ? s : null });
  });

  router.get('/login', async (ctx) => {
    const cfg = await config();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const id = randomBytes(18).toString('base64url');
    await store.set(sessionKey(id), JSON.stringify({ verifier, state, nonce }), ttl);
    ctx.cookies.set(cookie, id, { signed: true, httpOnly: true, sameSite: 'lax', maxAge: ttl * 1000 });
    const params: Record<string, string> = {
      redirect_uri: `${issuer}/demo/callback`,
      scope: 'openid profile email phone member offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ui_locales: ctx.state.locale,
    };
    if (ctx.query.acr === 'phr') params.acr_values = 'phr';
    if (ctx.query.prompt === 'login') params.prompt = 'login';
    ctx.redirect(oidc.buildAuthorizationUrl(cfg, params).href);
  });

  router.get('/callback', async (ctx) => {
    const cfg = await config();
    const id = ctx.cookies.get(cookie, { signed: true });
    const s = id ? await session(ctx) : null;
    if (!id || !s?.verifier) { ctx.redirect('/demo'); return; }
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(cfg, new URL(ctx.originalUrl, issuer), {
        pkceCodeVerifier: s.verifier as string, expectedState: s.state as string, expectedNonce: s.nonce as string, idTokenExpected: true,
      });
    } catch (error) {
      if (!isSignInRefused(error)) throw error;
      // The member cancelled or denied, or the answer does not belong to this login (another
      // tab, a replayed callback): the demo simply shows its signed-out page again.
      ctx.state.log?.info({ err: error }, 'demo sign-in did not complete');
      await store.del(sessionKey(id));
      ctx.redirect('/demo');
      return;
    }
    const claims = tokens.claims()!;
    const userinfo = await oidc.fetchUserInfo(cfg, tokens.access_token, claims.sub);
    await store.set(sessionKey(id), JSON.stringify({ claims, userinfo, idToken: tokens.id_token, hasRefreshToken: Boolean(tokens.refresh_token) }), ttl);
    ctx.redirect('/demo');
  });

  router.get('/logout', async (ctx) => {
    const cfg = await config();
    const s = await session(ctx);
    const id = ctx.cookies.get(cookie, { signed: true });
    if (id) await store.del(sessionKey(id));
    ctx.cookies.set(cookie, null);
    const params: Record<string, string> = { post_logout_redirect_uri: `${issuer}/demo`, ui_locales: ctx.state.locale };
    if (s?.idToken) params.id_token_hint = s.idToken as string;
    ctx.redirect(oidc.buildEndSessionUrl(cfg, params).href);
  });

  return router;
}
