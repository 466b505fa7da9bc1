/**
 * The benchmark's baseline: the same oidc-provider version Tobira hosts, configured the same
 * way (ES256 ID tokens, PKCE, first-party clients without consent, rotating refresh tokens),
 * but with oidc-provider's in-memory adapter, no database, no Redis, and a trivial login that
 * accepts the same signed WebAuthn assertion (verified with @simplewebauthn/server against
 * credentials held in memory). What Tobira costs beyond this is the price of its features.
 *
 * Run as a child process by bench/run.ts: `node bench/baseline-server.ts`, configured by the
 * BENCH_BASELINE environment variable (JSON, see {@link BaselineSettings}).
 *
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { interactionPolicy, type Configuration, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import {
  generateAuthenticationOptions, verifyAuthenticationResponse, type AuthenticatorTransport,
} from '@simplewebauthn/server';
import { claimsByScope } from '../src/oidc/find-account.ts';

/** A client both servers know, with the same id and secret. */
export interface BenchClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  scope: string;
  first_party: boolean;
}

/** What the orchestrator passes in BENCH_BASELINE. */
export interface BaselineSettings {
  port: number;
  issuer: string;
  clients: BenchClient[];
  cookieKeys: string[];
}

/** A member's passkey as the baseline keeps it (registered by the load generator). */
export interface BaselineCredential {
  accountId: string;
  memberNumber: string;
  email: string;
  credentialId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
}

/** Same TTLs as config/default.json. */
const ttl = {
  AccessToken: 3600, AuthorizationCode: 60, ClientCredentials: 3600, IdToken: 3600,
  Interaction: 3600, Session: 1_209_600, Grant: 2_592_000, RefreshToken: 2_592_000,
};

function signingKey(alg: 'ES256' | 'RS256'): JWK {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomBytes(12).toString('base64url'), alg, use: 'sig' };
}

/** Auto-consent for first-party clients, as Tobira does. */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client!;
  const grantId = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(client.clientId);
  let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (client.metadata().first_party !== true) return grant;
  if (!grant) grant = new oidc.provider.Grant({ clientId: client.clientId, accountId: oidc.session!.accountId });
  grant.addOIDCScope([...oidc.requestParamScopes].join(' '));
  await grant.save();
  return grant;
}

function providerFor(settings: BaselineSettings, credentials: Map<string, BaselineCredential>): Provider {
  const accounts = new Map<string, BaselineCredential>();
  const configuration: Configuration = {
    clients: settings.clients as unknown as Configuration['clients'],
    jwks: { keys: [signingKey('ES256'), signingKey('RS256')] },
    findAccount: async (_ctx, sub) => {
      const member = accounts.get(sub) ?? [...credentials.values()].find((c) => c.accountId === sub);
      if (!member) return undefined;
      accounts.set(sub, member);
      return {
        accountId: sub,
        claims: async () => ({ sub, email: member.email, email_verified: true, locale: 'en', member_number: member.memberNumber }),
      };
    },
    cookies: { keys: settings.cookieKeys, long: { signed: true, sameSite: 'lax' }, short: { signed: true, sameSite: 'lax' } },
    claims: claimsByScope,
    scopes: ['openid', 'profile', 'email', 'phone', 'offline_access', 'member'],
    acrValues: ['phr', 'mfa', 'sfa'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      id_token_signed_response_alg: 'ES256', token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: { properties: ['first_party'] },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: interactionPolicy.base() },
    loadExistingGrant,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || client.metadata().first_party === true),
    rotateRefreshToken: true,
    ttl,
  };
  return new Provider(settings.issuer, configuration);
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65_536) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  res.end(text);
}

/** The trivial login: a page, passkey options, and verification of the signed assertion. */
function loginHandler(provider: Provider, settings: BaselineSettings, credentials: Map<string, BaselineCredential>) {
  const rpID = new URL(settings.issuer).hostname;
  const origin = new URL(settings.issuer).origin;
  const challenges = new Map<string, string>();
  const byMemberNumber = (n: string) => [...credentials.values()].filter((c) => c.memberNumber === n);

  return async (req: IncomingMessage, res: ServerResponse, path: string[]): Promise<void> => {
    const [, uid, step, action] = path;
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return send(res, 400, { error: 'interaction.not_found' });
    if (req.method === 'GET' && !step) {
      return send(res, 200, `<!doctype html><title>Sign in</title><button data-uid="${uid}">Sign in with a passkey</button>`, 'text/html');
    }
    if (req.method !== 'POST' || step !== 'passkey') return send(res, 404, { error: 'not_found' });
    const body = await readJson(req);
    if (action === 'options') {
      const allow = typeof body.identifier === 'string' ? byMemberNumber(body.identifier) : undefined;
      const options = await generateAuthenticationOptions({
        rpID, userVerification: 'required', timeout: 300_000,
        allowCredentials: allow?.map((c) => ({ id: c.credentialId, transports: ['internal', 'hybrid'] as AuthenticatorTransport[] })),
      });
      challenges.set(uid, options.challenge);
      return send(res, 200, options);
    }
    if (action !== 'verify') return send(res, 404, { error: 'not_found' });
    const challenge = challenges.get(uid);
    challenges.delete(uid);
    const credential = credentials.get(body.id);
    if (!challenge || !credential) return send(res, 400, { error: 'passkey.verification_failed' });
    try {
      const { verified, authenticationInfo } = await verifyAuthenticationResponse({
        response: body, expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true,
        credential: { id: credential.credentialId, publicKey: Buffer.from(credential.publicKey, 'base64url'), counter: credential.counter },
      });
      if (!verified) return send(res, 400, { error: 'passkey.verification_failed' });
      credential.counter = authenticationInfo.newCounter;
    } catch {
      return send(res, 400, { error: 'passkey.verification_failed' });
    }
    const redirectTo = await provider.interactionResult(req, res, {
      login: { accountId: credential.accountId, acr: 'phr', amr: ['pop', 'mfa'], remember: true },
    }, { mergeWithLastSubmission: false });
    return send(res, 200, { redirectTo });
  };
}

/** Starts the baseline server and resolves when it listens. */
export async function startBaseline(settings: BaselineSettings): Promise<{ close(): Promise<void> }> {
  const credentials = new Map<string, BaselineCredential>();
  const provider = providerFor(settings, credentials);
  const oidc = provider.callback();
  const login = loginHandler(provider, settings, credentials);

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0].split('/').filter(Boolean);
    const handle = async () => {
      if (path[0] === 'interaction') return login(req, res, path);
      if (path[0] === 'bench' && path[1] === 'credentials' && req.method === 'POST') {
        const list = (await readJson(req)) as BaselineCredential[];
        for (const c of list) credentials.set(c.credentialId, c);
        return send(res, 200, { registered: list.length });
      }
      return oidc(req, res);
    };
    handle().catch((error: Error) => {
      if (!res.headersSent) send(res, 500, { error: 'server_error', message: error.message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject).listen(settings.port));
  return {
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (import.meta.main) {
  const settings = JSON.parse(process.env.BENCH_BASELINE ?? '') as BaselineSettings;
  const server = await startBaseline(settings);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
