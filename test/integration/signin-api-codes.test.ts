import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { api, authorize, codeFromMail, createRp, device, uniqueEmail, type Authorization, type TestRp } from '../helpers/oidc-flow.ts';
import type { UaResponse, UserAgent } from '../helpers/user-agent.ts';
import { generateMemberNumber } from '../../src/accounts/member-number.ts';
import { translator } from '../../src/i18n/i18n.ts';
import type { Account } from '../../src/accounts/account.entity.ts';

/** Asserts an API error: status, stable code, and the message of the request's language. */
function expectError(res: UaResponse, status: number, code: string, params: Record<string, unknown> = {}, locale: 'en' | 'ja' = 'en') {
  expect(res.status, res.text).to.equal(status);
  expect(res.json.error, res.text).to.equal(code);
  expect(res.json.message).to.equal(translator(locale)(`errors.${code}`, params));
}

/** A six-digit code that is not `code`. */
const wrong = (code: string, n = 1) => String((Number(code) + n) % 1_000_000).padStart(6, '0');

interface Tab { ua: UserAgent; auth: Authorization }

describe(`sign-in API: one-time email codes (${backendLabel()})`, () => {
  let t: TestTobira;
  let rp: TestRp;
  let member: Account;
  before(async () => {
    t = await startTobira();
    rp = await createRp(t);
    const s = await tab();
    const email = uniqueEmail();
    await call(s, '/signup/start', { email });
    expect((await call(s, '/signup/verify', { code: await codeFromMail(t, email) })).status).to.equal(200);
    member = (await t.container.accounts.findByEmail(email))!;
  });
  after(async () => { await t?.close(); });

  async function tab(acceptLanguage?: string): Promise<Tab> {
    const ua = device(t, acceptLanguage);
    return { ua, auth: await authorize(ua, rp) };
  }
  const call = (s: Tab, path: string, body: unknown = {}) => api(s.ua, t, s.auth, path, body);

  /**
   * Asks for a sign-in code on `s` and reads it from the member's mailbox. (At most 5 codes per
   * 15 minutes go to one identifier: the tests below share them out between the member number
   * and the email.)
   */
  async function sendCode(s: Tab, identifier = member.memberNumber): Promise<string> {
    const res = await call(s, '/email/start', { identifier });
    expect(res.status, res.text).to.equal(200);
    return codeFromMail(t, member.email, /sign-in code|ログイン用コード/);
  }

  it('sends a 6-digit code; a wrong one says how many attempts are left; the right one signs in, once', async () => {
    const s = await tab('ja');
    const code = await sendCode(s);
    expect(code).to.match(/^\d{6}$/);
    const first = await call(s, '/email/verify', { code: wrong(code) });
    expectError(first, 400, 'code.invalid', { remaining: 4 }, 'ja');
    expect(first.json.message).to.contain('4');
    expectError(await call(s, '/email/verify', { code: wrong(code, 2) }), 400, 'code.invalid', { remaining: 3 }, 'ja');
    const ok = await call(s, '/email/verify', { code });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json).to.deep.equal({ next: 'create_passkey' });
    expectError(await call(s, '/email/verify', { code }), 400, 'code.expired', {}, 'ja');
    const done = await call(s, '/continue');
    expect(done.status, done.text).to.equal(200);
    expect(done.json.redirectTo).to.be.a('string');
  });

  it('burns a code after 5 wrong attempts: even the right code then fails', async () => {
    const s = await tab();
    const code = await sendCode(s);
    for (let i = 1; i <= 4; i++) expectError(await call(s, '/email/verify', { code: wrong(code, i) }), 400, 'code.invalid', { remaining: 5 - i });
    expectError(await call(s, '/email/verify', { code: wrong(code, 5) }), 429, 'code.too_many_attempts');
    expectError(await call(s, '/email/verify', { code }), 429, 'code.too_many_attempts');
    expectError(await call(s, '/continue'), 409, 'interaction.wrong_step');
  });

  it('evaluates at most 5 of 20 parallel guesses; the right code afterwards fails', async () => {
    const s = await tab();
    const code = await sendCode(s);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => call(s, '/email/verify', { code: wrong(code, i + 1) })));
    const byError = answers.map((a) => a.json.error as string);
    expect(byError.filter((e) => e !== 'code.invalid' && e !== 'code.too_many_attempts'), byError.join()).to.deep.equal([]);
    expect(byError.filter((e) => e === 'code.invalid').length).to.be.within(1, 5);
    expectError(await call(s, '/email/verify', { code }), 429, 'code.too_many_attempts');
  });

  it('replaces the previous code when a new one is sent', async () => {
    const s = await tab();
    const old = await sendCode(s, member.email);
    const fresh = await sendCode(s, member.email.toUpperCase());
    if (old !== fresh) expectError(await call(s, '/email/verify', { code: old }), 400, 'code.invalid', { remaining: 4 });
    expect((await call(s, '/email/verify', { code: fresh })).status).to.equal(200);
  });

  it('does not take a code sent for one interaction on another', async () => {
    const a = await tab();
    const b = await tab();
    const code = await sendCode(a);
    expectError(await call(b, '/email/verify', { code }), 400, 'code.expired');
    expect((await call(a, '/email/verify', { code })).status).to.equal(200);
  });

  it('stores codes only as a keyed hash', async () => {
    const s = await tab();
    const code = await sendCode(s, member.email);
    const stored = await t.container.store.get(`code:signin:${s.auth.uid}`);
    expect(stored, 'the code is stored under the interaction').to.be.a('string');
    expect(stored).to.not.contain(code);
    for (const encoding of ['hex', 'base64url', 'base64'] as const) {
      expect(stored).to.not.contain(createHash('sha256').update(code).digest(encoding));
    }
    expect((await call(s, '/email/verify', { code })).status).to.equal(200);
  });

  it('answers an unknown identifier exactly like a real one and sends no mail', async () => {
    const unknownEmail = uniqueEmail('nobody');
    const answers: UaResponse[] = [];
    for (const identifier of [unknownEmail, generateMemberNumber(), member.memberNumber]) {
      answers.push(await call(await tab(), '/email/start', { identifier }));
    }
    for (const a of answers) {
      expect(a.status).to.equal(200);
      expect(a.json).to.deep.equal(answers[2].json);
    }
    // The real account's mail arrives; by then nothing went to the unknown address.
    await codeFromMail(t, member.email);
    expect(t.smtp.messages.filter((m) => m.to.includes(unknownEmail))).to.deep.equal([]);
  });

  it('limits codes per target email: the sixth within the window is 429 rate_limited with Retry-After', async () => {
    const s = await tab();
    const target = uniqueEmail('flood');
    for (const variant of [target, target.toUpperCase(), ` ${target}`, target, target]) {
      const res = await call(s, '/email/start', { identifier: variant });
      expect(res.status, res.text).to.equal(200);
    }
    const limited = await call(await tab('ja'), '/email/start', { identifier: target });
    expect(limited.status, limited.text).to.equal(429);
    expect(limited.json.error).to.equal('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).to.be.within(1, 900);
    expect(limited.json.message).to.equal(translator('ja')('errors.rate_limited', { seconds: retryAfter }));
    // Another member is not affected.
    expect((await call(await tab(), '/email/start', { identifier: uniqueEmail('other') })).status).to.equal(200);
  });

  it('counts a member number typed with spaces or dashes against the same limit', async () => {
    const number = generateMemberNumber();
    const variants = [number, `${number.slice(0, 4)} ${number.slice(4)}`, `${number.slice(0, 4)}-${number.slice(4, 8)}-${number.slice(8)}`, number, ` ${number} `];
    for (const identifier of variants) expect((await call(await tab(), '/email/start', { identifier })).status).to.equal(200);
    const limited = await call(await tab(), '/email/start', { identifier: `${number.slice(0, 5)} ${number.slice(5)}` });
    expect(limited.status, limited.text).to.equal(429);
  });
});
