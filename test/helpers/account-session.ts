/**
 * The account area (`/account`) in integration tests: members set up through Tobira's services,
 * and sign-in to the area through the real flow (the page redirects to Tobira's authorization
 * endpoint, the member signs in on the interaction, the callback sets the area's cookie).
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import type { TestTobira } from './tobira.ts';
import { codeFromMail, device, uniqueEmail } from './oidc-flow.ts';
import { createSoftAuthenticator, type SoftAuthenticator, type SoftAuthenticatorConfig } from './soft-authenticator.ts';
import type { UaResponse, UserAgent } from './user-agent.ts';
import type { SmsSink } from './sms-sink.ts';
import { generate } from 'otplib';
import type { Account } from '../../src/accounts/account.entity.ts';

/** A member made for a test, with the authenticator holding their passkeys (if any). */
export interface TestMember {
  account: Account;
  email: string;
  authenticator: SoftAuthenticator;
  /** Authenticators (devices) of the member's other passkeys: one passkey each. */
  others: SoftAuthenticator[];
  /** The authenticator app's secret, when the member has one. */
  totpSecret?: string;
}

/** What a test member starts with. */
export interface MemberSetup {
  /** Passkeys registered on the member's authenticator (default 1). */
  passkeys?: number;
  /** A legacy account: password on (imported), no passkeys unless asked for. */
  password?: boolean;
  /** An authenticator app (TOTP), set up with a code of the previous time step, so the current one works. */
  totp?: boolean;
  /** A verified phone number (E.164). */
  phone?: string;
  emailVerified?: boolean;
  locale?: 'en' | 'ja';
  authenticator?: SoftAuthenticatorConfig;
}

/** Creates a member directly through Tobira's services (set-up only; tests act over HTTP). */
export async function createMember(t: TestTobira, setup: MemberSetup = {}): Promise<TestMember> {
  const c = t.container;
  const email = uniqueEmail('account');
  let account = await c.accounts.create({ email, name: 'Test Member', locale: setup.locale ?? 'en', emailVerified: setup.emailVerified ?? true });
  if (setup.password) await c.ds.query("UPDATE accounts SET password_enabled = true, password_hash = 'legacy-hash' WHERE id = $1", [account.id]);
  if (setup.phone) await c.ds.query('UPDATE accounts SET phone = $2, phone_verified = true WHERE id = $1', [account.id, setup.phone]);
  let totpSecret: string | undefined;
  if (setup.totp) {
    totpSecret = c.totp.newSecret(account.memberNumber).secret;
    const previous = await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) - 30 });
    if (!(await c.totp.enable(account.id, totpSecret, previous))) throw new Error('TOTP set-up failed');
  }
  account = (await c.accounts.findById(account.id))!;
  const authenticator = createSoftAuthenticator(setup.authenticator);
  const others: SoftAuthenticator[] = [];
  for (let i = 0; i < (setup.passkeys ?? (setup.password ? 0 : 1)); i++) {
    // An authenticator holds one passkey per account (excludeCredentials): one device each.
    const holder = i === 0 ? authenticator : createSoftAuthenticator(setup.authenticator);
    if (i > 0) others.push(holder);
    const binding = `test-setup:${randomUUID()}`;
    const options = await c.passkeys.registrationOptions(binding, account);
    await c.passkeys.verifyRegistration(binding, account, holder.register(options, t.url) as never, `Key ${i + 1}`);
  }
  return { account: (await c.accounts.findById(account.id))!, email, authenticator, others, totpSecret };
}

/** The interaction a redirect to sign-in landed on. */
function interactionOf(res: UaResponse): string {
  const match = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(res.url).pathname);
  if (!match) throw new Error(`expected the sign-in page, got ${res.status} ${res.url}: ${res.text.slice(0, 200)}`);
  return match[1];
}

/**
 * Opens `path` of the account area on a new device and signs in through Tobira's sign-in: with
 * the member's passkey when they have one, else with an email code. Returns the device and the
 * page it ends on (the page that was asked for).
 */
export async function signInToAccount(t: TestTobira, member: TestMember, path = '/account/passkeys', ua: UserAgent = device(t)): Promise<{ ua: UserAgent; page: UaResponse }> {
  const landing = await ua.get(`${t.url}${path}`, { follow: true });
  const uid = interactionOf(landing);
  const base = `${t.url}/interaction/${uid}`;
  let finished: UaResponse;
  if (member.authenticator.credentials().length > 0) {
    const options = await ua.post(`${base}/passkey/options`, {});
    finished = await ua.post(`${base}/passkey/verify`, member.authenticator.authenticate(options.json, t.url));
  } else {
    // By member number: the sign-in's per-identifier code budget is then not the email's (step-up tests count that one).
    await ua.post(`${base}/email/start`, { identifier: member.account.memberNumber });
    const verified = await ua.post(`${base}/email/verify`, { code: await codeFromMail(t, member.email) });
    if (verified.status !== 200) throw new Error(`email/verify: ${verified.status} ${verified.text}`);
    finished = await ua.post(`${base}/continue`, {});
  }
  if (finished.status !== 200) throw new Error(`sign-in: ${finished.status} ${finished.text}`);
  const page = await ua.get(finished.json.redirectTo, { follow: true });
  return { ua, page };
}

/** POSTs JSON to the account API (`/account/api` + `path`). */
export function accountApi(ua: UserAgent, t: TestTobira, path: string, body: unknown = {}): Promise<UaResponse> {
  return ua.post(`${t.url}/account/api${path}`, body);
}

/** Where SMS step-up codes arrive in a test. */
export interface CodeSources { sms?: SmsSink }

/** The 6-digit code of the newest SMS to `to`, taken out of the sink (so the next wait gets a new one). */
export async function codeFromSms(sms: SmsSink, to: string): Promise<string> {
  const message = await sms.waitFor(to);
  sms.messages.splice(sms.messages.indexOf(message), 1);
  const match = /\b(\d{6})\b/.exec(message.text);
  if (!match) throw new Error(`no code in SMS: ${message.text}`);
  return match[1];
}

/**
 * Completes the step-up for `purpose` over the account API, method after method, as the
 * settings page does; returns the methods it went through.
 */
export async function completeStepUp(ua: UserAgent, t: TestTobira, member: TestMember, purpose: 'register' | 'manage', sources: CodeSources = {}): Promise<string[]> {
  const done: string[] = [];
  for (let i = 0; i < 4; i++) {
    const started = await accountApi(ua, t, '/step-up/start', { purpose });
    if (started.status !== 200) throw new Error(`step-up/start: ${started.status} ${started.text}`);
    if (started.json.satisfied) return done;
    const method = started.json.method as string;
    let input: Record<string, unknown>;
    if (method === 'passkey') input = { response: member.authenticator.authenticate(started.json.options, t.url) };
    else if (method === 'email') input = { code: await codeFromMail(t, member.email, /verification code/i) };
    else if (method === 'sms') input = { code: await codeFromSms(sources.sms!, member.account.phone!) };
    else input = { code: await generate({ secret: member.totpSecret! }) };
    const verified = await accountApi(ua, t, '/step-up/verify', { purpose, method, ...input });
    if (verified.status !== 200) throw new Error(`step-up/verify (${method}): ${verified.status} ${verified.text}`);
    done.push(method);
    if (verified.json.satisfied) return done;
  }
  throw new Error('step-up did not finish');
}
