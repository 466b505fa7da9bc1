/**
 * Smoke test of the real-browser setup (test/helpers/browser.ts): headless Chromium with a
 * virtual passkey authenticator registers a passkey and signs in with a button (modal request)
 * and through autofill (conditional request), against a tiny page verified server-side with
 * @simplewebauthn/server. Skipped when Chromium is not installed.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  RegistrationResponseJSON,
  WebAuthnCredential,
} from '@simplewebauthn/server';
import type { Browser } from 'playwright-core';
import {
  VIEWPORT_DESKTOP, VIEWPORT_MOBILE, launchBrowser, newDevice, pickAutofillPasskey, skipWithoutChromium,
} from '../helpers/browser.ts';
import type { Device } from '../helpers/browser.ts';

const RP_ID = 'localhost';
const BUNDLE_URL = new URL(
  '../../node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js',
  import.meta.url,
);

/** The test page: a username field for autofill, a register button and a sign-in button. */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Browser smoke</title><script src="/swa.js"></script></head>
<body>
<form id="form" onsubmit="return false">
  <label>Email <input id="username" name="username" autocomplete="username webauthn"></label>
</form>
<button id="register">Create passkey</button>
<button id="signin">Sign in with a passkey</button>
<ul id="log"></ul>
<script>
const { startRegistration, startAuthentication } = SimpleWebAuthnBrowser;
function show(kind, data) {
  const li = document.createElement('li');
  li.dataset.kind = kind;
  li.textContent = JSON.stringify(data);
  document.getElementById('log').append(li);
}
async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
  return res.json();
}
document.getElementById('register').addEventListener('click', async () => {
  try {
    const optionsJSON = await post('/register/options');
    show('register', await post('/register/verify', await startRegistration({ optionsJSON })));
  } catch (e) { show('register-error', e.name + ': ' + e.message); }
});
async function signIn(kind, useBrowserAutofill) {
  try {
    const optionsJSON = await post('/login/options');
    show(kind, await post('/login/verify', await startAuthentication({ optionsJSON, useBrowserAutofill })));
  } catch (e) { show(kind + '-error', e.name + ': ' + e.message); }
}
document.getElementById('signin').addEventListener('click', () => signIn('modal', false));
if (!new URLSearchParams(location.search).has('noautofill')) signIn('autofill', true);
</script>
</body></html>`;

/** Verification result the test server returns to the page. */
interface VerifyResult {
  verified: boolean;
  credentialId?: string;
  userName?: string;
  counter?: number;
  error?: string;
}

/** A tiny WebAuthn relying party holding one user's passkeys in memory. */
interface TestRp {
  origin: string;
  credentials: Map<string, WebAuthnCredential>;
  close(): Promise<void>;
}

/** Starts the relying-party server on 127.0.0.1:0; pages must be opened at http://localhost:PORT. */
async function startTestRp(): Promise<TestRp> {
  const bundle = await readFile(BUNDLE_URL);
  const credentials = new Map<string, WebAuthnCredential>();
  const challenges = new Set<string>();
  const userName = 'alice@example.test';
  let origin = '';
  const expectedChallenge = (challenge: string): boolean => challenges.delete(challenge);

  const routes: Record<string, (body: unknown) => Promise<unknown>> = {
    '/register/options': async () => {
      const options = await generateRegistrationOptions({
        rpName: 'Tobira smoke',
        rpID: RP_ID,
        userName,
        attestationType: 'none',
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      });
      challenges.add(options.challenge);
      return options;
    },
    '/register/verify': async (body) => {
      const { verified, registrationInfo } = await verifyRegistrationResponse({
        response: body as RegistrationResponseJSON,
        expectedChallenge,
        expectedOrigin: origin,
        expectedRPID: RP_ID,
        requireUserVerification: true,
      });
      if (!verified) return { verified } satisfies VerifyResult;
      credentials.set(registrationInfo.credential.id, registrationInfo.credential);
      return { verified, credentialId: registrationInfo.credential.id, userName } satisfies VerifyResult;
    },
    '/login/options': async () => {
      const options = await generateAuthenticationOptions({ rpID: RP_ID, allowCredentials: [], userVerification: 'required' });
      challenges.add(options.challenge);
      return options;
    },
    '/login/verify': async (body) => {
      const response = body as AuthenticationResponseJSON;
      const credential = credentials.get(response.id);
      if (!credential) return { verified: false, error: 'unknown credential' } satisfies VerifyResult;
      const { verified, authenticationInfo } = await verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: origin,
        expectedRPID: RP_ID,
        credential,
        requireUserVerification: true,
      });
      if (verified) credential.counter = authenticationInfo.newCounter;
      return { verified, credentialId: credential.id, userName, counter: credential.counter } satisfies VerifyResult;
    },
  };

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/swa.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      return;
    }
    const route = routes[path];
    if (req.method === 'POST' && route) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        route(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'))
          .catch((err: unknown) => ({ verified: false, error: String(err) }))
          .then((result) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result)));
      });
      return;
    }
    res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(path === '/' ? PAGE : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    credentials,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Reads the JSON payload of the page's first log entry of `kind` (waiting for it). */
async function logEntry(device: Device, kind: string): Promise<unknown> {
  const text = await device.page.locator(`#log li[data-kind="${kind}"], #log li[data-kind="${kind}-error"]`).first().textContent();
  return JSON.parse(text ?? 'null') as unknown;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(1, 4).toString('latin1')).to.equal('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('browser smoke (Chromium + virtual authenticator)', function () {
  let browser: Browser;
  let rp: TestRp;
  let device: Device;
  let registeredId = '';

  before(async function () {
    skipWithoutChromium(this);
    rp = await startTestRp();
    browser = await launchBrowser();
    device = await newDevice(browser, { baseURL: rp.origin });
  });

  after(async () => {
    await device?.close();
    await browser?.close();
    await rp?.close();
  });

  it('offers conditional mediation', async () => {
    await device.page.goto('/?noautofill');
    expect(await device.page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable())).to.equal(true);
  });

  it('registers a discoverable passkey with navigator.credentials.create', async () => {
    await device.page.goto('/?noautofill');
    await device.page.click('#register');
    const result = (await logEntry(device, 'register')) as VerifyResult;
    expect(result).to.include({ verified: true, userName: 'alice@example.test' });
    registeredId = result.credentialId ?? '';
    const [credential, ...others] = await device.credentials();
    expect(others).to.have.length(0);
    expect(credential).to.include({ id: registeredId, rpId: RP_ID, isResidentCredential: true, userName: 'alice@example.test' });
    expect(await device.nextCeremony({ type: 'create' })).to.include({ ok: true, credentialId: registeredId });
  });

  it('signs in with the button (modal request, empty allowCredentials)', async () => {
    // Hold the page's conditional request: it reaches the authenticator while presence is off
    // and stays pending; the button's modal request then aborts it, as in a real browser.
    await device.setUserPresence(false);
    await device.page.goto('/');
    await device.page.locator('#username').waitFor();
    await device.setUserPresence(true);
    await device.page.click('#signin');
    expect(await logEntry(device, 'modal')).to.deep.include({ verified: true, credentialId: registeredId });
    expect(await device.nextCeremony({ type: 'get', mediation: 'optional' })).to.include({ ok: true, credentialId: registeredId });
    const held = await device.nextCeremony({ type: 'get', mediation: 'conditional' });
    expect(held.ok).to.equal(false);
    expect(held.error).to.match(/^AbortError/);
    expect(await logEntry(device, 'autofill')).to.match(/^AbortError/);
  });

  it('signs in through passkey autofill (conditional request)', async () => {
    await device.page.goto('/');
    const ceremony = await pickAutofillPasskey(device, '#username');
    expect(ceremony).to.include({ ok: true, credentialId: registeredId, mediation: 'conditional' });
    expect(await logEntry(device, 'autofill')).to.deep.include({ verified: true, credentialId: registeredId });
    expect(rp.credentials.get(registeredId)?.counter).to.be.greaterThan(0);
    expect(device.pageErrors).to.deep.equal([]);
  });

  it('rejects autofill at once with NotAllowedError on a device without a passkey', async () => {
    const other = await newDevice(browser, { baseURL: rp.origin, locale: 'ja' });
    try {
      expect(await other.credentials()).to.deep.equal([]);
      await other.page.goto('/');
      let error: unknown;
      await pickAutofillPasskey(other, '#username').catch((err: unknown) => {
        error = err;
      });
      expect(String(error)).to.match(/NotAllowedError/);
      expect(await other.page.evaluate(() => navigator.language)).to.equal('ja');
    } finally {
      await other.close();
    }
  });

  for (const viewport of [VIEWPORT_MOBILE, VIEWPORT_DESKTOP]) {
    it(`takes a ${viewport.width}x${viewport.height} screenshot`, async () => {
      await device.page.setViewportSize(viewport);
      await device.page.goto('/?noautofill');
      const path = join(tmpdir(), `tobira-smoke-${process.pid}-${viewport.width}x${viewport.height}.png`);
      const png = await device.page.screenshot({ path });
      expect(pngSize(png)).to.deep.equal(viewport);
      expect(pngSize(await readFile(path))).to.deep.equal(viewport);
    });
  }
});
