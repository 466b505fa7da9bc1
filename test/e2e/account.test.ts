/**
 * The account settings in a real browser: Debian's Chromium with a virtual passkey authenticator.
 * A member opens Passkeys, is sent through Tobira's sign-in (email code) and back, confirms it's
 * them (step-up), adds a passkey on this device, renames it and removes it, in English (a
 * legacy member whose password is retired by the first passkey) and in Japanese, at phone and
 * desktop size, with the accessibility and layout audit of every page on the way. The Security
 * page's authenticator-app set-up runs once. Skipped when Chromium is not installed.
 */
import { expect } from 'chai';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { launchBrowser, newDevice, VIEWPORT_DESKTOP, VIEWPORT_MOBILE, type Device, skipWithoutChromium } from '../helpers/browser.ts';
import { codeFromMail } from '../helpers/oidc-flow.ts';
import { createMember, type TestMember } from '../helpers/account-session.ts';
import { translator, type Locale } from '../../src/i18n/i18n.ts';
import { checkPage } from './page-checks.ts';

async function h1(page: Page): Promise<string> {
  return (await page.locator('h1:visible').textContent() ?? '').trim();
}

async function focusedId(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

describe(`account settings in Chromium (${backendLabel()})`, function () {
  this.timeout(90_000);
  let t: TestTobira;
  let browser: Browser;

  before(async function () {
    skipWithoutChromium(this);
    t = await startTobira();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await t?.close();
  });

  for (const [locale, viewport, legacy] of [['en', VIEWPORT_DESKTOP, true], ['ja', VIEWPORT_MOBILE, false]] as const) {
    describe(`in ${locale === 'en' ? 'English' : 'Japanese'} (${viewport.width}x${viewport.height}, ${legacy ? 'legacy member with a password' : 'member without a passkey'})`, () => {
      const T = translator(locale as Locale);
      let device: Device;
      let member: TestMember;
      let credentialId = '';

      before(async () => {
        member = await createMember(t, { locale, password: legacy, passkeys: 0 });
        device = await newDevice(browser, { locale, viewport, baseURL: t.url });
      });
      after(async () => {
        expect(device?.pageErrors ?? []).to.deep.equal([]);
        await device?.close();
      });

      /** The step-up panel with a code sent by email: the masked address is shown, the code confirms. */
      async function stepUpWithEmailCode(page: Page): Promise<void> {
        await page.locator('#panel-step-up').waitFor();
        expect(await h1(page)).to.equal(T('account.step_up.title'));
        await page.locator('#step-up-code').waitFor();
        expect(await focusedId(page)).to.equal('step-up-code');
        expect(await page.locator('#step-up-lead').textContent()).to.contain(`${member.email[0]}•••@example.com`);
        await checkPage(page, locale, 'account-step-up-email');
        const code = await codeFromMail(t, member.email, locale === 'ja' ? /確認コード/ : /verification code/);
        // A wrong code first: an alert, the field marked invalid.
        await page.fill('#step-up-code', code === '000000' ? '111111' : '000000');
        await page.click('#step-up-code-form button[type=submit]');
        await page.locator('#error:not(:empty)').waitFor();
        expect(await page.locator('#error').textContent()).to.equal(T('errors.code.invalid', { remaining: 4 }));
        expect(await page.locator('#step-up-code').getAttribute('aria-invalid')).to.equal('true');
        await page.fill('#step-up-code', code);
        await page.click('#step-up-code-form button[type=submit]');
      }

      it('sends a member who is not signed in through Tobira’s sign-in and back to Passkeys', async () => {
        const { page } = device;
        await page.goto('/account/passkeys');
        await page.waitForURL(/\/interaction\//);
        expect(await h1(page)).to.equal(T('signin.heading', { client: 'Tobira account settings' }));
        await page.click('#show-email-code');
        await page.fill('#email-identifier', member.account.memberNumber);
        await page.click('#email-start-form button[type=submit]');
        await page.locator('#email-code').waitFor();
        await page.fill('#email-code', await codeFromMail(t, member.email, locale === 'ja' ? /ログイン用コード/ : /sign-in code/));
        await page.click('#email-verify-form button[type=submit]');
        await page.locator('#panel-create').waitFor();
        await page.click('#skip-passkey');
        await page.waitForURL(`${t.url}/account/passkeys`);
        expect(await h1(page)).to.equal(T('account.passkeys.title'));
        expect(await page.locator('.account-nav a[aria-current=page]').textContent()).to.equal(T('account.nav.passkeys'));
        expect(await page.locator('.account-member').textContent()).to.contain(member.account.memberNumber);
        expect(await page.locator('#passkeys-empty').isVisible()).to.equal(true);
        expect(await page.locator('#password-notice').count()).to.equal(legacy ? 1 : 0);
        await checkPage(page, locale, 'account-passkeys-empty');
      });

      it('adds a passkey on this device after the step-up (email code); the page warned about the password first', async () => {
        const { page } = device;
        await page.click('#add-passkey');
        expect(await h1(page)).to.equal(T('account.add.title'));
        expect(await focusedId(page)).to.equal('add-heading');
        await checkPage(page, locale, 'account-add');
        await page.click('#choose-here');
        await stepUpWithEmailCode(page);

        await page.locator('#panel-here').waitFor();
        expect(await h1(page)).to.equal(T('account.add.here'));
        expect(await focusedId(page)).to.equal('here-heading');
        if (legacy) expect(await page.locator('#password-warning').textContent()).to.equal(T('account.add.password_warning'));
        else expect(await page.locator('#password-warning').count()).to.equal(0);
        await checkPage(page, locale, 'account-register-here');

        device.skipCeremonies();
        const name = locale === 'ja' ? '仕事用ノート PC' : 'Work laptop';
        await page.fill('#passkey-name', name);
        await page.click('#create-passkey');
        const created = await device.nextCeremony({ type: 'create' });
        expect(created.ok, created.error).to.equal(true);
        credentialId = created.credentialId!;
        await page.locator('#panel-list').waitFor();
        expect(await page.locator('#status').textContent()).to.equal(T(legacy ? 'account.add.status_success_password' : 'account.add.status_success', { name }));
        expect(await focusedId(page)).to.equal('list-heading');
        expect(await page.locator('#passkey-list .passkey-name').allTextContents()).to.deep.equal([name]);
        expect(await page.locator('#password-notice').count()).to.equal(0);
        const stored = await t.container.passkeyRepository.listByAccount(member.account.id);
        expect(stored.map((k) => ({ credentialId: k.credentialId, name: k.name }))).to.deep.equal([{ credentialId, name }]);
        const [row] = await t.container.ds.query('SELECT password_enabled FROM accounts WHERE id = $1', [member.account.id]);
        expect(row.password_enabled).to.equal(false);
        await t.smtp.waitFor({ to: member.email, subject: T('account.mail.passkey_registered.subject') });
        await checkPage(page, locale, 'account-passkeys-one');

        // After a reload, the list comes from the server with the same content.
        await page.reload();
        expect(await page.locator('#passkey-list .passkey-name').allTextContents()).to.deep.equal([name]);
        expect(await page.locator('#passkey-list .badge').textContent()).to.equal(T('account.passkeys.device_bound'));
      });

      it('renames it after a step-up with the passkey itself', async () => {
        const { page } = device;
        const name = locale === 'ja' ? '自宅の PC' : 'Home laptop';
        await page.click('#passkey-list [data-action=rename]');
        expect(await h1(page)).to.equal(T('account.rename.title'));
        await checkPage(page, locale, 'account-rename');
        await page.fill('#rename-name', name);
        device.skipCeremonies();
        await page.click('#rename-form button[type=submit]');
        // The password is off now: the step-up asks for the passkey, and the browser answers it.
        const get = await device.nextCeremony({ type: 'get' });
        expect(get).to.include({ ok: true, credentialId });
        await page.locator('#panel-list').waitFor();
        expect(await page.locator('#status').textContent()).to.equal(T('account.rename.status_success', { name }));
        expect(await page.locator('#passkey-list .passkey-name').allTextContents()).to.deep.equal([name]);
        expect(await page.locator('#passkey-list [data-action=remove]').getAttribute('aria-label')).to.equal(T('account.passkeys.remove_named', { name }));
        await t.smtp.waitFor({ to: member.email, subject: T('account.mail.passkey_renamed.subject') });
      });

      it('offers “Register on another device”: a link by email, or a QR code the page follows', async () => {
        const { page } = device;
        await page.click('#add-passkey');
        await page.click('#choose-other');
        // The passkey step-up of the rename still holds: no panel, straight to the choices.
        await page.locator('#panel-other').waitFor();
        expect(await h1(page)).to.equal(T('account.add.other'));
        await page.click('#add-by-email');
        await page.locator('#email-sent').waitFor();
        expect(await page.locator('#email-sent').textContent()).to.equal(T('account.add.email_sent', { to: member.email }));
        await t.smtp.waitFor({ to: member.email, subject: T('enroll.mail.request.subject') });
        await page.click('#add-by-qr');
        await page.locator('#qr-box').waitFor();
        expect(await page.locator('#qr-image').getAttribute('src')).to.match(/^data:image\/svg\+xml/);
        await page.locator('#qr-image').evaluate((img: HTMLImageElement) => img.decode());
        expect(await page.locator('#status').textContent()).to.equal(T('account.add.qr_waiting'));
        await checkPage(page, locale, 'account-add-other');
        await page.click('#panel-other [data-back]');
        expect(await h1(page)).to.equal(T('account.passkeys.title'));
      });

      if (legacy) {
        it('sets up an authenticator app on the Security page (QR code, then a code from the app)', async () => {
          const { page } = device;
          await page.click(`.account-nav a[href="/account/security"]`);
          await page.waitForURL(`${t.url}/account/security`);
          expect(await h1(page)).to.equal(T('account.security.title'));
          expect(await page.locator('#password-state').textContent()).to.equal(T('account.security.password_off'));
          await checkPage(page, locale, 'account-security');
          await page.click('#totp-setup');
          // The step-up of the rename still holds: straight to the QR code.
          await page.locator('#panel-totp').waitFor();
          expect(await focusedId(page)).to.equal('totp-heading');
          expect(await page.locator('#totp-qr').getAttribute('src')).to.match(/^data:image\/svg\+xml;base64,/);
          const secret = (await page.locator('#totp-secret').textContent() ?? '').replace(/\s+/g, '');
          await page.locator('#totp-qr').evaluate((img: HTMLImageElement) => img.decode());
          await checkPage(page, locale, 'account-totp');
          await page.fill('#totp-code', await generate({ secret }));
          await page.click('#totp-form button[type=submit]');
          await page.locator('#panel-overview').waitFor();
          expect(await page.locator('#status').textContent()).to.equal(T('account.security.totp_enabled'));
          expect(await page.locator('#totp-state').textContent()).to.equal(T('account.security.totp_on'));
          expect(await t.container.totp.isEnabled(member.account.id)).to.equal(true);
          await page.click(`.account-nav a[href="/account/passkeys"]`);
          await page.waitForURL(`${t.url}/account/passkeys`);
        });
      }

      it('removes it: the page says it is the last one and how to get back in; the browser is told it is gone', async () => {
        const { page } = device;
        await page.click('#passkey-list [data-action=remove]');
        expect(await h1(page)).to.equal(T('account.remove.title'));
        expect(await page.locator('#remove-last').textContent()).to.equal(T('account.remove.last', { email: member.email }));
        await checkPage(page, locale, 'account-remove');
        await page.click('#confirm-remove');
        await page.locator('#panel-list').waitFor();
        await page.locator('#passkeys-empty').waitFor();
        expect(await page.locator('#passkey-list li').count()).to.equal(0);
        expect(await page.locator('#status').textContent()).to.contain(locale === 'ja' ? '削除しました' : 'was removed');
        expect(await t.container.passkeyRepository.listByAccount(member.account.id)).to.deep.equal([]);
        await t.smtp.waitFor({ to: member.email, subject: T('account.mail.passkey_removed.subject') });
        // WebAuthn Signal API (Chromium 132 and later): the authenticator forgets the removed passkey.
        const hasSignal = await page.evaluate(() => typeof (PublicKeyCredential as unknown as { signalUnknownCredential?: unknown }).signalUnknownCredential === 'function');
        expect(hasSignal, 'this Chromium has the WebAuthn Signal API').to.equal(true);
        const deadline = Date.now() + 5000;
        let left = await device.credentials();
        while (left.length > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          left = await device.credentials();
        }
        expect(left.map((c) => c.id), 'the browser dropped the removed passkey').to.deep.equal([]);
        await checkPage(page, locale, 'account-passkeys-removed');
      });
    });
  }
});
