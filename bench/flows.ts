/**
 * The benchmark's flows, each checked end to end as a relying party and a browser would need
 * it. Any deviation throws a {@link FlowError}; the load generator counts and reports it.
 *
 * - `signin`: authorization request with PKCE, sign-in page, passkey options (the ones the
 *   page carries, as the page's script uses them, or asked for), signed assertion, verify,
 *   redirect back with the code, token exchange, ID token validation (signature included),
 *   userinfo.
 * - `refresh`: a refresh-token grant (rotating: each answer carries the next token).
 * - `client_credentials`: a client-credentials grant.
 * - `discovery`: the discovery document, then the JWKS it points to.
 *
 * @packageDocumentation
 */
import * as oidc from 'openid-client';
import { createUserAgent, pageConfig, type UaResponse, type UserAgent } from '../test/helpers/user-agent.ts';
import type { SoftAuthenticator } from '../test/helpers/soft-authenticator.ts';
import { benchFetch, checkAlternation, flowHeaders, FlowError, inFlow, observe, type ResponseTamper } from './flow-context.ts';

/** The scenarios, in the order they run. */
export const scenarios = ['signin', 'refresh', 'client_credentials', 'discovery'] as const;
export type Scenario = (typeof scenarios)[number];


/** A server under test, as the load generator sees it. */
export interface TargetSpec {
  /** `candidate` is Tobira from another checkout, measured beside `tobira` (`--candidate DIR`). */
  name: 'tobira' | 'baseline' | 'candidate';
  /** Issuer URL: every request goes there (the proxy with `--instances 2`). */
  issuer: string;
  /** Tobira processes behind the issuer (1 for the baseline). */
  instances: number;
  /** The first-party confidential web client that signs members in. */
  rp: { clientId: string; clientSecret: string; redirectUri: string };
  /** The confidential client of the client-credentials scenario. */
  service: { clientId: string; clientSecret: string };
}

/** A seeded member and the software authenticator holding their passkey. */
export interface Member {
  accountId: string;
  memberNumber: string;
  email: string;
  authenticator: SoftAuthenticator;
}

/** Deliberate faults, for the test that proves the checker rejects broken flows. */
export type Fault = 'bad-assertion' | 'tampered-id-token';

/** A connection to one target: openid-client configured for both clients. */
export interface FlowEnv {
  target: TargetSpec;
  rp: oidc.Configuration;
  service: oidc.Configuration;
  identifierFirst: boolean;
  fault?: Fault;
}

/** Flips one character of a JWS signature inside a token response. */
const tamperIdToken: ResponseTamper = (url, body) => {
  if (!url.endsWith('/token')) return body;
  const parsed = JSON.parse(body);
  if (typeof parsed.id_token === 'string') {
    const sig = parsed.id_token.slice(-6);
    const flipped = [...sig].map((c) => (c === 'A' ? 'B' : 'A')).join('');
    parsed.id_token = parsed.id_token.slice(0, -6) + flipped;
  }
  return JSON.stringify(parsed);
};

async function configure(target: TargetSpec, clientId: string, secret: string, tamper?: ResponseTamper): Promise<oidc.Configuration> {
  const fetchImpl = benchFetch(tamper);
  const config = await oidc.discovery(new URL(target.issuer), clientId, undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
    [oidc.customFetch]: fetchImpl as never,
  });
  config[oidc.customFetch] = fetchImpl as never;
  return config;
}

/** Discovers the target and configures openid-client for its two clients. */
export async function connect(target: TargetSpec, options: { identifierFirst?: boolean; fault?: Fault } = {}): Promise<FlowEnv> {
  const tamper = options.fault === 'tampered-id-token' ? tamperIdToken : undefined;
  return {
    target,
    rp: await configure(target, target.rp.clientId, target.rp.clientSecret, tamper),
    service: await configure(target, target.service.clientId, target.service.clientSecret),
    identifierFirst: options.identifierFirst ?? false,
    fault: options.fault,
  };
}

/** A new browser (cookie jar) whose requests carry the flow headers and whose responses are recorded. */
export function browser(env: FlowEnv): UserAgent {
  const ua = createUserAgent({ origin: new URL(env.target.issuer).origin });
  const record = (res: UaResponse) => { observe(res.headers); return res; };
  return {
    jar: ua.jar,
    get: async (url, o = {}) => record(await ua.get(url, { ...o, headers: { ...o.headers, ...flowHeaders() } })),
    post: async (url, body, o = {}) => record(await ua.post(url, body, { ...o, headers: { ...o.headers, ...flowHeaders() } })),
  };
}

/** Throws a FlowError of `step` unless the response has one of `statuses`. */
export function expectStatus(step: string, res: UaResponse, ...statuses: number[]): void {
  if (!statuses.includes(res.status)) {
    throw new FlowError(step, `HTTP ${res.status} (expected ${statuses.join(' or ')}): ${res.text.slice(0, 160).replace(/\s+/g, ' ')}`);
  }
}

function expectThat(step: string, condition: unknown, message: string): asserts condition {
  if (!condition) throw new FlowError(step, message);
}

/** Runs an openid-client call, turning its errors into a FlowError of `step`. */
async function asRp<T>(step: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const e = error as Error & { code?: string; error?: string; cause?: { message?: string } };
    const cause = typeof e.cause?.message === 'string' ? ` (${e.cause.message})` : '';
    throw new FlowError(step, `${e.code ?? e.error ?? e.name} ${e.message}${cause}`.slice(0, 240), { cause: error });
  }
}

/** The tokens a complete sign-in ends with. */
export interface SignInResult { refreshToken: string; accessToken: string }

/** What a browser's navigation accepts (Chromium's). */
const pageAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Authorization request with PKCE, up to the sign-in page of the interaction it lands on. */
export async function authorize(env: FlowEnv, ua: UserAgent) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(env.rp, {
    redirect_uri: env.target.rp.redirectUri,
    scope: 'openid email member offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  // As a browser navigates: Tobira answers with the sign-in page itself, at the interaction's
  // address (Content-Location); the baseline redirects to its page.
  const start = await ua.get(url.href, { headers: { accept: pageAccept } });
  expectStatus('authorize', start, 200, 302, 303);
  const inPlace = start.status === 200;
  const interaction = (inPlace ? start.headers.get('content-location') : start.location) ?? '';
  const uid = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(interaction, env.target.issuer).pathname)?.[1];
  expectThat('authorize', uid, `${inPlace ? 'answered with the page of' : 'redirected to'} ${interaction}, not an interaction`);
  const page = inPlace ? start : await ua.get(interaction, { headers: { accept: pageAccept } });
  expectStatus('signin-page', page, 200);
  expectThat('signin-page', page.headers.get('content-type')?.startsWith('text/html'), 'the sign-in page is not HTML');
  expectThat('signin-page', page.text.includes(uid), 'the sign-in page does not name its interaction');
  return { uid, verifier, state, nonce, pageOptions: passkeyOptionsOf(page.text) };
}

/**
 * The passkey options a Tobira sign-in page carries for its first ceremony (the page's
 * `data-config`, as its script reads it), or undefined (the baseline's page, or none offered).
 */
function passkeyOptionsOf(html: string): Record<string, unknown> | undefined {
  return html.includes('data-config="') ? pageConfig(html).passkeyOptions ?? undefined : undefined;
}

/** The passkey options of a sign-in: the page's (a discoverable sign-in), or asked for. */
async function passkeyOptions(env: FlowEnv, ua: UserAgent, base: string, member: Member, pageOptions?: Record<string, unknown>) {
  if (pageOptions && !env.identifierFirst) {
    expectThat('signin-page', typeof pageOptions.challenge === 'string', 'no challenge in the options the page carries');
    return pageOptions;
  }
  const options = await ua.post(`${base}/options`, env.identifierFirst ? { identifier: member.memberNumber } : {});
  expectStatus('passkey-options', options, 200);
  expectThat('passkey-options', typeof options.json?.challenge === 'string', 'no challenge in the options');
  return options.json;
}

/** Passkey options, the authenticator's signed assertion, verify: returns where to go next. */
async function passkeyAssertion(env: FlowEnv, ua: UserAgent, auth: { uid: string; pageOptions?: Record<string, unknown> }, member: Member): Promise<string> {
  const base = `${env.target.issuer}/interaction/${auth.uid}/passkey`;
  const options = await passkeyOptions(env, ua, base, member, auth.pageOptions);
  const assertion = member.authenticator.authenticate(options as never, new URL(env.target.issuer).origin, undefined, {
    badSignature: env.fault === 'bad-assertion',
  });
  const verified = await ua.post(`${base}/verify`, assertion);
  expectStatus('passkey-verify', verified, 200);
  expectThat('passkey-verify', typeof verified.json?.redirectTo === 'string', 'no redirectTo after verification');
  return verified.json.redirectTo;
}

/** Follows the provider's redirects to the RP's redirect URI (a first-party client gets no consent screen). */
async function backToRp(env: FlowEnv, ua: UserAgent, from: string): Promise<URL> {
  let next = from;
  for (let hop = 0; hop < 3; hop++) {
    if (next.startsWith(env.target.rp.redirectUri)) return new URL(next);
    const res = await ua.get(next);
    expectStatus('resume', res, 302, 303);
    next = res.location ?? '';
  }
  throw new FlowError('resume', `did not come back to the RP (last: ${next})`);
}

/** Checks the validated ID token says who signed in, and how. */
function checkSignInClaims(claims: oidc.IDToken | undefined, member: Member): void {
  expectThat('id-token', claims, 'no ID token');
  expectThat('id-token', claims.sub === member.accountId, `sub ${claims.sub} is not the member ${member.accountId}`);
  expectThat('id-token', claims.acr === 'phr', `acr ${String(claims.acr)} is not phr`);
  expectThat('id-token', Array.isArray(claims.amr) && claims.amr.includes('pop'), `amr ${JSON.stringify(claims.amr)} lacks pop`);
}

/** A complete passkey sign-in of `member`, checked end to end. */
export async function signIn(env: FlowEnv, member: Member): Promise<SignInResult> {
  const ua = browser(env);
  const auth = await authorize(env, ua);
  const redirectTo = await passkeyAssertion(env, ua, auth, member);
  const callback = await backToRp(env, ua, redirectTo);
  const tokens = await asRp('token', () => oidc.authorizationCodeGrant(env.rp, callback, {
    pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true,
  }));
  checkSignInClaims(tokens.claims(), member);
  expectThat('token', typeof tokens.refresh_token === 'string', 'no refresh token');
  const userinfo = await asRp('userinfo', () => oidc.fetchUserInfo(env.rp, tokens.access_token, member.accountId));
  expectThat('userinfo', userinfo.member_number === member.memberNumber, `member_number ${String(userinfo.member_number)} is not ${member.memberNumber}`);
  expectThat('userinfo', userinfo.email === member.email, `email ${String(userinfo.email)} is not ${member.email}`);
  return { refreshToken: tokens.refresh_token!, accessToken: tokens.access_token };
}

/** A refresh-token grant; returns the rotated refresh token. */
export async function refresh(env: FlowEnv, member: Member, refreshToken: string): Promise<string> {
  const tokens = await asRp('refresh', () => oidc.refreshTokenGrant(env.rp, refreshToken));
  expectThat('refresh', typeof tokens.access_token === 'string' && tokens.access_token.length > 0, 'no access token');
  expectThat('refresh', typeof tokens.refresh_token === 'string' && tokens.refresh_token !== refreshToken, 'the refresh token was not rotated');
  const claims = tokens.claims();
  expectThat('id-token', !claims || claims.sub === member.accountId, `sub ${claims?.sub} is not the member`);
  return tokens.refresh_token!;
}

/** A client-credentials grant. */
export async function clientCredentials(env: FlowEnv): Promise<void> {
  const tokens = await asRp('client-credentials', () => oidc.clientCredentialsGrant(env.service));
  expectThat('client-credentials', typeof tokens.access_token === 'string' && tokens.access_token.length > 0, 'no access token');
  expectThat('client-credentials', tokens.token_type === 'bearer', `token_type ${tokens.token_type}`);
  expectThat('client-credentials', (tokens.expires_in ?? 0) > 0, 'no expires_in');
}

async function getJson(step: string, url: string): Promise<any> {
  const res = await fetch(url, { headers: { accept: 'application/json', ...flowHeaders() } });
  observe(res.headers);
  const text = await res.text();
  if (res.status !== 200) throw new FlowError(step, `HTTP ${res.status}: ${text.slice(0, 160)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new FlowError(step, 'not JSON');
  }
}

/** The discovery document, then its JWKS, as a relying party starting up would fetch them. */
export async function discovery(env: FlowEnv): Promise<void> {
  const issuer = env.target.issuer;
  const doc = await getJson('discovery', `${issuer}/.well-known/openid-configuration`);
  expectThat('discovery', doc.issuer === issuer, `issuer ${doc.issuer} is not ${issuer}`);
  expectThat('discovery', typeof doc.jwks_uri === 'string', 'no jwks_uri');
  const jwks = await getJson('jwks', doc.jwks_uri);
  expectThat('jwks', Array.isArray(jwks.keys) && jwks.keys.some((k: { alg?: string; d?: string }) => k.alg === 'ES256' && !k.d), 'no public ES256 key');
}

/**
 * One virtual user's scenario. `ready()` is called, untimed, before every flow (it signs in
 * for the refresh scenario when there is no token yet); `flow()` is the timed part and
 * returns the requests it sent.
 */
export interface VirtualUser {
  ready(): Promise<void>;
  flow(): Promise<number>;
}

/** Builds virtual user `index` of `count` for a scenario; each owns its members (no sharing, so counters never race). */
export function virtualUser(env: FlowEnv, scenario: Scenario, members: Member[], index: number, count: number): VirtualUser {
  const mine = members.filter((_, i) => i % count === index);
  if (!mine.length && (scenario === 'signin' || scenario === 'refresh')) {
    throw new Error(`virtual user ${index}: not enough members (${members.length}) for ${count} virtual users`);
  }
  let flows = 0;
  const run = async (fn: () => Promise<void>) => {
    const stats = await inFlow(index + flows++, fn);
    checkAlternation(stats, env.target.instances);
    return stats.requests;
  };
  const ready = async () => {};
  switch (scenario) {
    case 'signin':
      return { ready, flow: () => run(async () => { await signIn(env, mine[flows % mine.length]); }) };
    case 'refresh': {
      const member = mine[0];
      let token: string | undefined;
      return {
        async ready() {
          if (!token) await inFlow(index, async () => { token = (await signIn(env, member)).refreshToken; });
        },
        async flow() {
          // Taken before the grant: a failed refresh may have consumed it, and the next ready() signs in again.
          const current = token;
          token = undefined;
          if (!current) throw new FlowError('refresh', 'no refresh token to use');
          return run(async () => { token = await refresh(env, member, current); });
        },
      };
    }
    case 'client_credentials':
      return { ready, flow: () => run(() => clientCredentials(env)) };
    case 'discovery':
      return { ready, flow: () => run(() => discovery(env)) };
  }
}
