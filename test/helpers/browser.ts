/**
 * Real-browser helpers for end-to-end tests: Debian's Chromium driven by playwright-core, with a
 * CDP virtual WebAuthn authenticator per "device" (browser context).
 *
 * How WebAuthn behaves here (Chromium 156, verified by experiment):
 *
 * - With the virtual authenticator environment enabled (`WebAuthn.enable`, UI disabled), Chromium
 *   sends every request straight to the virtual authenticator, including
 *   `mediation: 'conditional'` ones. A conditional `get()` (passkey autofill) therefore resolves
 *   on its own, within milliseconds of the page calling it, when the device holds a discoverable
 *   credential for the RP. It rejects at once with `NotAllowedError` when the device holds none.
 *   It does not wait for the user, so there is no autofill dropdown to pick from.
 *   `isConditionalMediationAvailable()` returns true.
 * - The real autofill dropdown only appears with `WebAuthn.enable({ enableUI: true })`. Even then,
 *   CDP key and mouse events (Playwright's `keyboard`/`mouse`) never reach it, so it cannot
 *   be driven from a test.
 * - With several discoverable credentials for the RP, the first one registered is used.
 * - Presence can be switched off ({@link Device.setUserPresence}). A request started while it is
 *   off stays pending for good; switching it back on does not release that request. Use this to
 *   stop the sign-in page's conditional request from signing in, so that the button (modal)
 *   path can be tested: the modal request aborts the pending conditional one.
 *
 * @packageDocumentation
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';

/** Where Debian's `chromium` package installs the browser (a shell wrapper around /usr/lib/chromium). */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Extra command-line flags for Chromium. `headless` is set through Playwright's own option,
 * which adds `--headless` (new headless; Chromium ≥ 132 has no other) plus `--hide-scrollbars` and
 * `--mute-audio`. Playwright also adds `--no-sandbox` unless `chromiumSandbox` is set.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** iPhone-sized viewport (CSS pixels). */
export const VIEWPORT_MOBILE = { width: 375, height: 812 } as const;

/** Laptop-sized viewport (CSS pixels); the default for {@link newDevice}. */
export const VIEWPORT_DESKTOP = { width: 1280, height: 800 } as const;

/** Default Playwright timeout for actions and waits on a device's pages. */
const DEFAULT_ACTION_TIMEOUT_MS = 10_000;

/** Name of the page binding through which the in-page recorder reports WebAuthn ceremonies. */
const RECORDER_BINDING = '__tobiraTestWebAuthnRecord';

/** A credential held by a virtual authenticator, as CDP's `WebAuthn.getCredentials` reports it. */
export interface VirtualCredential {
  /** Credential ID, standard base64 (CDP encoding). */
  credentialId: string;
  /** Credential ID, base64url without padding, as in `PublicKeyCredential.id` and the server's records. */
  id: string;
  /** Whether the credential is discoverable (resident). */
  isResidentCredential: boolean;
  /** Relying Party ID the credential is scoped to. */
  rpId?: string;
  /** ECDSA P-256 private key, PKCS#8, standard base64. */
  privateKey: string;
  /** User handle, standard base64. */
  userHandle?: string;
  /** Signature counter. */
  signCount: number;
  /** `user.name` given at registration. */
  userName?: string;
  /** `user.displayName` given at registration. */
  userDisplayName?: string;
}

/** One settled `navigator.credentials.create()` or `.get()` call made by a page of a device. */
export interface CeremonyRecord {
  /** Which call was made. */
  type: 'create' | 'get';
  /** The call's `mediation` (`'optional'` when absent; `'conditional'` for passkey autofill). */
  mediation: string;
  /** True when the promise resolved with a credential. */
  ok: boolean;
  /** `PublicKeyCredential.id` (base64url) of the result, when `ok`. */
  credentialId?: string;
  /** `"Name: message"` of the rejection, when not `ok`. */
  error?: string;
  /** URL of the document that made the call. */
  url: string;
}

/** One `navigator.credentials.create()` or `.get()` call a page of a device made (settled or not). */
export interface CeremonyStart {
  /** Which call was made. */
  type: 'create' | 'get';
  /** The call's `mediation` (`'optional'` when absent; `'conditional'` for passkey autofill). */
  mediation: string;
  /** URL of the document that made the call. */
  url: string;
}

/** Selects ceremony records in {@link Device.nextCeremony}. */
export interface CeremonyFilter {
  /** Only this call type. */
  type?: 'create' | 'get';
  /** Only this mediation (`'optional'` for a button-triggered request, `'conditional'` for autofill). */
  mediation?: string;
}

/** Options for {@link newDevice}. */
export interface DeviceOptions {
  /** Browser UI language; sets `Accept-Language` and `navigator.language`. Default `'en'`. */
  locale?: 'en' | 'ja';
  /** Viewport in CSS pixels. Default {@link VIEWPORT_DESKTOP}. */
  viewport?: { width: number; height: number };
  /** Base URL for relative `page.goto()` paths. */
  baseURL?: string;
}

/**
 * A simulated user device: its own browser context (cookies, storage), one page, and a virtual
 * platform passkey authenticator attached to that page.
 */
export interface Device {
  /** The device's browser context. */
  context: BrowserContext;
  /** The page (tab) with the virtual authenticator. Pages opened later (popups) have none. */
  page: Page;
  /** CDP session of `page`. */
  cdp: CDPSession;
  /** ID of the virtual authenticator. */
  authenticatorId: string;
  /** Every settled WebAuthn call made by the device's pages, oldest first. */
  ceremonies: CeremonyRecord[];
  /** Uncaught exceptions thrown in the device's pages (`pageerror`), as `"Name: message"`. */
  pageErrors: string[];
  /** Credentials currently held by the virtual authenticator. */
  credentials(): Promise<VirtualCredential[]>;
  /**
   * Resolves with the oldest settled ceremony that matches `filter` and was not yet returned by
   * this method (or {@link pickAutofillPasskey}); waits up to `timeoutMs` (default 5000) for one.
   */
  nextCeremony(filter?: CeremonyFilter, timeoutMs?: number): Promise<CeremonyRecord>;
  /**
   * Resolves with the oldest WebAuthn call matching `filter` that a page has made (settled or
   * still pending) and that was not yet returned by this method; waits up to `timeoutMs`
   * (default 5000). Use it to know that a page's request has been made, e.g. before switching
   * user presence back on while a conditional request is held.
   */
  nextCeremonyStart(filter?: CeremonyFilter, timeoutMs?: number): Promise<CeremonyStart>;
  /**
   * Forgets every call recorded so far for {@link nextCeremony} and {@link nextCeremonyStart}
   * (they stay in {@link ceremonies}), so that later waits only see what happens next.
   */
  skipCeremonies(): void;
  /**
   * Turns simulated user presence on (default) or off. While off, requests that reach the
   * authenticator stay pending for good, even after it is turned back on.
   */
  setUserPresence(enabled: boolean): Promise<void>;
  /** Closes the context and with it the page and authenticator. */
  close(): Promise<void>;
}

/**
 * Path of the Chromium executable: `CHROMIUM_PATH` from the environment, else {@link DEFAULT_CHROMIUM_PATH}.
 *
 * @returns The path (not checked).
 */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
}

/**
 * Whether a Chromium executable is present at {@link chromiumPath}.
 *
 * @returns True when the file exists and is executable.
 */
export function chromiumAvailable(): boolean {
  try {
    accessSync(chromiumPath(), fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Launches headless Chromium.
 *
 * @param options - `headless: false` for a visible window (needs an X display, e.g. `xvfb-run`);
 *   `args` are appended to {@link CHROMIUM_ARGS}.
 * @returns The browser; close it with `browser.close()`.
 */
export async function launchBrowser(options: { headless?: boolean; args?: string[] } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: options.headless ?? true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

/**
 * Opens a new simulated device: a fresh browser context with one page, a CDP session with the
 * WebAuthn domain enabled, and a virtual CTAP2 platform authenticator that stores discoverable
 * credentials and always passes user verification and presence.
 *
 * @param browser - Browser from {@link launchBrowser}.
 * @param options - Locale, viewport and base URL.
 * @returns The device; close it with `device.close()`.
 */
export async function newDevice(browser: Browser, options: DeviceOptions = {}): Promise<Device> {
  const context = await browser.newContext({
    locale: options.locale ?? 'en',
    viewport: options.viewport ?? { ...VIEWPORT_DESKTOP },
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
  });
  try {
    context.setDefaultTimeout(DEFAULT_ACTION_TIMEOUT_MS);
    const recorder = new CeremonyRecorder<CeremonyRecord>(toCeremonyRecord);
    const starts = new CeremonyRecorder<CeremonyStart>(toCeremonyStart);
    await context.exposeBinding(RECORDER_BINDING, (_source, record: unknown) => {
      if ((record as { phase?: unknown } | null)?.phase === 'start') starts.add(record);
      else recorder.add(record);
    });
    await context.addInitScript(installWebAuthnRecorder, RECORDER_BINDING);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(`${err.name}: ${err.message}`));
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return {
      context,
      page,
      cdp,
      authenticatorId,
      ceremonies: recorder.records,
      pageErrors,
      credentials: async () => {
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        return credentials.map((c) => ({ ...c, id: base64ToBase64url(c.credentialId) }));
      },
      nextCeremony: (filter = {}, timeoutMs = 5000) => recorder.next(filter, timeoutMs),
      nextCeremonyStart: (filter = {}, timeoutMs = 5000) => starts.next(filter, timeoutMs),
      skipCeremonies: () => {
        recorder.skipAll();
        starts.skipAll();
      },
      setUserPresence: async (enabled) => {
        await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
      },
      close: () => context.close(),
    };
  } catch (err) {
    await context.close();
    throw err;
  }
}

/**
 * Signs in through passkey autofill (conditional mediation) on the device's current page.
 *
 * The virtual authenticator answers a conditional request by itself as soon as the page makes it
 * (see the module notes), so there is nothing to pick; this helper does what a user would (focus
 * the username field) and returns the outcome of the page's conditional `get()`. It also works
 * when the request was already answered and the page has moved on.
 *
 * @param device - Device whose page shows the sign-in form.
 * @param inputSelector - Selector of the `<input autocomplete="username webauthn">`.
 * @param options - `timeoutMs` (default 5000) for the field and the request.
 * @returns The resolved conditional ceremony (its `credentialId` is the passkey used).
 * @throws If the field lacks the `webauthn` autocomplete token, if no conditional request
 *   settles in time, or if it rejected (e.g. `NotAllowedError`: no passkey for this RP on the device).
 */
export async function pickAutofillPasskey(
  device: Device,
  inputSelector: string,
  options: { timeoutMs?: number } = {},
): Promise<CeremonyRecord> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let settled = false;
  const pending = device.nextCeremony({ type: 'get', mediation: 'conditional' }, timeoutMs);
  pending.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  try {
    await focusAutofillField(device.page, inputSelector, timeoutMs);
  } catch (err) {
    // The request may have been answered before the call and the page may have navigated away.
    await Promise.race([pending.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 50))]);
    if (!settled) throw err;
  }
  const record = await pending;
  if (!record.ok) {
    throw new Error(`passkey autofill: conditional request on ${record.url} rejected: ${record.error ?? 'unknown'}`);
  }
  return record;
}

/** Waits for the autofill field, checks its autocomplete tokens, and clicks it. */
async function focusAutofillField(page: Page, selector: string, timeoutMs: number): Promise<void> {
  const field = page.locator(selector);
  await field.waitFor({ state: 'visible', timeout: timeoutMs });
  const autocomplete = (await field.getAttribute('autocomplete', { timeout: timeoutMs })) ?? '';
  const tokens = autocomplete.trim().toLowerCase().split(/\s+/);
  if (tokens.at(-1) !== 'webauthn') {
    throw new Error(`passkey autofill: ${selector} has autocomplete="${autocomplete}"; the last token must be "webauthn"`);
  }
  await field.click({ timeout: timeoutMs });
}

/** Keeps ceremony records and hands each one out once. */
class CeremonyRecorder<R extends CeremonyStart & { ok?: boolean; error?: string }> {
  /** All records, oldest first. */
  readonly records: R[] = [];
  /** Indexes of records already handed out. */
  private readonly taken = new Set<number>();
  /** Callbacks to run when a record arrives. */
  private readonly listeners = new Set<() => void>();

  /** Validates a record reported by a page (undefined when malformed). */
  private readonly parse: (raw: unknown) => R | undefined;

  /** @param parse - Validates a record reported by a page (undefined when malformed). */
  constructor(parse: (raw: unknown) => R | undefined) {
    this.parse = parse;
  }

  /** Marks every record received so far as handed out. */
  skipAll(): void {
    this.records.forEach((_record, index) => this.taken.add(index));
  }

  /** Stores a record reported by a page (ignored unless well formed). */
  add(raw: unknown): void {
    const record = this.parse(raw);
    if (!record) return;
    this.records.push(record);
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves with the oldest untaken record matching `filter`, waiting up to `timeoutMs`. */
  next(filter: CeremonyFilter, timeoutMs: number): Promise<R> {
    return new Promise((resolve, reject) => {
      const tryTake = (): boolean => {
        const index = this.records.findIndex(
          (r, i) =>
            !this.taken.has(i) &&
            (filter.type === undefined || r.type === filter.type) &&
            (filter.mediation === undefined || r.mediation === filter.mediation),
        );
        if (index < 0) return false;
        this.taken.add(index);
        resolve(this.records[index]);
        return true;
      };
      if (tryTake()) return;
      const listener = (): void => {
        if (!tryTake()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        const seen = this.records.map((r) => `${r.type}/${r.mediation}/${r.ok === undefined ? 'started' : r.ok ? 'ok' : r.error}`).join(', ') || 'none';
        reject(
          new Error(
            `webauthn: no ${filter.type ?? 'create/get'} ceremony` +
              `${filter.mediation ? ` with mediation ${filter.mediation}` : ''} settled within ${timeoutMs} ms; seen: ${seen}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }
}

/** Validates a record sent by the in-page recorder. */
function toCeremonyRecord(raw: unknown): CeremonyRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if ((r.type !== 'create' && r.type !== 'get') || typeof r.ok !== 'boolean') return undefined;
  return {
    type: r.type,
    mediation: typeof r.mediation === 'string' ? r.mediation : 'optional',
    ok: r.ok,
    ...(typeof r.credentialId === 'string' ? { credentialId: r.credentialId } : {}),
    ...(typeof r.error === 'string' ? { error: r.error } : {}),
    url: typeof r.url === 'string' ? r.url : '',
  };
}

/** Validates a call-started record sent by the in-page recorder. */
function toCeremonyStart(raw: unknown): CeremonyStart | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.type !== 'create' && r.type !== 'get') return undefined;
  return { type: r.type, mediation: typeof r.mediation === 'string' ? r.mediation : 'optional', url: typeof r.url === 'string' ? r.url : '' };
}

/**
 * Init script (runs in every frame before page scripts): wraps `navigator.credentials.create/get`
 * so that each call is reported through the `bindingName` page binding when it is made (`phase: "start"`)
 * and again when it settles. The page still
 * receives the original promise.
 */
function installWebAuthnRecorder(bindingName: string): void {
  type CredentialCall = (options?: { mediation?: string }) => Promise<{ id?: string } | null>;
  const container = globalThis.navigator?.credentials as unknown as Record<'create' | 'get', CredentialCall> | undefined;
  if (!container) return;
  const report = (record: Record<string, unknown>): void => {
    const binding = (globalThis as unknown as Record<string, unknown>)[bindingName];
    if (typeof binding === 'function') void (binding as (r: unknown) => Promise<unknown>)(record);
  };
  for (const type of ['create', 'get'] as const) {
    const original = container[type].bind(container);
    container[type] = (options) => {
      const mediation = options?.mediation ?? 'optional';
      const url = location.href;
      const promise = original(options);
      report({ phase: 'start', type, mediation, url });
      promise.then(
        (credential) => report({ type, mediation, ok: credential !== null, credentialId: credential?.id, url }),
        (err: unknown) => {
          const e = err as { name?: unknown; message?: unknown } | null;
          report({ type, mediation, ok: false, error: `${String(e?.name)}: ${String(e?.message)}`, url });
        },
      );
      return promise;
    };
  }
}

/** Converts standard base64 to unpadded base64url. */
function base64ToBase64url(value: string): string {
  return Buffer.from(value, 'base64').toString('base64url');
}

/**
 * For a browser suite's `before`: skips the suite, saying why, when Chromium is not installed
 * (a fresh machine without `apt-get install chromium`). CI installs it, so there nothing skips.
 */
export function skipWithoutChromium(ctx: Mocha.Context): void {
  if (chromiumAvailable()) return;
  console.log(`browser tests skipped: no Chromium executable at ${chromiumPath()} (apt-get install chromium, or set CHROMIUM_PATH)`);
  ctx.skip();
}
