/**
 * `tobira members import FILE` as an operator runs it (the real CLI in a child process): a file
 * from an older system with good and bad lines, a dry run, the import, a re-run, and then a
 * complete OpenID Connect sign-in of an imported member with their old password.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import * as argon2 from '@node-rs/argon2';
import * as oidc from 'openid-client';
import { startTobira, backendLabel, testSecrets, type TestTobira } from '../helpers/tobira.ts';
import { authorize, createRp, device, exchange, followToCallback, api, uniqueEmail } from '../helpers/oidc-flow.ts';
import { generateMemberNumber } from '../../src/accounts/member-number.ts';
import { importMembers } from '../../src/accounts/member-import.ts';

const root = resolve(import.meta.dirname, '../..');

/** What a CLI run printed and how it exited. */
interface CliRun { code: number; stdout: string; stderr: string; json: any }

/** Runs `node src/cli.ts ...` in a child process; `stdin` is written to its standard input. */
function runCli(env: Record<string, string>, args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['src/cli.ts', ...args], { cwd: root, env, timeout: 90_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', fail);
    child.on('close', (code) => {
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      done({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.end(stdin);
  });
}

const oldPassword = 'my old club password';

describe(`tobira members import (${backendLabel()})`, function () {
  // Every run starts a Node process and opens the database (PGlite: about two seconds).
  this.timeout(120_000);
  let env: Record<string, string>;
  let file: string;
  const cli = (...args: string[]) => runCli(env, args);
  const emails = Array.from({ length: 6 }, (_, i) => uniqueEmail(`import${i}`));
  const givenNumber = generateMemberNumber();
  const phone = `+8180${String(randomBytes(4).readUInt32BE() % 1e8).padStart(8, '0')}`;

  before(async () => {
    // The CLI's own database: DATABASE_URL when the suite runs on PostgreSQL, else an embedded one
    // in this DATA_DIR, which the Tobira of the last test then opens.
    env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'tobira-import-')),
      ...testSecrets,
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    };
    const salt = randomBytes(12).toString('base64url');
    const lines = [
      { email: emails[0], name: '山田 花子', locale: 'ja', member_number: givenNumber, phone, password_hash: await bcrypt.hash(oldPassword, 10).then((h) => h.replace(/^\$2[ab]\$/, '$2y$')) },
      { email: 'not-an-email' },
      null,
      { email: emails[1].toUpperCase(), password_hash: await argon2.hash(oldPassword) },
      'this is not JSON',
      { email: emails[2], password_hash: '5f4dcc3b5aa765d61d8327deb882cf99' },
      { email: emails[3], name: 'Ada', email_verified: false, password_hash: `pbkdf2_sha256$260000$${salt}$${pbkdf2Sync(oldPassword, salt, 260000, 32, 'sha256').toString('base64')}` },
      { email: emails[0], name: 'the same member again' },
      { email: emails[4], member_number: '1234567890' },
      { email: emails[5], phone: '090-1234-5678' },
      { email: uniqueEmail('extra'), nickname: 'Hana' },
      { email: uniqueEmail('nopw') },
    ];
    file = join(env.DATA_DIR, 'members.jsonl');
    writeFileSync(file, `${lines.map((l) => (l === null ? '' : typeof l === 'string' ? l : JSON.stringify(l))).join('\r\n')}\r\n`);
  });

  const expectedErrors = [
    { line: 2, message: /^email: Invalid email address$/ },
    { line: 5, message: /^not valid JSON/ },
    { line: 6, message: /^password_hash: unknown password hash format/ },
    { line: 8, message: new RegExp(`^email: ${emails[0]} already appears on line 1$`) },
    { line: 9, message: /^member_number: must be 10 digits ending in a valid check digit/ },
    { line: 10, message: /^phone: must be an E\.164 number/ },
    { line: 11, message: /^Unrecognized key: "nickname"$/ },
  ];

  function expectErrors(errors: { line: number; message: string }[]) {
    expect(errors.map((e) => e.line)).to.deep.equal(expectedErrors.map((e) => e.line));
    errors.forEach((e, i) => expect(e.message, `line ${e.line}`).to.match(expectedErrors[i].message));
  }

  it('--dry-run checks every line, reports errors with line numbers and writes nothing', async () => {
    const run = await cli('members', 'import', file, '--dry-run', '--format', 'json');
    expect(run.code, run.stderr).to.equal(2);
    expect(JSON.parse(run.stderr)).to.include({ error: 'request.invalid' });
    expect(run.json.dry_run).to.equal(true);
    expectErrors(run.json.errors);
    expect(run.json.imported).to.deep.equal([
      { line: 1, email: emails[0], member_number: givenNumber, password: true },
      { line: 4, email: emails[1], member_number: null, password: true },
      { line: 7, email: emails[3], member_number: null, password: true },
      { line: 12, email: run.json.imported[3]?.email, member_number: null, password: false },
    ]);
    expect(run.json.skipped).to.deep.equal([]);
    const find = await cli('members', 'find', emails[0]);
    expect(find.code, 'nothing was written').to.equal(4);
  });

  it('imports the valid lines, lists the bad ones by line number, and exits 2', async () => {
    const run = await cli('members', 'import', file);
    expect(run.code, run.stderr).to.equal(2);
    expect(run.stdout).to.contain('Imported 4 members (3 with a password). Skipped 0 lines already present. 7 lines with errors.');
    for (const e of expectedErrors) expect(run.stdout).to.match(new RegExp(`^  line ${e.line}: `, 'm'));
    expect(run.stderr).to.contain('7 lines of').and.to.contain('the others were imported');

    const first = await cli('members', 'find', givenNumber, '--format', 'json');
    expect(first.code, first.stderr).to.equal(0);
    expect(first.json).to.include({ email: emails[0], name: '山田 花子', locale: 'ja', email_verified: true, member_number: givenNumber });
    const second = await cli('members', 'find', emails[1], '--format', 'json');
    expect(second.json.email, 'stored in lower case').to.equal(emails[1]);
    expect(second.json.member_number).to.match(/^[1-9]\d{9}$/);
    expect((await cli('members', 'find', emails[3], '--format', 'json')).json).to.include({ email_verified: false, name: 'Ada' });
    expect((await cli('members', 'find', emails[2])).code, 'a bad line is not imported').to.equal(4);
  });

  it('running the same file again imports nothing twice and lists what it skipped', async () => {
    const run = await cli('members', 'import', file, '--format', 'json');
    expect(run.code).to.equal(2);
    expect(run.json.imported).to.deep.equal([]);
    expectErrors(run.json.errors);
    expect(run.json.skipped.map((s: { line: number }) => s.line)).to.deep.equal([1, 4, 7, 12]);
    expect(run.json.skipped[0]).to.deep.equal({ line: 1, email: emails[0], reason: `already a member (member number ${givenNumber})` });
  });

  it('a member number that is already taken is skipped; a clean file exits 0; standard input works', async () => {
    const newcomer = uniqueEmail('newcomer');
    const lines = [JSON.stringify({ email: uniqueEmail('thief'), member_number: givenNumber }), JSON.stringify({ email: newcomer, locale: 'en' })].join('\n');
    const run = await runCli(env, ['members', 'import', '-', '--format', 'json'], lines);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.json.skipped).to.have.length(1);
    expect(run.json.skipped[0].reason).to.equal(`member number ${givenNumber} already belongs to ${emails[0]}`);
    expect(run.json.imported.map((m: { email: string }) => m.email)).to.deep.equal([newcomer]);
    const missing = await cli('members', 'import', join(env.DATA_DIR, 'no-such-file.jsonl'));
    expect(missing.code).to.equal(4);
    expect(missing.stderr).to.contain('does not exist');
  });

  describe('then an imported member signs in with their old password', () => {
    let t: TestTobira;
    before(async () => {
      // Starts after the CLI runs: the embedded database allows one process at a time.
      t = await startTobira({ DATA_DIR: env.DATA_DIR });
    });
    after(async () => { await t?.close(); });

    it('through an OpenID Connect client: the ID token and userinfo are the imported member', async () => {
      const rp = await createRp(t);
      const ua = device(t);
      const auth = await authorize(ua, rp);
      // The imported phone counts as verified: the SMS second factor follows the password.
      const verify = await api(ua, t, auth, '/password/verify', { identifier: givenNumber, password: oldPassword });
      expect(verify.status, verify.text).to.equal(200);
      expect(verify.json.next).to.equal('sms');

      const other = await api(ua, t, await authorize(ua, rp), '/password/verify', { identifier: emails[1], password: oldPassword });
      expect(other.json).to.include({ next: 'create_passkey' });

      const ua3 = device(t);
      const auth3 = await authorize(ua3, rp);
      const ada = await api(ua3, t, auth3, '/password/verify', { identifier: emails[3].toUpperCase(), password: oldPassword });
      expect(ada.json).to.deep.equal({ next: 'create_passkey', passwordRetires: true, skippable: true });
      const done = await api(ua3, t, auth3, '/continue');
      const tokens = await exchange(rp, auth3, await followToCallback(ua3, rp, done.json.redirectTo));
      const claims = tokens.claims()!;
      expect(claims).to.include({ acr: 'sfa' });
      expect(claims.amr).to.deep.equal(['pwd']);
      const userinfo = await oidc.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
      expect(userinfo).to.include({ email: emails[3], email_verified: false, name: 'Ada' });
      expect(userinfo.member_number).to.match(/^[1-9]\d{9}$/);
      const [{ data }] = await t.container.ds.query("SELECT data FROM audit_events WHERE type = 'admin.member_changed' AND account_id = $1", [claims.sub]);
      expect(data).to.deep.equal({ action: 'import', via: 'cli' });
    });

    it('two imports of the same members at once write each member once', async () => {
      const emailsOfRace = Array.from({ length: 30 }, () => uniqueEmail('race'));
      const lines = emailsOfRace.map((email) => JSON.stringify({ email }));
      const reports = await Promise.all([1, 2].map(() => importMembers(t.container.ds, lines, { dryRun: false, batchSize: 7 })));
      expect(reports.flatMap((r) => r.errors)).to.deep.equal([]);
      expect(reports[0].imported.length + reports[1].imported.length).to.equal(30);
      expect(reports[0].skipped.length + reports[1].skipped.length).to.equal(30);
      const [{ n }] = await t.container.ds.query('SELECT count(*)::int AS n FROM accounts WHERE email = ANY($1::text[])', [emailsOfRace]);
      expect(n).to.equal(30);
    });
  });
});
