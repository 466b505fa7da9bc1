/**
 * "Lost your passkey?" and "Prepare your device" in a real browser (Debian's Chromium with a
 * virtual platform authenticator): recovery by email code, and by email and SMS code, back to
 * the sign-in it came from; the help page's browser check. English and Japanese, with the
 * accessibility and layout audit at phone and desktop size. Skipped without Chromium.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { launchBrowser, newDevice, VIEWPORT_DESKTOP, VIEWPORT_MOBILE, skipWithoutChromium } from '../helpers/browser.ts';
import { startSmsSink, type SmsSink } from '../helpers/sms-sink.ts';
import { codeFromMail, uniqueEmail } from '../helpers/oidc-flow.ts';
import { translator } from '../../src/i18n/i18n.ts';
import { checkPage } from './page-checks.ts';

async function h1(page: Page): Promise<string> {
  return (await page.locator('h1:visible').textContent() ?? '').trim();
}

async function focusedId(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

describe(`recovery and device help in Chromium (${backendLabel()})`, function () {
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

  it('recovers by email code on a phone, in English, and goes back to the sign-in it came from, which the new passkey completes', async () => {
    const T = translator('en');
    const email = uniqueEmail('e2e-recover');
    const account = await t.container.accounts.create({ email, locale: 'en', emailVerified: true });
    const device = await newDevice(browser, { locale: 'en', viewport: VIEWPORT_MOBILE, baseURL: t.url });
    try {
      const { page } = device;
      await page.goto('/demo');
      await Promise.all([page.waitForURL(/\/interaction\/[\w-]+/), page.click('#demo-signin')]);
      const uid = new URL(page.url()).pathname.split('/').pop()!;
      // "Lost your passkey?" on the sign-in page.
      await Promise.all([page.waitForURL(`${t.url}/recover?interaction=${uid}`), page.click('#lost-passkey')]);
      expect(await h1(page)).to.equal(T('recovery.title'));
      await checkPage(page, 'en', 'recover-start');

      // An empty identifier: the alert says what to do and the field is marked.
      await page.click('#start-form button[type=submit]');
      expect(await page.locator('[role=alert]').textContent()).to.equal(T('recovery.identifier_required'));
      expect(await page.locator('#identifier').getAttribute('aria-invalid')).to.equal('true');
      expect(await focusedId(page)).to.equal('identifier');

      await page.fill('#identifier', account.memberNumber);
      await page.click('#start-form button[type=submit]');
      await page.locator('#email-code:visible').waitFor();
      expect(await focusedId(page)).to.equal('email-code');
      await checkPage(page, 'en', 'recover-email-code');
      await page.fill('#email-code', await codeFromMail(t, email, /recovery code/));
      await page.click('#email-form button[type=submit]');
      await page.locator('#panel-register').waitFor();
      expect(await h1(page)).to.equal(T('recovery.register_heading'));
      expect(await focusedId(page)).to.equal('register-heading');
      await checkPage(page, 'en', 'recover-register');

      await page.fill('#passkey-name', 'Recovered phone');
      await page.click('#create-passkey');
      await page.locator('#panel-done').waitFor();
      expect(await page.locator('#done-body').textContent()).to.equal(T('recovery.done_body', { name: 'Recovered phone' }));
      await checkPage(page, 'en', 'recover-done');
      await t.smtp.waitFor({ to: email, subject: 'Account recovery was used on your Tobira account' });
      const [credential] = await device.credentials();
      const stored = await t.container.passkeyRepository.listByAccount(account.id);
      expect(stored.map((p) => p.credentialId)).to.deep.equal([credential.id]);

      // Back to the sign-in: passkey autofill signs in with the new passkey, and the demo gets the member.
      await Promise.all([page.waitForURL(`${t.url}/demo`), page.click('#continue-signin')]);
      await page.locator('#id-token-claims').waitFor();
      const claims = JSON.parse(await page.locator('#id-token-claims').textContent() ?? '{}');
      expect(claims).to.include({ sub: account.id, acr: 'phr' });
      expect(device.pageErrors).to.deep.equal([]);
    } finally {
      await device.close();
    }
  });

  it('asks for the SMS code too when a phone is on file, in Japanese', async () => {
    const T = translator('ja');
    const email = uniqueEmail('e2e-recover-ja');
    const phone = '+819055556666';
    const account = await t.container.accounts.create({ email, locale: 'ja', emailVerified: true });
    await t.container.ds.query('UPDATE accounts SET phone = $2, phone_verified = true WHERE id = $1', [account.id, phone]);
    const device = await newDevice(browser, { locale: 'ja', viewport: VIEWPORT_DESKTOP, baseURL: t.url });
    try {
      const { page } = device;
      await page.goto('/recover');
      expect(await h1(page)).to.equal(T('recovery.title'));
      await page.fill('#identifier', email);
      await page.click('#start-form button[type=submit]');
      await page.locator('#email-code:visible').waitFor();
      await page.fill('#email-code', await codeFromMail(t, email, /復旧コード/));
      await page.click('#email-form button[type=submit]');
      await page.locator('#panel-sms').waitFor();
      expect(await h1(page)).to.equal(T('recovery.sms_heading'));
      expect(await focusedId(page)).to.equal('sms-heading');
      expect(await page.locator('#sms-sent').textContent()).to.equal(T('recovery.sms_sent', { to: '+81••••••6666' }));
      await checkPage(page, 'ja', 'recover-sms');

      const code = /\b(\d{6})\b/.exec((await sms.waitFor(phone)).text)![1];
      await page.fill('#sms-code', code === '000000' ? '111111' : '000000');
      await page.click('#sms-form button[type=submit]');
      await page.locator('#error:not(:empty)').waitFor();
      expect(await page.locator('[role=alert]').textContent()).to.equal(T('errors.code.invalid', { remaining: 4 }));
      await checkPage(page, 'ja', 'recover-sms-wrong');
      await page.fill('#sms-code', code);
      await page.click('#sms-form button[type=submit]');
      await page.locator('#panel-register').waitFor();
      await checkPage(page, 'ja', 'recover-register');
      await page.click('#create-passkey');
      await page.locator('#panel-done').waitFor();
      expect(await h1(page)).to.equal(T('recovery.done_heading'));
      expect(await page.locator('#continue-signin').isHidden(), 'no sign-in to go back to').to.equal(true);
      await checkPage(page, 'ja', 'recover-done');
      expect(await t.container.passkeyRepository.listByAccount(account.id)).to.have.length(1);
      await t.smtp.waitFor({ to: email, subject: 'Tobira アカウントの復旧が行われました' });
      expect(device.pageErrors).to.deep.equal([]);
    } finally {
      await device.close();
    }
  });

  for (const locale of ['en', 'ja'] as const) {
    it(`checks this browser on the help page and shows the results as text (${locale})`, async () => {
      const T = translator(locale);
      const device = await newDevice(browser, { locale, viewport: VIEWPORT_MOBILE, baseURL: t.url });
      try {
        const { page } = device;
        await page.goto('/help/passkeys');
        expect(await h1(page)).to.equal(T('help.title'));
        await page.locator('#check[data-done=true]').waitFor();
        const results = await page.locator('[data-check]').evaluateAll((els) => els.map((el) => [(el as HTMLElement).dataset.check, el.textContent]));
        const answers = [T('help.check.yes'), T('help.check.no'), T('help.check.unknown')];
        for (const [, text] of results) expect(answers).to.include(text);
        // Chromium with its virtual platform authenticator: passkeys, screen lock and autofill all work.
        expect(Object.fromEntries(results)).to.include({ webauthn: T('help.check.yes'), platform: T('help.check.yes'), autofill: T('help.check.yes') });
        expect(await page.locator('#check-summary').textContent()).to.equal(T('help.check.summary_ready'));
        await checkPage(page, locale, 'help-passkeys');
        expect(device.pageErrors).to.deep.equal([]);
      } finally {
        await device.close();
      }
    });
  }
});
