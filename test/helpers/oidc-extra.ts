/**
 * More relying-party helpers for the OpenID Connect tests: members who already exist, email-code
 * sign-in, following redirects to either the RP or a Tobira page, and reading forms out of pages.
 *
 * @packageDocumentation
 */
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import * as oidc from 'openid-client';
import type { TestTobira } from './tobira.ts';
import type { UaResponse, UserAgent } from './user-agent.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from './soft-authenticator.ts';
import {
  api, authorize, codeFromMail, device, exchange, followToCallback, passkeySignIn, signUp, type Authorization, type TestRp,
} from './oidc-flow.ts';

/** A member created through sign-up, with the authenticator that holds their passkey. */
export interface TestMember { email: string; memberNumber: string; authenticator: SoftAuthenticator }

/** Creates a member (sign-up with a passkey) through `rp`, on a device that is then thrown away. */
export async function createMember(t: TestTobira, rp: TestRp): Promise<TestMember> {
  const authenticator = createSoftAuthenticator();
  const ua = device(t);
  const auth = await authorize(ua, rp);
  const { email, memberNumber, result } = await signUp(ua, t, auth, authenticator);
  if (result.status !== 200) throw new Error(`sign-up: ${result.status} ${result.text}`);
  return { email, memberNumber, authenticator };
}

/** Signs in with a passkey on an interaction and follows the redirects to the RP's callback. */
export async function passkeySignInCallback(ua: UserAgent, t: TestTobira, rp: TestRp, auth: Authorization, member: TestMember): Promise<URL> {
  const verified = await passkeySignIn(ua, t, auth, member.authenticator);
  if (verified.status !== 200) throw new Error(`passkey/verify: ${verified.status} ${verified.text}`);
  return followToCallback(ua, rp, verified.json.redirectTo);
}

/** Signs in with a passkey on an interaction and exchanges the code; fails loudly on any error. */
export async function passkeyLogin(ua: UserAgent, t: TestTobira, rp: TestRp, auth: Authorization, member: TestMember) {
  return exchange(rp, auth, await passkeySignInCallback(ua, t, rp, auth, member));
}

/** A new device, signed in to Tobira with a passkey through `rp`; returns its first tokens. */
export async function signedInDevice(t: TestTobira, rp: TestRp, member: TestMember, params: Record<string, string> = {}) {
  const ua = device(t);
  const auth = await authorize(ua, rp, params);
  const tokens = await passkeyLogin(ua, t, rp, auth, member);
  return { ua, auth, tokens };
}

/**
 * Signs in with a one-time email code on an interaction, the way the sign-in page does:
 * /email/start, the code from the mail, /email/verify, then /continue (skipping the passkey
 * invitation). Returns the answer of /continue.
 */
export async function emailCodeSignIn(ua: UserAgent, t: TestTobira, auth: Authorization, email: string): Promise<UaResponse> {
  const start = await api(ua, t, auth, '/email/start', { identifier: email });
  if (start.status !== 200) throw new Error(`email/start: ${start.status} ${start.text}`);
  const code = await codeFromMail(t, email, /sign-in code/);
  const verify = await api(ua, t, auth, '/email/verify', { code });
  if (verify.status !== 200) throw new Error(`email/verify: ${verify.status} ${verify.text}`);
  return api(ua, t, auth, '/continue');
}

/** Where a chain of redirects ended: at the RP's redirect URI, or on a page Tobira rendered. */
export type Landing = { callback: URL; page?: undefined } | { callback?: undefined; page: UaResponse };

/** Follows redirects from `url` until the RP's redirect URI or a page that is not a redirect. */
export async function followToLanding(ua: UserAgent, rp: TestRp, url: string): Promise<Landing> {
  let next = url;
  for (let hops = 0; hops < 10; hops++) {
    if (next.startsWith(rp.redirectUri)) return { callback: new URL(next) };
    const res = await ua.get(next);
    if (!res.location) return { page: res };
    next = res.location;
  }
  throw new Error('too many redirects');
}

/** A prepared authorization request (code + PKCE S256), not yet sent. */
export interface PreparedAuthorization { url: URL; verifier: string; state: string; nonce: string }

/** Builds an authorization request URL like {@link authorize} does, with `params` on top. */
export async function authorizationUrl(rp: TestRp, params: Record<string, string> = {}): Promise<PreparedAuthorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email member offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** Exchanges the code of a callback for a request built with {@link authorizationUrl}. */
export function exchangeAt(rp: TestRp, prepared: PreparedAuthorization, callback: URL) {
  return exchange(rp, { ...prepared, uid: '', interactionUrl: '', page: '' }, callback);
}

/** The interaction uid in a URL of Tobira's sign-in pages, or undefined. */
export function interactionUid(url: string): string | undefined {
  return /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(url).pathname)?.[1];
}

/**
 * Sends a prepared request and follows it: to the RP (a session that needs no interaction) or
 * to Tobira's interaction page.
 */
export async function send(ua: UserAgent, rp: TestRp, prepared: PreparedAuthorization): Promise<Landing & { auth?: Authorization }> {
  const landing = await followToLanding(ua, rp, prepared.url.href);
  if (landing.page) {
    const uid = interactionUid(landing.page.url);
    if (uid) return { ...landing, auth: { ...prepared, uid, interactionUrl: landing.page.url, page: landing.page.text } };
  }
  return landing;
}

/** A form as a page holds it: its action and its fields (hidden inputs and named buttons). */
export interface PageForm { action: string; method: string; fields: Record<string, string> }

/** Reads the form with id `id` (or the first form) out of an HTML page. */
export function formOf(html: string, id?: string): PageForm {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
  const match = id ? forms.find((f) => attr(f[1], 'id') === id) : forms[0];
  if (!match) throw new Error(`no form${id ? ` #${id}` : ''} in the page: ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const input of match[2].matchAll(/<input\b([^>]*)>/g)) {
    const name = attr(input[1], 'name');
    if (name) fields[name] = attr(input[1], 'value') ?? '';
  }
  return { action: attr(match[1], 'action') ?? '', method: (attr(match[1], 'method') ?? 'get').toLowerCase(), fields };
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(tag);
  return m ? decodeEntities(m[2] ?? m[3]) : undefined;
}

function decodeEntities(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * The error an openid-client call rejected with, as the RP sees it: the `error` code of a JSON
 * answer, or of the WWW-Authenticate challenge of a protected resource (userinfo).
 */
export async function rejection(promise: Promise<unknown>): Promise<{ error?: string; description?: string; status?: number; message: string }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { error?: string; error_description?: string; status?: number; message: string; cause?: unknown };
    const challenge = Array.isArray(err.cause) ? (err.cause[0] as { parameters?: { error?: string } }).parameters?.error : undefined;
    return { error: err.error ?? challenge, description: err.error_description, status: err.status, message: `${err.message}: ${err.error_description ?? ''}` };
  }
  throw new Error('expected the call to be refused, but it succeeded');
}

/** The payload of a JWT (no verification: for reading `kid` and claims after openid-client verified it). */
export function jwtParts(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), payload: JSON.parse(Buffer.from(p, 'base64url').toString()) };
}

/** Fetches a JWKS (the public keys an RP verifies ID tokens with). */
export async function fetchJwks(jwksUri: string): Promise<(JsonWebKey & { kid: string; alg: string })[]> {
  const res = await fetch(jwksUri);
  if (res.status !== 200) throw new Error(`JWKS: ${res.status}`);
  return ((await res.json()) as { keys: (JsonWebKey & { kid: string; alg: string })[] }).keys;
}

/**
 * Verifies a JWT's signature against a JWKS the way an RP does (key chosen by `kid`; ES256 or
 * RS256). Returns false when no key has that kid or the signature does not match.
 */
export function verifiesWith(jwt: string, keys: (JsonWebKey & { kid: string; alg: string })[]): boolean {
  const { header } = jwtParts(jwt);
  const jwk = keys.find((k) => k.kid === header.kid);
  if (!jwk || jwk.alg !== header.alg) return false;
  const [h, p, sig] = jwt.split('.');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, 'base64url');
  return header.alg === 'ES256'
    ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
    : verify('sha256', data, key, signature);
}
