import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startBaseline } from '../../bench/baseline-server.ts';
import {
  clientCredentials, connect, discovery, refresh, signIn, virtualUser, type FlowEnv, type Member, type TargetSpec,
} from '../../bench/flows.ts';
import { checkAlternation, FlowError } from '../../bench/flow-context.ts';
import { benchRedirectUri, createBenchClients, registerWithBaseline, signUpMember, type BenchClients } from '../../bench/seed.ts';
import { runWindow } from '../../bench/window.ts';
import { freePort } from '../../bench/processes.ts';

function target(name: TargetSpec['name'], issuer: string, clients: BenchClients): TargetSpec {
  return {
    name, issuer, instances: 1,
    rp: { clientId: clients.rp.client_id, clientSecret: clients.rp.client_secret, redirectUri: benchRedirectUri },
    service: { clientId: clients.service.client_id, clientSecret: clients.service.client_secret },
  };
}

describe(`benchmark flows (${backendLabel()})`, () => {
  let t: TestTobira;
  let clients: BenchClients;
  let tobira: FlowEnv;
  let member: Member;

  before(async () => {
    // Its own Tobira: behind the benchmark's "load balancer", each flow has its own address.
    t = await startTobira({ TRUST_PROXY: 'true', DEMO: 'false' });
    clients = await createBenchClients(t.container.ds, `-${randomBytes(4).toString('hex')}`);
    tobira = await connect(target('tobira', t.url, clients));
    const codeFor = async (email: string) => {
      const mail = await t.smtp.waitFor((m) => m.to.includes(email) && /\b\d{6}\b/.test(m.text));
      return /\b(\d{6})\b/.exec(mail.text)![1];
    };
    member = await signUpMember(tobira, codeFor, `bench-test-${randomBytes(4).toString('hex')}`);
  });
  after(() => t.close());

  it('signs up a member through the API whose passkey and member number Tobira stored', async () => {
    const [row] = await t.container.ds.query('SELECT a.member_number, count(p.id)::int AS passkeys FROM accounts a JOIN passkeys p ON p.account_id = a.id WHERE a.id = $1 GROUP BY a.member_number', [member.accountId]);
    expect(row).to.deep.equal({ member_number: member.memberNumber, passkeys: 1 });
  });

  it('runs complete passkey sign-ins at concurrency 1 for a second, every one checked and none failed', async () => {
    const now = Date.now();
    const result = await runWindow([virtualUser(tobira, 'signin', [member], 0, 1)], { startAt: now, warmupUntil: now, measureUntil: now + 1000 });
    expect(result.failures.reasons).to.deep.equal({});
    expect(result.flows).to.be.greaterThan(0);
    // Four requests a flow (Tobira answers the authorization request with the sign-in page, which
    // carries the passkey options, and the verification with the RP's callback: no redirect to
    // /interaction/:uid, no options request, none back through /auth/:uid), plus the JWKS the RP
    // fetches once to check ID token signatures.
    expect(result.requests).to.be.within(result.flows * 4, result.flows * 4 + 1);
    expect(result.latencies).to.have.length(result.flows);
  });

  it('counts a flow whose assertion Tobira rejects as failed, with the step and the answer', async () => {
    const broken = await connect(tobira.target, { fault: 'bad-assertion' });
    const now = Date.now();
    const result = await runWindow([virtualUser(broken, 'signin', [member], 0, 1)], { startAt: now, warmupUntil: now, measureUntil: now + 300 });
    expect(result.flows).to.equal(0);
    expect(result.failures.total).to.be.greaterThan(0);
    expect(result.failures.window + result.failures.drain).to.equal(result.failures.total);
    expect(Object.keys(result.failures.reasons).join('\n')).to.match(/^passkey-verify: HTTP 400 .*passkey\.verification_failed/);
  });

  it('rejects a flow whose ID token signature was tampered with on the way to the RP', async () => {
    const tampered = await connect(tobira.target, { fault: 'tampered-id-token' });
    const error = await signIn(tampered, member).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(FlowError);
    expect((error as FlowError).step).to.equal('token');
    expect((error as Error).message).to.match(/JWT signature verification failed/);
  });

  it('rejects a flow whose consecutive requests reached the same instance', () => {
    expect(() => checkAlternation({ requests: 3, instances: ['0', '1', '1'] }, 2)).to.throw(FlowError, /requests 2 and 3 both went to instance 1/);
    expect(() => checkAlternation({ requests: 3, instances: ['0', '1', '0'] }, 2)).not.to.throw();
  });

  it('runs refresh, client-credentials and discovery flows against Tobira and the baseline alike', async () => {
    const port = await freePort();
    const baselineUrl = `http://localhost:${port}`;
    const server = await startBaseline({ port, issuer: baselineUrl, clients: [clients.rp, clients.service], cookieKeys: [randomBytes(32).toString('base64url')] });
    try {
      await registerWithBaseline(baselineUrl, [member]);
      const baseline = await connect(target('baseline', baselineUrl, clients));
      for (const env of [tobira, baseline]) {
        const { refreshToken } = await signIn(env, member);
        const rotated = await refresh(env, member, refreshToken);
        expect(rotated).to.be.a('string').and.not.equal(refreshToken);
        await clientCredentials(env);
        await discovery(env);
        const reuse = await refresh(env, member, refreshToken).then(() => undefined, (e: unknown) => e);
        expect((reuse as FlowError).step, `${env.target.name} accepted a used refresh token`).to.equal('refresh');
      }
    } finally {
      await server.close();
    }
  });
});
