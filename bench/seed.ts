/**
 * What the benchmark needs in place before it measures: the two clients, members who signed up
 * with a passkey through Tobira's real sign-up API (email code included), the same passkeys
 * registered with the baseline, and a crowd of background members so that lookups run against
 * tables of a realistic size.
 *
 * @packageDocumentation
 */
import type { DataSource } from 'typeorm';
import { createClientService } from '../src/admin/client-service.ts';
import { createSoftAuthenticator } from '../test/helpers/soft-authenticator.ts';
import type { BaselineCredential, BenchClient } from './baseline-server.ts';
import { authorize, browser, expectStatus, type FlowEnv, type Member } from './flows.ts';
import { FlowError, inFlow } from './flow-context.ts';

/** Where the RP's browser is sent back to; never fetched (the flow stops at the redirect). */
export const benchRedirectUri = 'http://127.0.0.1:9/bench/callback';

/** The two clients, as registered in Tobira (the baseline gets the same ids and secrets). */
export interface BenchClients { rp: BenchClient; service: BenchClient }

/** Registers the benchmark's clients in Tobira with its own client service (`suffix` keeps ids unique in a shared database). */
export async function createBenchClients(ds: DataSource, suffix = ''): Promise<BenchClients> {
  const clients = createClientService(ds);
  const rp = await clients.create({
    client_id: `bench-rp${suffix}`, client_name: 'Benchmark RP', redirect_uris: [benchRedirectUri], first_party: true,
    grant_types: ['authorization_code', 'refresh_token'], scope: 'openid profile email member offline_access',
  });
  const service = await clients.create({
    client_id: `bench-service${suffix}`, client_name: 'Benchmark service', grant_types: ['client_credentials'], scope: 'openid',
  });
  const asBench = (c: typeof rp, responseTypes: string[]): BenchClient => ({
    client_id: c.client_id, client_secret: c.client_secret!, redirect_uris: c.redirect_uris, grant_types: c.grant_types,
    response_types: responseTypes, scope: c.scope, first_party: c.first_party,
  });
  return { rp: asBench(rp, ['code']), service: asBench(service, []) };
}

/** Reads the sign-up code mailed to an address. */
export type CodeReader = (email: string) => Promise<string>;

/**
 * Signs a new member up through Tobira's API, as the hosted page does: email, the code from the
 * mail, then a passkey created by a software authenticator (real WebAuthn registration).
 */
export async function signUpMember(env: FlowEnv, codeFor: CodeReader, label: string): Promise<Member> {
  const authenticator = createSoftAuthenticator();
  const email = `${label}@bench.example`;
  let memberNumber = '';
  await inFlow(0, async () => {
    const ua = browser(env);
    const { uid } = await authorize(env, ua);
    const base = `${env.target.issuer}/interaction/${uid}`;
    expectStatus('signup-start', await ua.post(`${base}/signup/start`, { email, name: 'Bench Member' }), 200);
    const verified = await ua.post(`${base}/signup/verify`, { code: await codeFor(email) });
    expectStatus('signup-verify', verified, 200);
    memberNumber = verified.json.memberNumber;
    const options = await ua.post(`${base}/register/options`, {});
    expectStatus('register-options', options, 200);
    const response = authenticator.register(options.json, new URL(env.target.issuer).origin);
    expectStatus('register-verify', await ua.post(`${base}/register/verify`, { response }), 200);
  });
  const [credential] = authenticator.credentials();
  if (!credential || !memberNumber) throw new FlowError('signup', 'no passkey or member number after sign-up');
  return { accountId: Buffer.from(credential.userHandle, 'base64url').toString('utf8'), memberNumber, email, authenticator };
}

/** Registers the members' passkeys (public keys only) with the baseline server. */
export async function registerWithBaseline(baselineIssuer: string, members: Member[]): Promise<void> {
  const credentials: BaselineCredential[] = members.map((m) => {
    const [c] = m.authenticator.credentials();
    return {
      accountId: m.accountId, memberNumber: m.memberNumber, email: m.email, credentialId: c.id,
      publicKey: Buffer.from(c.publicKey).toString('base64url'), counter: c.counter,
    };
  });
  const res = await fetch(`${baselineIssuer}/bench/credentials`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials),
  });
  if (res.status !== 200) throw new Error(`baseline refused the credentials: ${res.status} ${await res.text()}`);
}

/**
 * Inserts `count` members with one passkey each, straight into the tables (they never sign in;
 * they make the indexes and tables the size of a real deployment's, a little).
 */
export async function seedBackgroundMembers(ds: DataSource, count: number): Promise<void> {
  if (count <= 0) return;
  await ds.query(
    `INSERT INTO accounts (id, member_number, email, email_verified, locale)
     SELECT gen_random_uuid(), '1' || lpad(i::text, 9, '0'), 'background-' || i || '@bench.example', true, 'en'
     FROM generate_series(1, $1::int) AS i`,
    [count],
  );
  await ds.query(
    `INSERT INTO passkeys (id, account_id, credential_id, public_key, counter, transports, aaguid, device_type, backed_up, name)
     SELECT gen_random_uuid(), id, md5(random()::text) || md5(random()::text), decode(md5(random()::text) || md5(random()::text), 'hex'),
            0, '{internal,hybrid}', '00000000-0000-0000-0000-000000000000', 'multiDevice', true, 'Passkey'
     FROM accounts WHERE email LIKE 'background-%'`,
  );
}
