/**
 * Fixtures of the add-device, recovery and help tests: a Tobira of the file's own, members in
 * the states the tests need, the account area's session and step-up driven over HTTP.
 *
 * @packageDocumentation
 */
import { expect } from 'chai';
import { sharedTobira, startTobira, type TestTobira } from '../helpers/tobira.ts';
import { authorize, codeFromMail, createRp, device, followToCallback, signUp, uniqueEmail, type TestRp } from '../helpers/oidc-flow.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../helpers/soft-authenticator.ts';
import type { UaResponse, UserAgent } from '../helpers/user-agent.ts';
import { translator } from '../../src/i18n/i18n.ts';
import type { Account } from '../../src/accounts/account.entity.ts';

/**
 * A Tobira of the test file's own (its own rate-limit counters and environment) beside the
 * suite's shared one, whose DATA_ENCRYPTION_KEY it reuses (both may use one database). On the
 * embedded default it leaves the database open when it stops: typeorm-pglite keeps one PGlite
 * per process, which the shared Tobira goes on using.
 */
export async function ownTobira(env: Record<string, string> = {}): Promise<TestTobira> {
  const shared = await sharedTobira();
  const t = await startTobira({ DATA_ENCRYPTION_KEY: shared.config.dataEncryptionKey, DEMO: 'false', ...env });
  return {
    ...t,
    async close() {
      if (t.config.databaseUrl) return t.close();
      t.server.closeAllConnections();
      await new Promise((resolve) => t.server.close(resolve));
      await t.container.mailer.close();
      await t.container.store.close();
      await t.smtp.close();
    },
  };
}

/** Asserts an API error: status, stable code, and the message in the request's language. */
export function expectError(res: UaResponse, status: number, code: string, params: Record<string, unknown> = {}, locale: 'en' | 'ja' = 'en'): void {
  expect(res.status, res.text).to.equal(status);
  expect(res.json?.error, res.text).to.equal(code);
  expect(res.json.message).to.equal(translator(locale)(`errors.${code}`, params));
}

/** A six-digit code that is not `code`. */
export const wrong = (code: string, n = 1): string => String((Number(code) + n) % 1_000_000).padStart(6, '0');

/** A member created directly in the database (email verified), optionally with a verified phone. */
export async function newMember(t: TestTobira, options: { phone?: string; locale?: 'en' | 'ja'; password?: boolean } = {}): Promise<Account> {
  const account = await t.container.accounts.create({ email: uniqueEmail('b'), locale: options.locale ?? 'en', emailVerified: true });
  if (options.phone) await t.container.ds.query('UPDATE accounts SET phone = $2, phone_verified = true WHERE id = $1', [account.id, options.phone]);
  if (options.password) await t.container.ds.query("UPDATE accounts SET password_hash = 'x', password_enabled = true WHERE id = $1", [account.id]);
  return (await t.container.accounts.findById(account.id))!;
}

/** The audit events of an account, oldest first, as `type` or `type:via`. */
export async function auditTrail(t: TestTobira, accountId: string): Promise<string[]> {
  const rows: { type: string; via: string | null }[] = await t.container.ds.query(
    "SELECT type, data->>'via' AS via FROM audit_events WHERE account_id = $1 ORDER BY id", [accountId],
  );
  return rows.map((r) => (r.via ? `${r.type}:${r.via}` : r.type));
}

/** A member signed up through an RP on `ua` with a passkey on `authenticator`: the browser holds an IdP session. */
export interface SignedUpMember { ua: UserAgent; authenticator: SoftAuthenticator; email: string; account: Account; rp: TestRp }

/** Signs a new member up (email code, passkey) on a fresh device, through an RP and back to it. */
export async function signedUpMember(t: TestTobira, acceptLanguage?: string): Promise<SignedUpMember> {
  const rp = await createRp(t);
  const ua = device(t, acceptLanguage);
  const authenticator = createSoftAuthenticator();
  const auth = await authorize(ua, rp);
  const { email, result } = await signUp(ua, t, auth, authenticator);
  expect(result.status, result.text).to.equal(200);
  // Back at the RP: the browser now holds Tobira's session.
  await followToCallback(ua, rp, result.json.redirectTo);
  return { ua, authenticator, email, account: (await t.container.accounts.findByEmail(email))!, rp };
}

/** Opens the account area on `ua` (an IdP session signs it in without a prompt); returns the settings page. */
export async function openAccount(t: TestTobira, ua: UserAgent): Promise<UaResponse> {
  const page = await ua.get(`${t.url}/account`, { follow: true });
  expect(page.status, page.text.slice(0, 300)).to.equal(200);
  expect(new URL(page.url).pathname).to.match(/^\/account/);
  return page;
}

/**
 * Completes the account area's step-up for registering on `ua`: each pending method in turn,
 * with the member's passkey (on `authenticator`) or the code from their mailbox or phone.
 */
export async function stepUpForRegister(t: TestTobira, ua: UserAgent, account: Account, authenticator?: SoftAuthenticator, smsCode?: () => Promise<string>): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const started = await ua.post(`${t.url}/account/api/step-up/start`, { purpose: 'register' });
    expect(started.status, started.text).to.equal(200);
    if (started.json.satisfied) return;
    const method = started.json.method as string;
    let body: Record<string, unknown>;
    if (method === 'passkey') body = { response: authenticator!.authenticate(started.json.options, t.url) };
    else if (method === 'email') body = { code: await codeFromMail(t, account.email) };
    else if (method === 'sms') body = { code: await smsCode!() };
    else throw new Error(`step-up method ${method} is not handled by this fixture`);
    const verified = await ua.post(`${t.url}/account/api/step-up/verify`, { purpose: 'register', method, ...body });
    expect(verified.status, verified.text).to.equal(200);
    if (verified.json.satisfied) return;
  }
  throw new Error('step-up did not complete');
}
