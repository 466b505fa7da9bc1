/**
 * The member-facing pages in a real browser: Debian's Chromium with a virtual passkey
 * authenticator signs up, signs out and signs in again through the demo relying party, in
 * English and in Japanese, at phone and desktop size, with an accessibility and layout audit of
 * every page on the way. Skipped (with the reason printed) when Chromium is not installed.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { launchBrowser, newDevice, VIEWPORT_DESKTOP, VIEWPORT_MOBILE, type Device, skipWithoutChromium } from '../helpers/browser.ts';
import { codeFromMail, uniqueEmail } from '../helpers/oidc-flow.ts';
import { translator, type Locale } from '../../src/i18n/i18n.ts';
import { checkPage, focusIsVisible } from './page-checks.ts';

/** The demo client's name as Tobira shows it. */
const DEMO = 'Tobira Demo';

/** What a page of the demo shows after a sign-in: the ID token's claims and the userinfo answer. */
interface DemoSession { claims: Record<string, unknown>; userinfo: Record<string, unknown> }

async function demoSession(page: Page): Promise<DemoSession> {
  const claims = JSON.parse(await page.locator('#id-token-claims').textContent() ?? '{}');
  const userinfo = JSON.parse(await page.locator('#userinfo').textContent() ?? '{}');
  return { claims, userinfo };
}

async function h1(page: Page): Promise<string> {
  return (await page.locator('h1:visible').textContent() ?? '').trim();
}

async function focusedId(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

describe(`hosted pages in Chromium (${backendLabel()})`, function () {
  this.timeout(60_000);
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

  /** Waits for the demo page after a sign-in (Tobira redirected back and the demo exchanged the code). */
  async function backAtDemo(page: Page): Promise<DemoSession> {
    await page.waitForURL(`${t.url}/demo`);
    await page.locator('#id-token-claims').waitFor();
    return demoSession(page);
  }

  /** Demo → Sign in → Tobira's sign-in page. */
  /** Counts the page's requests for passkey options from now on (the page carries its first ones). */
  function countOptionsRequests(page: Page): { stop(): number } {
    let count = 0;
    const onRequest = (request: { url(): string }) => { if (request.url().endsWith('/passkey/options')) count++; };
    page.on('request', onRequest);
    return { stop() { page.off('request', onRequest); return count; } };
  }

  async function openSignIn(page: Page): Promise<void> {
    await page.goto('/demo');
    await Promise.all([page.waitForURL(/\/interaction\/[\w-]+/), page.click('#demo-signin')]);
  }

  /** Demo → Sign out → Tobira's logout page → Sign out → the demo, signed out. */
  async function signOut(page: Page, T: ReturnType<typeof translator>): Promise<void> {
    await page.goto('/demo');
    await Promise.all([page.waitForURL(/\/session\/end/), page.click('#demo-signout')]);
    expect(await h1(page)).to.equal(T('logout.heading'));
    await Promise.all([page.waitForURL(`${t.url}/demo`), page.click('button[name=logout]')]);
    await page.locator('#demo-signin').waitFor();
  }

  for (const [locale, viewport] of [['en', VIEWPORT_DESKTOP], ['ja', VIEWPORT_MOBILE]] as const) {
    describe(`a new member, in ${locale === 'en' ? 'English' : 'Japanese'} (${viewport.width}x${viewport.height})`, () => {
      const T = translator(locale as Locale);
      const email = uniqueEmail(`e2e-${locale}`);
      let device: Device;
      let memberNumber = '';
      let credentialId = '';

      before(async () => {
        device = await newDevice(browser, { locale, viewport, baseURL: t.url });
      });
      after(async () => {
        expect(device?.pageErrors ?? []).to.deep.equal([]);
        await device?.close();
      });

      it('signs up on a fresh device: email, code, member number, passkey, and is back at the demo with the claims', async () => {
        const { page } = device;
        await page.goto('/demo');
        expect(await h1(page)).to.equal(T('demo.title'));
        await checkPage(page, locale, 'demo-signed-out');

        device.skipCeremonies();
        await openSignIn(page);
        expect(await h1(page)).to.equal(T('signin.heading', { client: DEMO }));
        // Autofill started on load; the device has no passkey, so it ended at once, and quietly.
        const autofill = await device.nextCeremony({ type: 'get', mediation: 'conditional' });
        expect(autofill.ok).to.equal(false);
        expect(autofill.error).to.match(/^NotAllowedError/);
        expect(await page.locator('#error').textContent()).to.equal('');
        expect(await page.locator('#identifier').getAttribute('autocomplete')).to.equal('username webauthn');
        await checkPage(page, locale, 'signin');

        // An empty identifier: a role=alert error, the field marked invalid and focused.
        await page.click('#identifier-continue');
        expect(await page.locator('[role=alert]').textContent()).to.equal(T('signin.identifier_required'));
        expect(await page.locator('#identifier').getAttribute('aria-invalid')).to.equal('true');
        expect(await focusedId(page)).to.equal('identifier');

        await page.click('#show-signup');
        expect(await h1(page)).to.equal(T('signup.title'));
        expect(await focusedId(page), 'focus moves to the new panel heading').to.equal('signup-heading');
        expect(await page.locator('#error').textContent(), 'the old error is gone').to.equal('');
        await checkPage(page, locale, 'signup');

        await page.fill('#signup-email', email);
        await page.fill('#signup-name', locale === 'ja' ? '山田 花子' : 'Ada Lovelace');
        await page.click('#signup-start-form button[type=submit]');
        await page.locator('#signup-code').waitFor();
        expect(await focusedId(page)).to.equal('signup-code');
        expect(await page.locator('#signup-sent').textContent()).to.contain(email);
        expect(await page.locator('#signup-start-form').isHidden()).to.equal(true);
        await checkPage(page, locale, 'signup-code');

        await page.fill('#signup-code', await codeFromMail(t, email));
        await page.click('#signup-verify-form button[type=submit]');
        await page.locator('#panel-create').waitFor();
        expect(await h1(page)).to.equal(T('created.title'));
        expect(await focusedId(page)).to.equal('create-heading');
        memberNumber = (await page.locator('#member-number').textContent() ?? '').trim();
        expect(memberNumber).to.match(/^\d{10}$/);
        expect(await page.locator('#create-passkey').textContent()).to.contain(T('invite.create'));
        await checkPage(page, locale, 'signup-created');
        const welcome = await t.smtp.waitFor({ to: email, subject: new RegExp(memberNumber) });
        expect(welcome.text).to.contain(memberNumber);

        await page.fill('#passkey-name', 'E2E phone');
        await page.click('#create-passkey');
        const { claims, userinfo } = await backAtDemo(page);
        const created = await device.nextCeremony({ type: 'create' });
        expect(created.ok).to.equal(true);
        credentialId = created.credentialId!;
        const [credential, ...others] = await device.credentials();
        expect(others).to.have.length(0);
        expect(credential).to.include({ id: credentialId, isResidentCredential: true, rpId: 'localhost' });

        expect(claims).to.include({ acr: 'sfa', aud: 'tobira-demo', iss: t.url });
        expect(claims.amr).to.deep.equal(['otp']);
        expect(userinfo).to.include({ email, member_number: memberNumber });
        const account = await t.container.accounts.findByEmail(email);
        expect(account?.locale).to.equal(locale);
        const stored = await t.container.passkeyRepository.listByAccount(account!.id);
        expect(stored.map((p) => ({ credentialId: p.credentialId, name: p.name }))).to.deep.equal([{ credentialId, name: 'E2E phone' }]);
        await t.smtp.waitFor({ to: email, subject: locale === 'ja' ? /パスキーが追加/ : /passkey was added/ });
        expect(await page.locator('[role=status]').textContent()).to.contain(locale === 'ja' ? '山田 花子' : 'Ada Lovelace');
        await checkPage(page, locale, 'demo-signed-in');
      });

      it('signs out through the demo and Tobira’s logout confirmation', async () => {
        const { page } = device;
        await page.goto('/demo');
        await Promise.all([page.waitForURL(/\/session\/end/), page.click('#demo-signout')]);
        expect(await h1(page)).to.equal(T('logout.heading'));
        await checkPage(page, locale, 'logout');
        await Promise.all([page.waitForURL(`${t.url}/demo`), page.click('button[name=logout]')]);
        expect(await page.locator('#demo-signin').isVisible()).to.equal(true);
        expect(await page.locator('#id-token-claims').count()).to.equal(0);
      });

      it('signs in again with passkey autofill, which answers as the sign-in page loads', async () => {
        const { page } = device;
        device.skipCeremonies();
        const optionsRequests = countOptionsRequests(page);
        await openSignIn(page);
        const { claims, userinfo } = await backAtDemo(page);
        const autofill = await device.nextCeremony({ type: 'get', mediation: 'conditional' });
        expect(autofill).to.include({ ok: true, credentialId });
        expect(optionsRequests.stop(), 'autofill started with the options the page carries').to.equal(0);
        expect(autofill.url).to.match(/\/interaction\//);
        expect(device.ceremonies.filter((c) => c.mediation === 'optional' && c.type === 'get')).to.have.length(0);
        expect(claims).to.include({ acr: 'phr' });
        expect(claims.amr).to.deep.equal(['pop', 'mfa']);
        expect(userinfo.member_number).to.equal(memberNumber);
      });

      it('signs in with the “Sign in with a passkey” button', async () => {
        const { page } = device;
        await signOut(page, T);
        // Hold the page's autofill request (presence off), then press the button like a member would.
        // Chrome's virtual authenticator may still answer the autofill request if presence comes
        // back before it looked at the request: that sign-in is by autofill, not by the button, so
        // sign out and hold it again (at most three times).
        for (let attempt = 1; ; attempt++) {
          device.skipCeremonies();
          await device.setUserPresence(false);
          try {
            await openSignIn(page);
            await device.nextCeremonyStart({ type: 'get', mediation: 'conditional' });
          } finally {
            await device.setUserPresence(true);
          }
          const answered = await device.nextCeremony({ type: 'get', mediation: 'conditional' }, 500).then(() => true, () => false);
          if (!answered) break;
          expect(attempt, 'the autofill request could not be held').to.be.lessThan(3);
          await backAtDemo(page);
          await signOut(page, T);
        }
        await page.locator('#passkey-button').focus();
        expect(await focusIsVisible(page), 'the focused button shows a focus ring').to.equal(true);
        const optionsRequests = countOptionsRequests(page);
        await page.click('#passkey-button');
        const { claims, userinfo } = await backAtDemo(page);
        // The held autofill request never answered the page's challenge: the button used it.
        expect(optionsRequests.stop(), 'the button used the options the page carries').to.equal(0);
        expect(await device.nextCeremony({ type: 'get', mediation: 'optional' })).to.include({ ok: true, credentialId });
        const held = await device.nextCeremony({ type: 'get', mediation: 'conditional' });
        expect(held.error, 'the button replaced the held autofill request').to.match(/^AbortError/);
        expect(claims).to.include({ acr: 'phr' });
        expect(claims.amr).to.deep.equal(['pop', 'mfa']);
        expect(userinfo.member_number).to.equal(memberNumber);
      });

      it('asks a third-party application’s consent on a readable page', async () => {
        const { page } = device;
        const redirectUri = `${t.url}/e2e-partner-callback`; // Tobira answers it with a 404 page: the URL is all the test needs
        const client = await t.container.clients.create({
          client_name: 'Sky Lounge Partner App', redirect_uris: [redirectUri], first_party: false, token_endpoint_auth_method: 'none',
        });
        const config = await oidc.discovery(new URL(t.url), client.client_id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const url = oidc.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri, scope: 'openid profile email member', state,
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        });
        await page.goto(url.href);
        await page.waitForURL(/\/interaction\//);
        expect(await h1(page)).to.equal(T('consent.heading', { client: 'Sky Lounge Partner App' }));
        expect(await page.locator('main').textContent()).to.contain(memberNumber);
        const scopes = (await page.locator('.scopes li').allTextContents()).map((s) => s.trim());
        expect(scopes).to.deep.equal(['openid', 'profile', 'email', 'member'].map((s) => T(`consent.scope.${s}`)));
        await checkPage(page, locale, 'consent');
        await Promise.all([page.waitForURL(`${redirectUri}**`), page.click('button[value=allow]')]);
        const callback = new URL(page.url());
        expect(callback.searchParams.get('state')).to.equal(state);
        const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
        expect(tokens.scope?.split(' ').sort()).to.deep.equal(['email', 'member', 'openid', 'profile']);
      });
    });
  }

  describe('a member without a passkey (email code, then the passkey invitation)', () => {
    const T = translator('en');
    let device: Device;
    let memberNumber = '';
    let email = '';

    before(async () => {
      email = uniqueEmail('e2e-nopasskey');
      const account = await t.container.accounts.create({ email, name: 'Grace Hopper', locale: 'en', emailVerified: true });
      memberNumber = account.memberNumber;
      device = await newDevice(browser, { locale: 'en', viewport: VIEWPORT_MOBILE, baseURL: t.url });
    });
    after(async () => {
      expect(device?.pageErrors ?? []).to.deep.equal([]);
      await device?.close();
    });

    /** Sign-in page → "Email me a code" → code from the mail → the invitation panel. */
    async function emailCodeToInvitation(page: Page, identifier: string): Promise<void> {
      await openSignIn(page);
      await page.fill('#identifier', identifier);
      await page.click('#show-email-code');
      expect(await h1(page)).to.equal(T('email_code.title'));
      expect(await focusedId(page)).to.equal('email-heading');
      expect(await page.locator('#email-identifier').inputValue(), 'the identifier typed is carried over').to.equal(identifier);
      await checkPage(page, 'en', 'email-code');
      await page.click('#email-start-form button[type=submit]');
      await page.locator('#email-code').waitFor();
      expect(await focusedId(page)).to.equal('email-code');
      await checkPage(page, 'en', 'email-code-sent');
      await page.fill('#email-code', await codeFromMail(t, email, /sign-in code/));
      await page.click('#email-verify-form button[type=submit]');
      await page.locator('#panel-create').waitFor();
      expect(await h1(page)).to.equal(T('invite.title'));
      expect(await focusedId(page)).to.equal('create-heading');
      expect(await page.locator('#member-number-box').isHidden(), 'no new member number for an existing member').to.equal(true);
    }

    it('a wrong code is refused with an alert that says how many attempts are left', async () => {
      const { page } = device;
      await openSignIn(page);
      await page.click('#show-email-code');
      await page.fill('#email-identifier', memberNumber);
      await page.click('#email-start-form button[type=submit]');
      await page.locator('#email-code').waitFor();
      const code = await codeFromMail(t, email, /sign-in code/);
      await page.fill('#email-code', code === '000000' ? '111111' : '000000');
      await page.click('#email-verify-form button[type=submit]');
      await page.locator('#error:not(:empty)').waitFor();
      expect(await page.locator('[role=alert]').textContent()).to.equal(T('errors.code.invalid', { remaining: 4 }));
      await checkPage(page, 'en', 'email-code-wrong');
      // "Back" returns to the sign-in panel with its heading focused and the code form reset.
      await page.click('#panel-email [data-back]');
      expect(await focusedId(page)).to.equal('signin-heading');
      expect(await page.locator('#error').textContent()).to.equal('');
    });

    it('signs in with an email code and skips the passkey invitation', async () => {
      const { page } = device;
      await emailCodeToInvitation(page, memberNumber);
      await checkPage(page, 'en', 'invitation');
      await page.click('#skip-passkey');
      const { claims, userinfo } = await backAtDemo(page);
      expect(claims).to.include({ acr: 'sfa' });
      expect(claims.amr).to.deep.equal(['otp']);
      expect(userinfo).to.include({ email, member_number: memberNumber });
      expect(await device.credentials()).to.deep.equal([]);
      const account = await t.container.accounts.findByEmail(email);
      expect(await t.container.passkeyRepository.listByAccount(account!.id)).to.deep.equal([]);
    });

    it('signs in with an email code again and accepts the invitation: the passkey is created and stored', async () => {
      const { page } = device;
      await signOut(page, T);
      device.skipCeremonies();
      await emailCodeToInvitation(page, email.toUpperCase());
      await page.click('#create-passkey');
      const { claims } = await backAtDemo(page);
      expect(claims.amr).to.deep.equal(['otp']);
      const created = await device.nextCeremony({ type: 'create' });
      expect(created.ok).to.equal(true);
      const account = await t.container.accounts.findByEmail(email);
      const stored = await t.container.passkeyRepository.listByAccount(account!.id);
      expect(stored.map((p) => p.credentialId)).to.deep.equal([created.credentialId]);
      await t.smtp.waitFor({ to: email, subject: /passkey was added/ });

      // The next sign-in on this device uses it through autofill.
      await signOut(page, T);
      device.skipCeremonies();
      await openSignIn(page);
      const again = await backAtDemo(page);
      expect(again.claims.amr).to.deep.equal(['pop', 'mfa']);
      expect(await device.nextCeremony({ type: 'get', mediation: 'conditional' })).to.include({ ok: true, credentialId: created.credentialId });
    });
  });

  describe('language, keyboard and the pages around sign-in', () => {
    let device: Device;

    before(async () => {
      device = await newDevice(browser, { locale: 'ja', viewport: VIEWPORT_MOBILE, baseURL: t.url });
    });
    after(async () => {
      expect(device?.pageErrors ?? []).to.deep.equal([]);
      await device?.close();
    });

    it('follows the browser’s language, and the language switch changes it and is remembered', async () => {
      const { page } = device;
      const ja = translator('ja');
      const en = translator('en');
      await openSignIn(page);
      expect(await page.getAttribute('html', 'lang')).to.equal('ja');
      expect(await h1(page)).to.equal(ja('signin.heading', { client: DEMO }));
      expect(await h1(page)).to.contain('ログイン');
      const uid = new URL(page.url()).pathname;

      const nav = page.getByRole('navigation', { name: ja('lang.switch') });
      expect(await nav.locator('a[aria-current]').textContent()).to.equal('日本語');
      await Promise.all([page.waitForURL(/lang=en/), nav.getByRole('link', { name: 'English' }).click()]);
      expect(new URL(page.url()).pathname, 'the same sign-in continues').to.equal(uid);
      expect(await page.getAttribute('html', 'lang')).to.equal('en');
      expect(await h1(page)).to.equal(en('signin.heading', { client: DEMO }));
      expect(await page.getByRole('navigation', { name: en('lang.switch') }).locator('a[aria-current]').textContent()).to.equal('English');
      await checkPage(page, 'en', 'signin-switched');

      // Remembered: the next page is English although the browser asks for Japanese.
      await page.goto('/demo');
      expect(await page.getAttribute('html', 'lang')).to.equal('en');
      expect(await h1(page)).to.equal(en('demo.title'));
      await Promise.all([page.waitForURL(/lang=ja/), page.getByRole('link', { name: '日本語' }).click()]);
      expect(await h1(page)).to.equal(ja('demo.title'));
      await page.goto('/demo');
      expect(await page.getAttribute('html', 'lang')).to.equal('ja');
    });

    it('says so in an alert when the passkey prompt ends without a passkey, and lets the member try again', async () => {
      const { page } = device;
      const ja = translator('ja');
      await openSignIn(page);
      expect(await page.getAttribute('#status', 'role')).to.equal('status');
      device.skipCeremonies();
      await page.click('#passkey-button');
      const modal = await device.nextCeremony({ type: 'get', mediation: 'optional' });
      expect(modal.error).to.match(/^NotAllowedError/);
      await page.locator('#error:not(:empty)').waitFor();
      expect(await page.locator('[role=alert]').textContent()).to.equal(ja('signin.status_cancelled'));
      expect(await page.locator('#status').textContent()).to.equal('');
      expect(await page.locator('#passkey-button').isEnabled()).to.equal(true);
      expect(await page.locator('#panel-signin').getAttribute('aria-busy')).to.equal(null);
      await checkPage(page, 'ja', 'signin-cancelled');
    });

    it('lets a keyboard user skip to the content, with a visible focus ring', async () => {
      const { page } = device;
      await openSignIn(page);
      await page.locator('#identifier').waitFor();
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.className)).to.equal('skip-link');
      expect(await focusIsVisible(page)).to.equal(true);
      const box = await page.locator('.skip-link').boundingBox();
      expect(box && box.x >= 0 && box.y >= 0, 'the focused skip link is on screen').to.equal(true);
      await page.keyboard.press('Enter');
      expect(await focusedId(page)).to.equal('main');
      await page.keyboard.press('Tab');
      expect(await focusedId(page)).to.equal('identifier');
      expect(await focusIsVisible(page)).to.equal(true);
    });

    it('shows a localized error page for an unknown sign-in', async () => {
      const { page } = device;
      const ja = translator('ja');
      const res = await page.goto('/interaction/unknown');
      expect(res?.status()).to.be.within(400, 499);
      expect(await h1(page)).to.equal(ja('error.title'));
      expect(await page.locator('[role=alert]').textContent()).to.equal(ja('errors.interaction.not_found'));
      await checkPage(page, 'ja', 'error');
    });

    it('shows the signed-out page after signing out without a return address', async () => {
      const { page } = device;
      const ja = translator('ja');
      await page.goto('/session/end');
      if (await page.locator('button[name=logout]').count()) {
        await Promise.all([page.waitForURL(/\/session\/end\/success/), page.click('button[name=logout]')]);
      }
      await page.waitForURL(/\/session\/end\/success/);
      expect(await h1(page)).to.equal(ja('logout.done_title'));
      await checkPage(page, 'ja', 'logged-out');
      await Promise.all([page.waitForURL(/lang=en/), page.getByRole('link', { name: 'English' }).click()]);
      expect(await h1(page)).to.equal(translator('en')('logout.done_title'));
      await checkPage(page, 'en', 'logged-out');
    });
  });
});
