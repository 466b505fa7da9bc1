/**
 * "Register on another device" in a real browser: Debian's Chromium with two simulated devices
 * (two browser contexts, each with its own virtual platform authenticator). The member signs up
 * on the first (a computer), asks for a link by email or shows a QR code in account settings, and
 * the second (a phone) opens the link, confirms it's the member and creates its own passkey. In
 * English and Japanese, with the accessibility and layout audit at phone and desktop size on
 * every page of the other device. Skipped (with the reason printed) without Chromium.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { launchBrowser, newDevice, VIEWPORT_DESKTOP, VIEWPORT_MOBILE, type Device, skipWithoutChromium } from '../helpers/browser.ts';
import { codeFromMail, uniqueEmail } from '../helpers/oidc-flow.ts';
import { translator, type Locale } from '../../src/i18n/i18n.ts';
import { qrSvg } from '../../src/enrollment/add-device-routes.ts';
import { checkPage } from './page-checks.ts';

async function h1(page: Page): Promise<string> {
  return (await page.locator('h1:visible').textContent() ?? '').trim();
}

async function focusedId(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

/**
 * Lets `to` use the passkeys of `from` for a while, as when the member confirms it's them on a
 * new phone with a passkey their password manager syncs there, or with their other phone nearby
 * (cross-device): copies of `from`'s credentials on `to`'s authenticator. Returns a function that
 * takes them away again, so that `to` then creates a passkey of its own. (A second virtual
 * authenticator does not work for this: Chromium refuses the request when the device's own one
 * has no matching credential.)
 */
async function lendPasskeys(from: Device, to: Device): Promise<() => Promise<void>> {
  const lent = await from.credentials();
  for (const c of lent) {
    await to.cdp.send('WebAuthn.addCredential', {
      authenticatorId: to.authenticatorId,
      credential: { credentialId: c.credentialId, isResidentCredential: true, rpId: c.rpId, privateKey: c.privateKey, userHandle: c.userHandle, signCount: c.signCount },
    });
  }
  return async () => {
    for (const c of lent) await to.cdp.send('WebAuthn.removeCredential', { authenticatorId: to.authenticatorId, credentialId: c.credentialId });
  };
}

describe(`register a passkey on another device in Chromium (${backendLabel()})`, function () {
  this.timeout(90_000);
  let t: TestTobira;
  let browser: Browser;

  before(async function () {
    skipWithoutChromium(this);
    t = await startTobira({ DEMO: 'true' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await t?.close();
  });

  /** Signs a new member up through the demo on `device` (email, code, passkey) and returns the email. */
  async function signUp(device: Device, locale: Locale): Promise<string> {
    const { page } = device;
    const email = uniqueEmail(`e2e-enroll-${locale}`);
    await page.goto('/demo');
    await Promise.all([page.waitForURL(/\/interaction\/[\w-]+/), page.click('#demo-signin')]);
    await page.click('#show-signup');
    await page.fill('#signup-email', email);
    await page.click('#signup-start-form button[type=submit]');
    await page.locator('#signup-code').waitFor();
    await page.fill('#signup-code', await codeFromMail(t, email));
    await page.click('#signup-verify-form button[type=submit]');
    await page.locator('#panel-create').waitFor();
    await page.fill('#passkey-name', 'My computer');
    await Promise.all([page.waitForURL(`${t.url}/demo`), page.click('#create-passkey')]);
    return email;
  }

  /** Settings → Passkeys → "+" → "Register on another device" → step-up with the passkey → the two choices. */
  async function openOtherDevicePanel(device: Device, T: ReturnType<typeof translator>): Promise<void> {
    const { page } = device;
    await page.goto('/account/passkeys');
    await page.locator('#add-passkey').click();
    await page.locator('#choose-other').click();
    await page.locator('#panel-other').waitFor();
    expect(await h1(page)).to.equal(T('account.add.other'));
  }

  /**
   * On the other device, after "Register": the intro, the step-up with a lent passkey, then a new
   * passkey named `name` on the device's own authenticator, and the done page.
   */
  async function enrollOnOtherDevice(first: Device, other: Device, locale: 'en' | 'ja', T: ReturnType<typeof translator>, name: string, shots: string) {
    const { page } = other;
    await page.locator('#panel-intro').waitFor();
    expect(await h1(page)).to.equal(T('enroll.step_up.heading'));
    expect(await page.locator('#intro-text').textContent()).to.equal(T('enroll.step_up.passkey'));
    await checkPage(page, locale, `${shots}-intro`);

    const giveBack = await lendPasskeys(first, other);
    try {
      other.skipCeremonies();
      await page.click('#intro-continue');
      await page.locator('#panel-register').waitFor();
      const proof = await other.nextCeremony({ type: 'get' });
      expect(proof.ok, proof.error).to.equal(true);
      expect(proof.credentialId).to.equal((await first.credentials())[0].id);
    } finally {
      await giveBack();
    }
    expect(await h1(page)).to.equal(T('enroll.register.heading'));
    expect(await focusedId(page)).to.equal('register-heading');
    expect(await page.locator('#password-note').count(), 'the account has no password to turn off').to.equal(0);
    await checkPage(page, locale, `${shots}-register`);

    await page.fill('#passkey-name', name);
    await page.click('#create-passkey');
    await page.locator('#panel-done').waitFor();
    expect(await h1(page)).to.equal(T('enroll.done.heading'));
    expect(await focusedId(page)).to.equal('done-heading');
    expect(await page.locator('#done-body').textContent()).to.equal(T('enroll.done.body', { name }));
    await checkPage(page, locale, `${shots}-done`);
    const created = await other.nextCeremony({ type: 'create' });
    expect(created.ok, created.error).to.equal(true);
    const own = await other.credentials();
    expect(own.map((c) => c.id), 'the new passkey is on the other device’s own authenticator').to.deep.equal([created.credentialId]);
    return created.credentialId!;
  }

  for (const locale of ['en', 'ja'] as const) {
    describe(`in ${locale === 'en' ? 'English' : 'Japanese'}`, () => {
      const T = translator(locale);
      let first: Device;
      let email = '';

      before(async () => {
        first = await newDevice(browser, { locale, viewport: VIEWPORT_DESKTOP, baseURL: t.url });
        email = await signUp(first, locale);
      });
      after(async () => {
        expect(first?.pageErrors ?? []).to.deep.equal([]);
        await first?.close();
      });

      it('adds a passkey by email: the link opens on a phone, which confirms it’s the member and creates its own passkey', async () => {
        await openOtherDevicePanel(first, T);
        await first.page.click('#add-by-email');
        await first.page.locator('#email-sent:visible').waitFor();
        expect(await first.page.locator('#email-sent').textContent()).to.contain(email);
        const mail = await t.smtp.waitFor({ to: email, subject: T('enroll.mail.request.subject') });
        const link = /(http:\/\/\S+\/enroll\/[A-Za-z0-9_-]{43})/.exec(mail.text)![1];

        const phone = await newDevice(browser, { locale, viewport: VIEWPORT_MOBILE, baseURL: t.url });
        try {
          const { page } = phone;
          await page.goto(link);
          expect(await h1(page)).to.equal(T('enroll.confirm.heading'));
          await checkPage(page, locale, 'enroll-confirm');
          // Looking at the page (and reloading it) does not use the link up.
          await page.reload();
          expect(await h1(page)).to.equal(T('enroll.confirm.heading'));
          await Promise.all([page.waitForURL(`${t.url}/enroll`), page.click('#register-button')]);
          const name = locale === 'ja' ? '私のスマートフォン' : 'My phone';
          const credentialId = await enrollOnOtherDevice(first, phone, locale, T, name, 'enroll-email');

          const account = await t.container.accounts.findByEmail(email);
          const stored = await t.container.passkeyRepository.listByAccount(account!.id);
          expect(stored.map((p) => p.name)).to.deep.equal(['My computer', name]);
          expect(stored[1].credentialId).to.equal(credentialId);
          await t.smtp.waitFor({ to: email, subject: new RegExp(locale === 'ja' ? 'パスキー' : 'passkey', 'i') });

          // The link was used: opening it again says so.
          await page.goto(link);
          expect(await h1(page)).to.equal(T('enroll.invalid.title'));
          await checkPage(page, locale, 'enroll-invalid');
          expect(phone.pageErrors).to.deep.equal([]);
        } finally {
          await phone.close();
        }
      });

      it('adds a passkey by QR code: the settings page follows the other device live and lists the new passkey without a reload', async () => {
        await openOtherDevicePanel(first, T);
        const { page } = first;
        await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.url().endsWith('/account/api/add-device/qr')),
          page.click('#add-by-qr'),
        ]);
        const qr = await response.json() as { id: string; url: string; qrSvg: string };
        await page.locator('#qr-box:visible').waitFor();
        // The image shows the very link: the same QR code the server draws for that URL.
        expect(qr.qrSvg).to.equal(await qrSvg(qr.url));
        expect(await page.locator('#qr-image').getAttribute('src')).to.equal(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(qr.qrSvg)}`);
        expect(await page.locator('#status').textContent()).to.equal(T('account.add.qr_waiting'));

        const tablet = await newDevice(browser, { locale, viewport: VIEWPORT_MOBILE, baseURL: t.url });
        try {
          await tablet.page.goto(qr.url);
          expect(await h1(tablet.page)).to.equal(T('enroll.confirm.heading'));
          await Promise.all([tablet.page.waitForURL(`${t.url}/enroll`), tablet.page.click('#register-button')]);
          await page.locator('#status', { hasText: T('account.add.qr_opened') }).waitFor();
          const name = locale === 'ja' ? 'タブレット' : 'Tablet';
          await enrollOnOtherDevice(first, tablet, locale, T, name, 'enroll-qr');
          await page.locator('#status', { hasText: T('account.add.qr_done') }).waitFor();
          await page.locator('#passkey-list', { hasText: name }).waitFor();
          expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).to.equal(true);
          expect(tablet.pageErrors).to.deep.equal([]);
        } finally {
          await tablet.close();
        }
      });
    });
  }
});
