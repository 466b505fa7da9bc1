import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, passkeySignIn, type TestRp } from '../helpers/oidc-flow.ts';
import { createMember, signedInDevice, type TestMember } from '../helpers/oidc-extra.ts';
import { auditCommands } from '../../src/admin/cli/audit.ts';
import type { CommandContext } from '../../src/admin/cli/command.ts';
import type { AuditRecord } from '../../src/admin/audit-query.ts';
import { adminApi, signedInAdmin, type TestAdmin } from './admin-support.ts';

const root = resolve(import.meta.dirname, '../..');

/** Runs `tobira audit export` in this process against the test server's database; returns the parsed lines. */
async function exportLines(t: TestTobira, values: Record<string, string>): Promise<AuditRecord[]> {
  let out = '';
  const ctx = {
    format: 'table', write: (text: string) => { out += text; }, print: () => {},
    services: async () => ({ ds: t.container.ds }), database: async () => t.container.ds,
  } as unknown as CommandContext;
  await auditCommands[0].run({ values, args: [] }, ctx);
  return out.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

describe(`audit log and dashboard (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let admin: TestAdmin;
  let member: TestMember;
  let sub: string;
  let start: string;
  before(async () => {
    t = await sharedTobira();
    start = new Date(Date.now() - 1000).toISOString();
    rp = await createRp(t);
    admin = await signedInAdmin(t, rp);
    member = await createMember(t, rp);
    sub = (await t.container.accounts.findByIdentifier(member.memberNumber))!.id;
    await signedInDevice(t, rp, member);
    // A failure: a passkey that is no longer registered.
    const gone = await createMember(t, rp);
    await t.container.ds.query('DELETE FROM passkeys WHERE account_id = (SELECT id FROM accounts WHERE member_number = $1)', [gone.memberNumber]);
    const ua = device(t);
    const failed = await passkeySignIn(ua, t, await authorize(ua, rp), gone.authenticator);
    expect(failed.status).to.equal(400);
  });

  it('records each sign-in with method, client, IP and user agent, and finds it by member, client and type', async () => {
    const res = await adminApi(t, admin, 'GET', `/audit?member=${member.memberNumber}&type=signin.success`);
    expect(res.status).to.equal(200);
    const [event] = res.json.events;
    expect([event.type, event.account_id, event.member_number, event.client_id, event.data.method]).to.deep.equal(['signin.success', sub, member.memberNumber, rp.client.client_id, 'passkey']);
    expect(event.ip).to.match(/127\.0\.0\.1|::1/);
    expect(event.user_agent).to.be.a('string');
    const byClient = await adminApi(t, admin, 'GET', `/audit?client=${rp.client.client_id}&type=signin`);
    const types = new Set(byClient.json.events.map((e: AuditRecord) => e.type));
    expect([...types].sort()).to.deep.equal(['signin.failure', 'signin.success']);
    expect(byClient.json.events.every((e: AuditRecord) => e.client_id === rp.client.client_id)).to.equal(true);
    const byEmail = await adminApi(t, admin, 'GET', `/audit?member=${encodeURIComponent(member.email)}`);
    expect(byEmail.json.events.map((e: AuditRecord) => e.type)).to.include.members(['signup', 'passkey.registered', 'signin.success']);
  });

  it('pages through events newest first with a keyset cursor, without gaps or repeats', async () => {
    const first = await adminApi(t, admin, 'GET', `/audit?since=${encodeURIComponent(start)}&limit=2`);
    const second = await adminApi(t, admin, 'GET', `/audit?since=${encodeURIComponent(start)}&limit=2&before=${first.json.next}`);
    const all = await adminApi(t, admin, 'GET', `/audit?since=${encodeURIComponent(start)}&limit=4`);
    const ids = (r: typeof first) => r.json.events.map((e: AuditRecord) => e.id);
    expect([...ids(first), ...ids(second)]).to.deep.equal(ids(all));
    expect(Number(ids(first)[0])).to.be.greaterThan(Number(ids(first)[1]));
  });

  it('filters by time: nothing before the run started, nothing after now', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await adminApi(t, admin, 'GET', `/audit?since=${encodeURIComponent(future)}`)).json.events).to.deep.equal([]);
    const until = await adminApi(t, admin, 'GET', `/audit?member=${sub}&until=${encodeURIComponent(start)}`);
    expect(until.json.events).to.deep.equal([]);
    expect((await adminApi(t, admin, 'GET', '/audit?member=0000000000')).json.events, 'an unknown member matches nothing').to.deep.equal([]);
  });

  it('refuses bad filters with 400, never 500', async () => {
    for (const q of ['since=yesterday', 'type=DROP TABLE', 'before=abc', 'limit=100000', 'colour=blue']) {
      const res = await adminApi(t, admin, 'GET', `/audit?${q}`);
      expect([res.status, res.json.error], q).to.deep.equal([400, 'request.invalid']);
    }
    const page = await admin.ua.get(`${t.url}/admin/audit?since=yesterday`);
    expect(page.status).to.equal(400);
  });

  it('exports JSON lines from the CLI command, oldest first, filtered by time, type and member', async () => {
    const lines = await exportLines(t, { since: start, member: member.memberNumber });
    expect(lines.length).to.be.at.least(3);
    expect(lines.every((e) => e.account_id === sub || e.actor_id === sub)).to.equal(true);
    expect(lines.map((e) => Number(e.id))).to.deep.equal(lines.map((e) => Number(e.id)).sort((a, b) => a - b));
    const signins = await exportLines(t, { since: start.slice(0, 10), type: 'signin', member: sub });
    // The sign-up signed the member in with the email code; the second sign-in used the passkey.
    expect(signins.map((e) => [e.type, e.data.method])).to.deep.equal([['signin.success', 'email_code'], ['signin.success', 'passkey']]);
    expect(await exportLines(t, { since: start, until: start })).to.deep.equal([]);
  });

  it('runs `tobira audit export` as a process: JSON lines on stdout; a bad date is a usage error (exit 2)', async function () {
    this.timeout(60_000);
    const env = {
      PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(tmpdir(), 'tobira-audit-')),
      DATA_ENCRYPTION_KEY: t.config.dataEncryptionKey, COOKIE_KEYS: t.config.cookieKeys.join(','),
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    };
    const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, ['src/cli.ts', ...args], { cwd: root, env, timeout: 60_000 }, (error, stdout, stderr) => done({ code: error ? Number(error.code) : 0, stdout, stderr }));
    });
    const bad = await run(['audit', 'export', '--since', 'last week']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--since must be a date');
    const missing = await run(['audit', 'export']);
    expect([missing.code, missing.stderr.includes('--since is required')]).to.deep.equal([2, true]);
    const ok = await run(['audit', 'export', '--since', start, '--member', member.memberNumber]);
    expect(ok.code, ok.stderr).to.equal(0);
    const lines = ok.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // The embedded database of a separate process is empty; a shared PostgreSQL has this run's events.
    if (process.env.DATABASE_URL) expect(lines.map((e: AuditRecord) => e.type)).to.include('signin.success');
    else expect(lines).to.deep.equal([]);
  });

  it('counts sign-ins per method and per client, failures, and passkey adoption on the dashboard', async () => {
    const res = await adminApi(t, admin, 'GET', '/dashboard?period=24h');
    expect(res.status).to.equal(200);
    const stats = res.json;
    expect(stats.buckets).to.have.length(24);
    expect(stats.methods.find((m: { method: string }) => m.method === 'passkey').count).to.be.at.least(1);
    // Through this file's client: three sign-ups (the admin, the member, the member who lost the
    // passkey) and the member's passkey sign-in.
    const client = stats.clients.find((c: { clientId: string }) => c.clientId === rp.client.client_id);
    expect([client.name, client.count]).to.deep.equal([rp.client.client_name, 4]);
    const perBucket = stats.buckets.map((b: { byClient: Record<string, number> }) => b.byClient[rp.client.client_id] ?? 0);
    expect(perBucket.reduce((a: number, b: number) => a + b, 0)).to.equal(4);
    expect(perBucket.slice(0, -2).every((n: number) => n === 0), 'all in the last hour or two').to.equal(true);
    expect(stats.totals.failed).to.be.at.least(1);
    expect(stats.adoption.activeWithPasskey).to.be.at.least(1);
    expect(stats.adoption.activeWithPasskey).to.be.at.most(stats.adoption.active);
    const month = (await adminApi(t, admin, 'GET', '/dashboard?period=30d')).json;
    expect(month.buckets).to.have.length(30);
    expect(month.totals.success).to.be.at.least(stats.totals.success);
    expect((await adminApi(t, admin, 'GET', '/dashboard?period=1y')).status).to.equal(400);
  });

  describe('console pages', () => {
    const pages = ['/admin', '/admin?period=30d', '/admin/clients', '/admin/clients?q=x', '/admin/clients/new', '/admin/members', '/admin/audit', '/admin/audit?type=signin'];
    for (const locale of ['en', 'ja'] as const) {
      it(`render in ${locale === 'en' ? 'English' : 'Japanese'} with the charts' titles, descriptions and tables`, async () => {
        for (const path of [...pages, `/admin/members/${sub}`, `/admin/clients/${rp.client.client_id}`, `/admin/members?q=${member.memberNumber}`]) {
          const res = await admin.ua.get(`${t.url}${path}${path.includes('?') ? '&' : '?'}lang=${locale}`);
          expect(res.status, `${path}: ${res.text.slice(0, 300)}`).to.equal(200);
          expect(res.text).to.contain(`<html lang="${locale}">`);
          expect(res.text, path).to.not.match(/admin\.[a-z_]+\.[a-z_]+/);
        }
        const dashboard = (await admin.ua.get(`${t.url}/admin?lang=${locale}`)).text;
        expect(dashboard).to.match(/<svg class="chart" id="chart-method-24h"[^>]*role="img" aria-labelledby="chart-method-24h-title chart-method-24h-desc"/);
        expect(dashboard).to.contain(locale === 'en' ? 'Sign-ins by method' : '方法別のログイン');
        expect(dashboard).to.match(/<table class="responsive data">/);
      });
    }
  });
});
