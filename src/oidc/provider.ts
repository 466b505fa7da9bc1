import Provider, { errors, interactionPolicy, type AdapterPayload, type Configuration, type KoaContextWithOIDC, type JWK } from 'oidc-provider';
import type { CachedReads } from '../db/cached-reads.ts';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/schema.ts';
import type { KeyValueStore } from '../store/store.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Renderer } from '../http/render.ts';
import { createAdapterFactory } from './adapter.ts';
import { createFindAccount, claimsByScope } from './find-account.ts';
import { acrValues, requiredAcr, satisfies } from './acr.ts';
import type { CookieSigner } from '../http/cookie-signer.ts';

/** Tobira's own client metadata besides the registered OIDC fields. */
const extraClientProperties = ['first_party', 'access_token_ttl', 'id_token_ttl', 'refresh_token_ttl'] as const;

/** Checks Tobira's extra client metadata (the admin console validates it first; this guards the provider). */
function validateExtraMetadata(_ctx: unknown, key: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (key === 'first_party' && typeof value !== 'boolean') throw new Error('first_party must be a boolean');
  if (key.endsWith('_ttl') && !(Number.isSafeInteger(value) && (value as number) > 0)) throw new Error(`${key} must be a positive whole number of seconds`);
}

/** An oidc-provider Client (or nothing). */
type ClientLike = object | undefined;

/**
 * One metadata field of a client, by its registered (snake_case) name. oidc-provider keeps
 * recognized fields, Tobira's extra ones included, camelCased on the instance; reading them there
 * avoids `client.metadata()`, which rebuilds the whole object on every call.
 */
function clientField(client: ClientLike, key: string): unknown {
  if (!client) return undefined;
  const fields = client as Record<string, unknown>;
  return fields[key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] ?? fields[key];
}

/** The client's own lifetime for a token kind (extra metadata), else `fallback`. */
function clientTtl(client: ClientLike, key: (typeof extraClientProperties)[number], fallback: number): number {
  const value = clientField(client, key);
  return typeof value === 'number' && value > 0 ? value : fallback;
}

/**
 * What the consent page shows about a client besides its name: its logo and the links to its
 * privacy policy and terms (registered by an admin; https only).
 */
export function clientPresentation(client: ClientLike): { logoUri?: string; policyUri?: string; tosUri?: string } {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return { logoUri: str(clientField(client, 'logo_uri')), policyUri: str(clientField(client, 'policy_uri')), tosUri: str(clientField(client, 'tos_uri')) };
}

/**
 * Outgoing requests of the provider (a client's JWKS URI, back-channel logout). oidc-provider
 * refuses special-use addresses (loopback, private networks) against SSRF; only the test
 * environment lets loopback through, so tests can serve a JWKS and receive logout tokens.
 */
function outgoingFetch(env: Config['env']) {
  return (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
    const host = new URL(url).hostname;
    if (env === 'test' && (host === '127.0.0.1' || host === 'localhost' || host === '[::1]')) {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return globalThis.fetch(url, rest);
    }
    return globalThis.fetch(url, options);
  };
}

/** Whether a client skips the consent screen (extra client metadata `first_party`). */
export function isFirstParty(client: ClientLike): boolean {
  return clientField(client, 'first_party') === true;
}

function acrPolicy() {
  const policy = interactionPolicy.base();
  // A session whose account was disabled (or deleted) since it signed in: findAccount finds no
  // account, and without this check the consent checks would read a grant that was never loaded.
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'account_unavailable',
    'the signed-in account is disabled or no longer exists',
    (ctx) => (ctx.oidc.session?.accountId && !ctx.oidc.account ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT),
  ));
  // acr_values is a voluntary claim in OIDC Core; Tobira enforces it: a sign-in that does not
  // reach the requested level asks the member to sign in again.
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'acr_values',
    'requested authentication context class could not be obtained',
    (ctx) => {
      const required = requiredAcr(ctx.oidc.params?.acr_values);
      return satisfies(ctx.oidc.acr, required) ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    },
  ));
  return policy;
}

/**
 * Tobira has no resource servers of its own: a client may introspect only the tokens issued to
 * it (oidc-provider's default lets any confidential client read any token's subject and scope).
 */
function ownTokensOnly(_ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string }): boolean {
  return token.clientId === client.clientId;
}

/**
 * RFC 7009 §2.1: a token issued to another client is refused. A public client is not told
 * (it is not authenticated, so the answer would let anyone probe tokens).
 */
function revokeOwnTokensOnly(_ctx: KoaContextWithOIDC, client: { clientId: string; clientAuthMethod?: string }, token: { clientId?: string }): boolean {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
}

/** First-party clients get a grant for what they ask without a consent screen. */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client!;
  const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(client)) return grant;
  const existing = Boolean(grant);
  if (!grant) grant = new oidc.provider.Grant({ clientId: client.clientId, accountId: oidc.session!.accountId });
  const before = `${grant.getOIDCScope()}|${grant.getOIDCClaims().join(' ')}`;
  grant.addOIDCScope([...oidc.requestParamScopes].join(' '));
  const claims = [...oidc.requestParamClaims ?? []];
  if (claims.length) grant.addOIDCClaims(claims);
  // Saved only when new or widened: most sign-ins ask for what was already granted.
  if (!existing || before !== `${grant.getOIDCScope()}|${grant.getOIDCClaims().join(' ')}`) await grant.save();
  return grant;
}

/** Builds the oidc-provider instance with Tobira's storage, accounts, policy and pages. */
export function createProvider(deps: {
  config: Config; ds: DataSource; store: KeyValueStore; accounts: AccountService; jwks: { keys: JWK[] }; renderer: Renderer;
  /** Client metadata reads (cached while the change feed listens); the table by default. */
  clients?: CachedReads<AdapterPayload>;
  /** Signs and checks cookies (`config.cookieKeys`); the Koa app uses the same one. */
  cookieSigner: CookieSigner;
}): Provider {
  const { config, ds, store, accounts, jwks, renderer } = deps;
  const configuration: Configuration = {
    adapter: createAdapterFactory({ ds, store, clients: deps.clients }),
    findAccount: createFindAccount(accounts),
    jwks,
    cookies: {
      // A Keygrip-compatible signer: oidc-provider passes a non-array `keys` to Koa's cookies as is.
      keys: deps.cookieSigner as unknown as string[],
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
    claims: claimsByScope,
    scopes: ['openid', 'profile', 'email', 'phone', 'offline_access', 'member'],
    acrValues: [...acrValues],
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: {
      properties: [...extraClientProperties],
      validator: validateExtraMetadata,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true, allowedPolicy: revokeOwnTokensOnly },
      introspection: { enabled: true, allowedPolicy: ownTokensOnly },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => renderer.logout(ctx, form),
        postLogoutSuccessSource: (ctx) => renderer.loggedOut(ctx),
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: acrPolicy(),
    },
    loadExistingGrant,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || isFirstParty(client)),
    rotateRefreshToken: true,
    // Per-client lifetimes (set by an admin) override the deployment's defaults.
    ttl: {
      AccessToken: (_ctx, _token, client) => clientTtl(client, 'access_token_ttl', config.ttl.accessTokenSeconds),
      AuthorizationCode: config.ttl.authorizationCodeSeconds,
      ClientCredentials: (_ctx, _token, client) => clientTtl(client, 'access_token_ttl', config.ttl.accessTokenSeconds),
      IdToken: (_ctx, _token, client) => clientTtl(client, 'id_token_ttl', config.ttl.idTokenSeconds),
      Interaction: config.ttl.interactionSeconds,
      Session: config.ttl.sessionSeconds,
      // A grant outlives every refresh token issued under it.
      Grant: (ctx) => Math.max(config.ttl.refreshTokenSeconds, clientTtl(ctx?.oidc?.client, 'refresh_token_ttl', 0)),
      RefreshToken: (_ctx, _token, client) => clientTtl(client, 'refresh_token_ttl', config.ttl.refreshTokenSeconds),
    },
    renderError: (ctx, out, error) => renderer.oidcError(ctx, out, error),
    fetch: outgoingFetch(config.env) as Configuration['fetch'],
  };
  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}
