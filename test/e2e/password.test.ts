/**
 * Members imported from an older system, in Chromium: password and authenticator app code,
 * then the passkey invitation, after which the password no longer works (English, phone size);
 * password and SMS code with a resend (Japanese, desktop size). Skipped (with the reason
 * printed) when Chromium is not installed.
 */
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { generate, generateSecret } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import { launchBrowser, newDevice, VIEWPORT_DESKTOP, VIEWPORT_MOBILE, type Device, skipWithoutChromium } from '../helpers/browser.ts';
import { uniqueEmail } from '../helpers/oidc-flow.ts';
import { importMembers } from '../../src/accounts/member-import.ts';
import type { Account } from '../../src/accounts/account.entity.ts';
import { translator } from '../../src/i18n/i18n.ts';
import { checkPage } from './page-checks.ts';

const DEMO = 'Tobira Demo';
const password = 'correct horse battery staple';

async function h1(page: Page): Promise<string> {
  return (await page.locator('h1:visible').textContent() ?? '').trim();
}

async function focusedId(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

describe(`password sign-in of imported members in Chromium (${backendLabel()})`, function () {
  this.timeout(90_000);
  let t: TestTobira;
  let sms: SmsSink;
  let browser: Browser;

  before(async function () {
    skipWithoutChromium(this);
    sms = await startSmsSink();
    t = await startTobira({ DEMO: 'true', SMS_URL: sms.url });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await sms?.close();
  });

  async function importMember(line: Record<string, unknown>): Promise<Account> {
    const email = uniqueEmail('e2e-legacy');
    const report = await importMembers(t.container.ds, [JSON.stringify({ email, password_hash: await bcrypt.hash(password, 10), ...line })], { dryRun: false });
    expect(report.errors).to.deep.equal([]);
    return (await t.container.accounts.findByEmail(email))!;
  }

  async function openSignIn(page: Page): Promise<void> {
    await page.goto('/demo');
    await Promise.all([page.waitForURL(/\/interaction\/[\w-]+/), page.click('#demo-signin')]);
  }

  async function backAtDemo(page: Page): Promise<Record<string, unknown>> {
    await page.waitForURL(`${t.url}/demo`);
    await page.locator('#id-token-claims').waitFor();
    return JSON.parse(await page.locator('#id-token-claims').textContent() ?? '{}');
  }

  /** Sign-in page → "Sign in with a password" → identifier and password → submitted. */
  async function enterPassword(device: Device, identifier: string, pw: string, locale: 'en' | 'ja', shots?: string): Promise<void> {
    const { page } = device;
    const T = translator(locale);
    await page.click('#show-password');
    expect(await h1(page)).to.equal(T('password.title'));
    expect(await focusedId(page)).to.equal('password-heading');
    await page.fill('#password-identifier', identifier);
    await page.fill('#password-input', pw);
    if (shots) await checkPage(page, locale, shots);
    await page.click('#password-form button[type=submit]');
  }

  describe('with an authenticator app, in English on a phone', () => {
    const T = translator('en');
    let device: Device;
    let account: Account;
    let secret = '';

    before(async () => {
      account = await importMember({ name: 'Ken Legacy', locale: 'en' });
      secret = generateSecret();
      await t.container.ds.query('UPDATE accounts SET totp_secret = $2 WHERE id = $1', [account.id, t.container.box.seal(secret)]);
      device = await newDevice(browser, { locale: 'en', viewport: VIEWPORT_MOBILE, baseURL: t.url });
    });
    after(async () => {
      expect(device?.pageErrors ?? []).to.deep.equal([]);
      await device?.close();
    });

    it('signs in with password and TOTP code, accepts the passkey invitation and is back at the demo with mfa', async () => {
      const { page } = device;
      await openSignIn(page);
      expect(await page.locator('#lost-passkey').getAttribute('href')).to.match(/^\/recover\?interaction=[\w-]+$/);
      expect(await page.locator('#help-link').getAttribute('href')).to.equal('/help/passkeys');
      await checkPage(page, 'en', 'signin-with-password-link');

      // A wrong password first: the alert says so, the member stays on the form.
      await enterPassword(device, account.memberNumber, 'not my password', 'en', 'password');
      await page.locator('#error:not(:empty)').waitFor();
      expect(await page.locator('[role=alert]').textContent()).to.equal(T('errors.password.invalid'));
      expect(await page.locator('#password-form').isVisible()).to.equal(true);

      await page.fill('#password-input', password);
      await page.click('#password-form button[type=submit]');
      await page.locator('#factor-code').waitFor();
      expect(await h1(page)).to.equal(T('password.totp_title'));
      expect(await focusedId(page)).to.equal('factor-code');
      expect(await page.locator('#factor-lead').textContent()).to.equal(T('password.totp_lead'));
      expect(await page.locator('#factor-resend').isHidden(), 'nothing to resend for an app').to.equal(true);
      expect(await page.locator('#error').textContent()).to.equal('');
      await checkPage(page, 'en', 'password-totp');

      await page.fill('#factor-code', await generate({ secret }));
      await page.click('#factor-form button[type=submit]');
      await page.locator('#panel-create').waitFor();
      expect(await h1(page)).to.equal(T('invite.title'));
      expect(await focusedId(page)).to.equal('create-heading');
      expect(await page.locator('#create-lead').textContent()).to.equal(T('password.invite_lead'));
      expect(await page.locator('#create-password-note').textContent()).to.equal(T('password.retires_note'));
      expect(await page.locator('#skip-passkey').isVisible()).to.equal(true);
      await checkPage(page, 'en', 'password-invitation');

      device.skipCeremonies();
      await page.click('#create-passkey');
      const claims = await backAtDemo(page);
      expect(claims).to.include({ acr: 'mfa', sub: account.id });
      expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      const created = await device.nextCeremony({ type: 'create' });
      expect(created.ok).to.equal(true);
      const stored = await t.container.passkeyRepository.listByAccount(account.id);
      expect(stored.map((p) => p.credentialId)).to.deep.equal([created.credentialId]);
    });

    it('the first passkey turned the password off: recorded, emailed, and password sign-in answers as for a wrong password', async () => {
      const { page } = device;
      expect((await t.container.accounts.findById(account.id))!.passwordEnabled).to.equal(false);
      const [retired] = await t.container.ds.query("SELECT data FROM audit_events WHERE type = 'password.disabled' AND account_id = $1", [account.id]);
      expect(retired, 'audit event password.disabled').to.not.equal(undefined);
      await t.smtp.waitFor({ to: account.email, subject: /passkey/i });

      await page.goto('/demo');
      await Promise.all([page.waitForURL(/\/session\/end/), page.click('#demo-signout')]);
      await Promise.all([page.waitForURL(`${t.url}/demo`), page.click('button[name=logout]')]);
      // Try the password on another device, one without the passkey (on this one, autofill
      // would sign the member in before the password panel is even opened).
      const other = await newDevice(browser, { locale: 'en', viewport: VIEWPORT_MOBILE, baseURL: t.url });
      try {
        await openSignIn(other.page);
        await enterPassword(other, account.memberNumber, password, 'en');
        await other.page.locator('#error:not(:empty)').waitFor();
        expect(await other.page.locator('[role=alert]').textContent()).to.equal(T('errors.password.invalid'));
        expect(await other.page.locator('#factor-form').isHidden()).to.equal(true);
      } finally {
        await other.close();
      }
    });

    it('a passkey removed from the account: the page says so, shows help, and the browser is told to forget it', async () => {
      const { page } = device;
      const [passkey] = await t.container.passkeyRepository.listByAccount(account.id);
      await t.container.ds.query('DELETE FROM passkeys WHERE id = $1', [passkey.id]);
      expect((await device.credentials()).map((c) => c.id)).to.deep.equal([passkey.credentialId]);
      // The sign-in page's passkey autofill offers it at once (the virtual authenticator answers by itself).
      device.skipCeremonies();
      await openSignIn(page);
      expect(await device.nextCeremony({ type: 'get', mediation: 'conditional' })).to.include({ ok: true, credentialId: passkey.credentialId });
      await page.locator('#error:not(:empty)').waitFor();
      expect(await page.locator('[role=alert]').textContent()).to.equal(T('password.unknown_credential'));
      expect(await page.locator('#passkey-help').isVisible()).to.equal(true);
      expect(await page.locator('#passkey-help a').getAttribute('href')).to.equal('/help/passkeys');
      await checkPage(page, 'en', 'signin-unknown-passkey');
      // Chromium's virtual authenticator honours the WebAuthn Signal API like a password manager.
      const deadline = Date.now() + 5000;
      while ((await device.credentials()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await device.credentials()).to.deep.equal([]);
    });
  });

  describe('with an SMS code, in Japanese on a desktop', () => {
    const T = translator('ja');
    let device: Device;
    let account: Account;
    const phone = `+8170${String(Date.now() % 1e8).padStart(8, '0')}`;

    before(async () => {
      account = await importMember({ name: '佐藤 一郎', locale: 'ja', phone });
      device = await newDevice(browser, { locale: 'ja', viewport: VIEWPORT_DESKTOP, baseURL: t.url });
    });
    after(async () => {
      expect(device?.pageErrors ?? []).to.deep.equal([]);
      await device?.close();
    });

    it('signs in with password and the SMS code after a resend, then skips the passkey', async () => {
      const { page } = device;
      await openSignIn(page);
      expect(await h1(page)).to.equal(T('signin.heading', { client: DEMO }));
      await page.fill('#identifier', account.email);
      await enterPassword(device, account.email, password, 'ja');
      await page.locator('#factor-code').waitFor();
      expect(await page.locator('#password-identifier').inputValue(), 'the identifier typed is carried over').to.equal(account.email);
      expect(await h1(page)).to.equal(T('password.sms_title'));
      const masked = `+81${'•'.repeat(phone.length - 7)}${phone.slice(-4)}`;
      expect(await page.locator('#factor-lead').textContent()).to.equal(T('password.sms_sent', { phone: masked, minutes: 10 }));
      const first = await sms.waitFor(phone);
      expect(first.text).to.contain('ログイン用コード');
      await checkPage(page, 'ja', 'password-sms');

      sms.messages.length = 0;
      await page.click('#factor-resend');
      await page.locator('#status:not(:empty)').waitFor();
      expect(await page.locator('#status').textContent()).to.equal(T('password.resent'));
      expect(await focusedId(page)).to.equal('factor-code');
      const code = /\b(\d{6})\b/.exec((await sms.waitFor(phone)).text)![1];
      await page.fill('#factor-code', code);
      await page.click('#factor-form button[type=submit]');
      await page.locator('#panel-create').waitFor();
      expect(await page.locator('#create-password-note').isVisible()).to.equal(true);
      await checkPage(page, 'ja', 'password-invitation');
      await page.click('#skip-passkey');
      const claims = await backAtDemo(page);
      expect(claims).to.include({ acr: 'mfa', sub: account.id });
      expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      expect((await t.container.accounts.findById(account.id))!.passwordEnabled, 'skipping keeps the password').to.equal(true);
    });
  });
});
