import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { TestTobira } from './tobira.ts';
import { createUserAgent, type UserAgent } from './user-agent.ts';
import type { SoftAuthenticator } from './soft-authenticator.ts';
import type { ClientInput, ClientRecord } from '../../src/admin/client-service.ts';

/** A relying party registered in Tobira and configured in openid-client. */
export interface TestRp { client: ClientRecord; config: oidc.Configuration; redirectUri: string }

/** Registers a client (first-party confidential by default) and discovers Tobira with openid-client. */
export async function createRp(t: TestTobira, overrides: Partial<ClientInput> = {}): Promise<TestRp> {
  const redirectUri = `http://127.0.0.1:9/cb/${randomBytes(4).toString('hex')}`;
  const client = await t.container.clients.create({
    client_name: `Test RP ${randomBytes(3).toString('hex')}`,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: ['http://127.0.0.1:9/bye'],
    first_party: true,
    ...overrides,
  });
  const auth = client.client_secret ? oidc.ClientSecretBasic(client.client_secret) : oidc.None();
  const config = await oidc.discovery(new URL(t.url), client.client_id, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  return { client, config, redirectUri: client.redirect_uris[0] };
}

/** An authorization request in progress: the interaction the user agent landed on. */
export interface Authorization { uid: string; interactionUrl: string; verifier: string; state: string; nonce: string; page: string }

/** Starts an authorization request (code + PKCE S256) and follows it to Tobira's interaction page. */
export async function authorize(ua: UserAgent, rp: TestRp, params: Record<string, string> = {}): Promise<Authorization> {
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
  const res = await ua.get(url.href, { follow: true });
  const match = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(res.url).pathname);
  if (!match) throw new Error(`expected the interaction page, got ${res.status} ${res.url}: ${res.text.slice(0, 300)}`);
  return { uid: match[1], interactionUrl: res.url, verifier, state, nonce, page: res.text };
}

/** Follows redirects from `url` until the RP's redirect URI; returns that callback URL. */
export async function followToCallback(ua: UserAgent, rp: TestRp, url: string): Promise<URL> {
  let next = url;
  for (let hops = 0; hops < 10; hops++) {
    if (next.startsWith(rp.redirectUri)) return new URL(next);
    const res = await ua.get(next);
    if (!res.location) throw new Error(`no redirect from ${next}: ${res.status} ${res.text.slice(0, 300)}`);
    next = res.location;
  }
  throw new Error('too many redirects');
}

/** Exchanges the callback's code with openid-client (which validates the ID token). */
export async function exchange(rp: TestRp, auth: Authorization, callback: URL) {
  return oidc.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true,
  });
}

/** POSTs JSON to an interaction API endpoint. */
export function api(ua: UserAgent, t: TestTobira, auth: Authorization, path: string, body: unknown = {}) {
  return ua.post(`${t.url}/interaction/${auth.uid}${path}`, body);
}

/** Signs in with a passkey on the interaction: discoverable (button/autofill) or identifier-first. */
export async function passkeySignIn(ua: UserAgent, t: TestTobira, auth: Authorization, authenticator: SoftAuthenticator, identifier?: string) {
  const options = await api(ua, t, auth, '/passkey/options', identifier ? { identifier } : {});
  if (options.status !== 200) throw new Error(`options: ${options.status} ${options.text}`);
  const response = authenticator.authenticate(options.json, t.url);
  return api(ua, t, auth, '/passkey/verify', response);
}

/** Reads the 6-digit code from the newest mail to `to`. */
export async function codeFromMail(t: TestTobira, to: string, subject?: RegExp): Promise<string> {
  const mail = await t.smtp.waitFor((m) => m.to.includes(to.toLowerCase()) && (!subject || subject.test(m.subject)) && /\b\d{6}\b/.test(m.text));
  t.smtp.messages.splice(t.smtp.messages.indexOf(mail), 1);
  return /\b(\d{6})\b/.exec(mail.text)![1];
}

/** A fresh unique email address. */
export function uniqueEmail(label = 'member'): string {
  return `${label}-${randomBytes(5).toString('hex')}@example.com`;
}

/**
 * Signs up on the interaction: email, code from the mail, account, passkey on `authenticator`.
 * Returns the final answer of register/verify and the new member number.
 */
export async function signUp(ua: UserAgent, t: TestTobira, auth: Authorization, authenticator: SoftAuthenticator, email = uniqueEmail()) {
  const start = await api(ua, t, auth, '/signup/start', { email, name: 'Test Member' });
  if (start.status !== 200) throw new Error(`signup/start: ${start.status} ${start.text}`);
  const code = await codeFromMail(t, email, /Verify/);
  const verify = await api(ua, t, auth, '/signup/verify', { code });
  if (verify.status !== 200) throw new Error(`signup/verify: ${verify.status} ${verify.text}`);
  const options = await api(ua, t, auth, '/register/options');
  const response = authenticator.register(options.json, t.url);
  const done = await api(ua, t, auth, '/register/verify', { response });
  return { email, memberNumber: verify.json.memberNumber as string, result: done };
}

/** A new user agent (a device) that sends Origin like a browser. */
export function device(t: TestTobira, acceptLanguage?: string): UserAgent {
  return createUserAgent({ origin: t.url, acceptLanguage });
}
