import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { KeyValueStore } from '../store/store.ts';
import type { ClientService } from '../admin/client-service.ts';

/**
 * A signed-in member as one of Tobira's own areas (account settings, admin console) knows them,
 * from the ID token of a sign-in through Tobira's own OpenID Connect flow.
 */
export interface RpSession {
  id: string;
  accountId: string;
  /** Seconds since the epoch of the member's last authentication (ID token `auth_time`). */
  authTime: number;
  acr: string;
  amr: string[];
  idToken: string;
  /** Free space for the area (e.g. step-up marks, recovery-only sessions). */
  data: Record<string, unknown>;
}

/** What an area asks of a sign-in. */
export interface SignInRequest {
  /** Where to go back to after the sign-in (a path on this site). */
  returnTo: string;
  /** `phr` to require a passkey. */
  acr?: 'phr';
  /** Force a fresh authentication (step-up): `prompt=login`. */
  fresh?: boolean;
  locale?: string;
}

/** Options of an internal relying party. */
export interface InternalRpOptions {
  issuer: string;
  /** The port this process listens on: token and discovery requests go over loopback. */
  port: number;
  clientId: string;
  clientName: string;
  /** Path prefix of the area (`/account`): callback at `${prefix}/callback`, cookie scoped to it. */
  prefix: string;
  cookie: { name: string; sameSite: 'lax' | 'strict'; ttlSeconds: number };
  scope?: string;
  store: KeyValueStore;
  clients: ClientService;
}

/** Signs members in to one of Tobira's own areas through Tobira itself, as a first-party public client. */
export interface InternalRp {
  /** The session of this request, or null (expired sessions are gone from the store). */
  session(ctx: Context): Promise<RpSession | null>;
  /** Saves changes to `session.data`. */
  save(session: RpSession): Promise<void>;
  /** Redirects the browser to Tobira's authorization endpoint. */
  signIn(ctx: Context, request: SignInRequest): Promise<void>;
  /** Handles `${prefix}/callback`: exchanges the code, creates the session, redirects back. */
  callback(ctx: Context): Promise<void>;
  /** Ends the area's session and sends the browser through RP-initiated logout to `${prefix}`. */
  signOut(ctx: Context): Promise<void>;
  /** Ends the session server-side only. */
  destroy(ctx: Context): Promise<void>;
}

/** Registers the client (idempotent) and builds the internal relying party. */
export async function createInternalRp(options: InternalRpOptions): Promise<InternalRp> {
  const { issuer, port, clientId, prefix, store, cookie } = options;
  const scope = options.scope ?? 'openid profile email member';
  const redirectUri = `${issuer}${prefix}/callback`;
  await options.clients.ensure({
    client_id: clientId,
    client_name: options.clientName,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [`${issuer}${prefix}`],
    grant_types: ['authorization_code'],
    scope,
    token_endpoint_auth_method: 'none',
    first_party: true,
  });

  // Back-channel calls (discovery, token, JWKS) go to this very process over loopback, so a
  // deployment behind a proxy never needs to reach its own public URL.
  const issuerUrl = new URL(issuer);
  const loopbackFetch: oidc.CustomFetch = (url, init) => {
    const target = new URL(url);
    if (target.origin === issuerUrl.origin) {
      target.protocol = 'http:';
      target.host = `127.0.0.1:${port}`;
      const headers = new Headers(init.headers as HeadersInit);
      headers.set('host', issuerUrl.host);
      headers.set('x-forwarded-proto', issuerUrl.protocol.replace(':', ''));
      headers.set('x-forwarded-host', issuerUrl.host);
      return fetch(target, { ...init, headers } as RequestInit);
    }
    return fetch(url, init as RequestInit);
  };
  let configuration: Promise<oidc.Configuration> | undefined;
  const config = () => {
    configuration ??= oidc.discovery(issuerUrl, clientId, undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: loopbackFetch,
    }).then((discovered) => {
      // oidc-provider names its endpoints after the request's host, and fetch() cannot send a
      // Host header: over loopback the metadata says http://127.0.0.1:<port>/auth. Browsers must
      // go to the issuer's own origin, so the endpoints are rebased onto it.
      const rebase = (value: unknown) => (typeof value === 'string' ? `${issuerUrl.origin}${new URL(value).pathname}${new URL(value).search}` : value);
      const metadata = Object.fromEntries(Object.entries(discovered.serverMetadata())
        .map(([name, value]) => [name, name.endsWith('_endpoint') || name === 'jwks_uri' ? rebase(value) : value]));
      const cfg = new oidc.Configuration(metadata as oidc.ServerMetadata, clientId, undefined, oidc.None());
      oidc.allowInsecureRequests(cfg);
      cfg[oidc.customFetch] = loopbackFetch;
      return cfg;
    }).catch((error) => { configuration = undefined; throw error; });
    return configuration;
  };

  const key = (id: string) => `rp:${clientId}:${id}`;
  const pendingKey = (id: string) => `rp:${clientId}:pending:${id}`;
  const setCookie = (ctx: Context, value: string | null) => ctx.cookies.set(cookie.name, value, {
    signed: true, httpOnly: true, sameSite: cookie.sameSite, path: prefix, maxAge: value ? cookie.ttlSeconds * 1000 : undefined, overwrite: true,
  });

  const rp: InternalRp = {
    async session(ctx) {
      const id = ctx.cookies.get(cookie.name, { signed: true });
      if (!id) return null;
      const raw = await store.get(key(id));
      return raw ? { ...(JSON.parse(raw) as Omit<RpSession, 'id'>), id } : null;
    },
    async save(session) {
      const { id, ...rest } = session;
      await store.set(key(id), JSON.stringify(rest), cookie.ttlSeconds);
    },
    async signIn(ctx, request) {
      const cfg = await config();
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const returnTo = request.returnTo.startsWith(`${prefix}`) && !request.returnTo.startsWith('//') ? request.returnTo : prefix;
      await store.set(pendingKey(state), JSON.stringify({ verifier, nonce, returnTo }), 900);
      const params: Record<string, string> = {
        redirect_uri: redirectUri, scope, state, nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      };
      if (request.acr) params.acr_values = request.acr;
      if (request.fresh) params.prompt = 'login';
      if (request.locale) params.ui_locales = request.locale;
      ctx.redirect(oidc.buildAuthorizationUrl(cfg, params).href);
    },
    async callback(ctx) {
      const cfg = await config();
      const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
      const raw = state ? await store.getDel(pendingKey(state)) : null;
      if (!raw) { ctx.redirect(prefix); return; }
      const pending = JSON.parse(raw) as { verifier: string; nonce: string; returnTo: string };
      let tokens;
      try {
        tokens = await oidc.authorizationCodeGrant(cfg, new URL(ctx.originalUrl, issuer), {
          pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true,
        });
      } catch (error) {
        // Cancelled, denied, or not this sign-in's answer: back to the area, which asks again.
        if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError || error instanceof oidc.ClientError) {
          ctx.state.log?.info({ code: (error as { error?: string }).error }, 'internal sign-in did not complete');
          ctx.redirect(prefix === pending.returnTo ? '/' : prefix);
          return;
        }
        throw error;
      }
      const claims = tokens.claims()!;
      const previous = await rp.session(ctx);
      if (previous) await store.del(key(previous.id));
      const session: RpSession = {
        id: randomBytes(24).toString('base64url'),
        accountId: claims.sub,
        authTime: Number(claims.auth_time ?? Math.floor(Date.now() / 1000)),
        acr: String(claims.acr ?? ''),
        amr: Array.isArray(claims.amr) ? claims.amr.map(String) : [],
        idToken: tokens.id_token!,
        data: {},
      };
      await rp.save(session);
      setCookie(ctx, session.id);
      ctx.redirect(pending.returnTo);
    },
    async signOut(ctx) {
      const session = await rp.session(ctx);
      await rp.destroy(ctx);
      const cfg = await config();
      const params: Record<string, string> = { post_logout_redirect_uri: `${issuer}${prefix}`, client_id: clientId };
      if (session) params.id_token_hint = session.idToken;
      if (ctx.state.locale) params.ui_locales = ctx.state.locale;
      ctx.redirect(oidc.buildEndSessionUrl(cfg, params).href);
    },
    async destroy(ctx) {
      const id = ctx.cookies.get(cookie.name, { signed: true });
      if (id) await store.del(key(id));
      setCookie(ctx, null);
    },
  };
  return rp;
}
