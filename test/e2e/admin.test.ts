/**
 * The admin console in a real browser: an admin signs in with a passkey (Chromium's virtual
 * authenticator), creates a client in the console, and the new client signs a member in with
 * openid-client at once; every console page passes the accessibility and layout audit at phone
 * and desktop size, in English and Japanese (screenshots with TOBIRA_SCREENSHOTS=dir).
 * Skipped (with the reason printed) when Chromium is not installed.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { startTobira, backendLabel, type TestTobira } from '../helpers/tobira.ts';
import { launchBrowser, newDevice, type Device, skipWithoutChromium } from '../helpers/browser.ts';
import { codeFromMail, uniqueEmail } from '../helpers/oidc-flow.ts';
import { translator } from '../../src/i18n/i18n.ts';
import { checkPage, focusIsVisible } from './page-checks.ts';

const T = translator('en');

async function h1(page: Page): Promise<string> {
  return (await page.locator('h1:visible').textContent() ?? '').trim();
}

async function focusedId(page: Page): Promise<string> {
  return page.evaluate(() => document.activeElement?.id ?? '');
}

describe(`admin console in Chromium (${backendLabel()})`, function () {
  this.timeout(90_000);
  let t: TestTobira;
  let browser: Browser;
  let device: Device;
  let memberNumber = '';
  let clientId = '';
  let sub = '';

  before(async function () {
    skipWithoutChromium(this);
    t = await startTobira({ DEMO: 'true' });
    browser = await launchBrowser();
    device = await newDevice(browser, { locale: 'en', baseURL: t.url });
  });

  after(async () => {
    expect(device?.pageErrors ?? []).to.deep.equal([]);
    await device?.close();
    await browser?.close();
    await t?.close();
  });

  it('signs up a member with a passkey on this device (through the demo) who is then made an admin', async () => {
    const { page } = device;
    const email = uniqueEmail('e2e-admin');
    await page.goto('/demo');
    await Promise.all([page.waitForURL(/\/interaction\/[\w-]+/), page.click('#demo-signin')]);
    await page.click('#show-signup');
    await page.fill('#signup-email', email);
    await page.click('#signup-start-form button[type=submit]');
    await page.locator('#signup-code').waitFor();
    await page.fill('#signup-code', await codeFromMail(t, email));
    await page.click('#signup-verify-form button[type=submit]');
    await page.locator('#panel-create').waitFor();
    memberNumber = (await page.locator('#member-number').textContent() ?? '').trim();
    await page.click('#create-passkey');
    await page.waitForURL(`${t.url}/demo`);
    const account = (await t.container.accounts.findByIdentifier(memberNumber))!;
    sub = account.id;
    await t.container.accounts.addRole(account.id, 'admin');
  });

  it('opens the console: the passkey sign-in page (passkey required), then the dashboard', async () => {
    const { page } = device;
    device.skipCeremonies();
    await page.goto('/admin');
    // The Tobira session came from an email code (acr sfa): the console asks for a passkey.
    await page.waitForURL(`${t.url}/admin`);
    const autofill = await device.nextCeremony({ type: 'get' });
    expect(autofill.ok).to.equal(true);
    expect(autofill.url).to.match(/\/interaction\//);
    expect(await h1(page)).to.equal(T('admin.dashboard.title'));
    expect(await page.locator('#tile-signins').textContent()).to.match(/^\d+$/);
    await checkPage(page, 'en', 'admin-dashboard');
    await page.goto('/admin?period=30d');
    await checkPage(page, 'en', 'admin-dashboard-30d');
  });

  it('shows a clear, focused error for a refused redirect URI and creates nothing', async () => {
    const { page } = device;
    await page.goto('/admin/clients/new');
    await checkPage(page, 'en', 'admin-client-new');
    await page.fill('#client_name', 'Wildcard App');
    await page.fill('#redirect_uris', 'https://*.example.com/cb');
    await page.click('#client-submit');
    await page.locator('#admin-error p').waitFor();
    expect(await page.locator('#admin-error').textContent()).to.contain('Redirect URIs (1): https://*.example.com/cb: wildcards are not allowed');
    expect(await focusedId(page)).to.equal('admin-error');
    expect(await t.container.clients.list('Wildcard App')).to.deep.equal([]);
  });

  it('creates a client in the console; the secret is shown once; the client signs a member in with openid-client right away', async () => {
    const { page } = device;
    const redirectUri = `${t.url}/e2e-admin-callback`; // Tobira answers it with a 404 page: the URL is all the test needs
    await page.goto('/admin/clients');
    await Promise.all([page.waitForURL(/\/admin\/clients\/new$/), page.click('#new-client')]);
    await page.fill('#client_name', 'Lounge Booking');
    await page.fill('#redirect_uris', redirectUri);
    await page.check('#first_party');
    await page.keyboard.press('Tab');
    await page.click('#client-submit');
    await page.locator('#secret-panel').waitFor();
    expect(await focusedId(page), 'focus moves to the secret').to.equal('secret-heading');
    const secret = (await page.locator('#secret-value').textContent() ?? '').trim();
    clientId = decodeURIComponent((await page.locator('#secret-open').getAttribute('href'))!.split('/').pop()!);
    expect(secret).to.have.length.greaterThan(30);
    expect(await page.locator('#client-form').isHidden()).to.equal(true);
    await checkPage(page, 'en', 'admin-client-created');

    const config = await oidc.discovery(new URL(t.url), clientId, undefined, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid member', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims()!;
    expect(claims).to.include({ aud: clientId, sub, acr: 'phr' });
    expect((await oidc.fetchUserInfo(config, tokens.access_token, sub)).member_number).to.equal(memberNumber);
  });

  it('shows the client, the member and the audit log, keyboard usable, at phone and desktop size', async () => {
    const { page } = device;
    await page.goto(`/admin/clients/${encodeURIComponent(clientId)}`);
    expect(await h1(page)).to.equal('Lounge Booking');
    expect(await page.locator('#redirect_uris').inputValue()).to.equal(`${t.url}/e2e-admin-callback`);
    await checkPage(page, 'en', 'admin-client');
    await page.goto('/admin/clients');
    await checkPage(page, 'en', 'admin-clients');

    await page.goto('/admin/members');
    await page.locator('#member-search').focus();
    await page.keyboard.type(memberNumber);
    await Promise.all([page.waitForURL(/\/admin\/members\?q=/), page.keyboard.press('Enter')]);
    await checkPage(page, 'en', 'admin-members');
    await page.locator(`#members-table a[href="/admin/members/${sub}"]`).focus();
    expect(await focusIsVisible(page), 'a focused link shows a focus ring').to.equal(true);
    await Promise.all([page.waitForURL(`${t.url}/admin/members/${sub}`), page.keyboard.press('Enter')]);
    expect(await page.locator('#member-number').textContent()).to.equal(memberNumber);
    expect(await page.locator('#passkeys-table tbody tr').count()).to.equal(1);
    await checkPage(page, 'en', 'admin-member');

    await page.goto(`/admin/audit?member=${memberNumber}`);
    expect(await page.locator('table.events tbody tr').count()).to.be.at.least(3);
    await checkPage(page, 'en', 'admin-audit');
  });

  it('sends a recovery email from the member page (confirmation, then a status message)', async () => {
    const { page } = device;
    await page.goto(`/admin/members/${sub}`);
    page.once('dialog', (dialog) => { void dialog.accept(); });
    await page.click('#member-recovery');
    await page.locator('#admin-status', { hasText: T('admin.member.recovery_sent') }).waitFor();
    const account = (await t.container.accounts.findById(sub))!;
    await t.smtp.waitFor({ to: account.email, subject: /Get back into your Tobira account/ });
  });

  it('reads in Japanese on every console page', async () => {
    const { page } = device;
    const J = translator('ja');
    await page.goto('/admin?lang=ja');
    expect(await h1(page)).to.equal(J('admin.dashboard.title'));
    await checkPage(page, 'ja', 'admin-dashboard');
    for (const [path, name] of [['/admin/clients', 'admin-clients'], ['/admin/clients/new', 'admin-client-new'], [`/admin/clients/${encodeURIComponent(clientId)}`, 'admin-client'],
      [`/admin/members?q=${memberNumber}`, 'admin-members'], [`/admin/members/${sub}`, 'admin-member'], ['/admin/audit', 'admin-audit']] as const) {
      await page.goto(path);
      await checkPage(page, 'ja', name);
    }
    await page.goto('/admin?lang=en');
  });
});
