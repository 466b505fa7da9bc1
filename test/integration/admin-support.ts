/**
 * Helpers for the admin console tests: an admin signed in to /admin with a passkey, and JSON
 * calls to the admin API from that admin's user agent.
 *
 * @packageDocumentation
 */
import type { TestTobira } from '../helpers/tobira.ts';
import type { UaResponse, UserAgent } from '../helpers/user-agent.ts';
import { device, passkeySignIn, type TestRp } from '../helpers/oidc-flow.ts';
import { createMember, interactionUid, type TestMember } from '../helpers/oidc-extra.ts';

/** An admin with a console session. */
export interface TestAdmin { ua: UserAgent; member: TestMember; sub: string; csrf: string }

/**
 * Opens /admin on `ua` and signs in with `member`'s passkey through Tobira's own sign-in page;
 * returns the page the browser lands on at the end.
 */
export async function consoleSignIn(t: TestTobira, ua: UserAgent, member: TestMember, path = '/admin'): Promise<UaResponse> {
  const start = await ua.get(`${t.url}${path}`, { follow: true });
  const uid = interactionUid(start.url);
  if (!uid) throw new Error(`expected the sign-in page, got ${start.status} ${start.url}`);
  const auth = { uid, interactionUrl: start.url, verifier: '', state: '', nonce: '', page: start.text };
  const verified = await passkeySignIn(ua, t, auth, member.authenticator);
  if (verified.status !== 200) throw new Error(`passkey sign-in: ${verified.status} ${verified.text}`);
  return ua.get(verified.json.redirectTo, { follow: true });
}

/** The console session's CSRF token (from the API's session endpoint). */
export async function csrfOf(t: TestTobira, ua: UserAgent): Promise<string> {
  const res = await ua.get(`${t.url}/admin/api/session`, { headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`session: ${res.status} ${res.text}`);
  return res.json.csrf_token;
}

/** A new member with a passkey and the admin role, signed in to the console on a new device. */
export async function signedInAdmin(t: TestTobira, rp: TestRp): Promise<TestAdmin> {
  const member = await createMember(t, rp);
  const account = (await t.container.accounts.findByIdentifier(member.memberNumber))!;
  await t.container.accounts.addRole(account.id, 'admin');
  const ua = device(t);
  const landing = await consoleSignIn(t, ua, member);
  if (landing.status !== 200 || !landing.url.endsWith('/admin')) throw new Error(`console: ${landing.status} ${landing.url}`);
  return { ua, member, sub: account.id, csrf: await csrfOf(t, ua) };
}

/** Calls the admin API as a browser would (cookies, Origin, the CSRF header unless told otherwise). */
export async function adminApi(
  t: TestTobira, admin: Pick<TestAdmin, 'ua' | 'csrf'>, method: string, path: string, body?: unknown,
  options: { csrf?: string | null; headers?: Record<string, string> } = {},
): Promise<UaResponse> {
  const url = `${t.url}/admin/api${path}`;
  const headers = new Headers({ accept: 'application/json', origin: t.url, ...options.headers });
  const csrf = options.csrf === undefined ? admin.csrf : options.csrf;
  if (csrf) headers.set('x-csrf-token', csrf);
  const cookie = await admin.ua.jar.getCookieString(url);
  if (cookie) headers.set('cookie', cookie);
  let payload: string | undefined;
  if (body !== undefined) {
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, url, location: res.headers.get('location'), headers: res.headers, text, json };
}

/** The id of the console session of `ua` (the signed cookie's value), to reach it in the store. */
export async function consoleSessionId(t: TestTobira, ua: UserAgent): Promise<string> {
  const cookies = await ua.jar.getCookies(`${t.url}/admin`);
  const cookie = cookies.find((c) => c.key === 'tobira_admin');
  if (!cookie) throw new Error('no console session cookie');
  return cookie.value;
}

/** Moves the console session's sign-in time back by `seconds` (as if that much time had passed). */
export async function ageConsoleSignIn(t: TestTobira, ua: UserAgent, seconds: number): Promise<void> {
  const key = `rp:tobira-admin:${await consoleSessionId(t, ua)}`;
  const raw = await t.container.store.get(key);
  if (!raw) throw new Error('console session not in the store');
  const session = JSON.parse(raw) as { authTime: number };
  session.authTime -= seconds;
  await t.container.store.set(key, JSON.stringify(session), 600);
}

/** The audit events of `type` written since `sinceId` (newest last). */
export async function auditEvents(t: TestTobira, type: string, sinceId = '0'): Promise<{ id: string; type: string; account_id: string | null; actor_id: string | null; client_id: string | null; data: Record<string, unknown> }[]> {
  return t.container.ds.query('SELECT id::text, type, account_id, actor_id, client_id, data FROM audit_events WHERE type = $1 AND id > $2 ORDER BY audit_events.id', [type, sinceId]);
}

/** The id of the newest audit event (a mark to look for events written after it). */
export async function lastAuditId(t: TestTobira): Promise<string> {
  const rows = await t.container.ds.query('SELECT coalesce(max(id), 0)::text AS id FROM audit_events');
  return rows[0].id;
}
