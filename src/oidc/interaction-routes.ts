import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction, InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import { AppError, assertThat } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import type { Renderer } from '../http/render.ts';
import type { SignInPage } from './signin-page.ts';
import type { KeyValueStore } from '../store/store.ts';
import { normalizeEmail, type AccountService } from '../accounts/account-service.ts';
import { parseMemberNumber } from '../accounts/member-number.ts';
import type { PasskeyService } from '../passkeys/passkey-service.ts';
import { authenticationResponseSchema, registrationResponseSchema } from '../passkeys/schemas.ts';
import type { EmailCodeSignIn } from '../signin/email-code-signin.ts';
import type { PasswordSignIn, SecondFactor } from '../signin/password-signin.ts';
import { passkeyRegisteredMail } from '../passkeys/registered-mail.ts';
import type { Signup } from '../enrollment/signup.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { translator, type Locale } from '../i18n/i18n.ts';
import { authorizationLocale } from '../http/locale.ts';
import { requiredAcr, satisfies, signInMethods, type SignInMethod } from './acr.ts';
import { clientPresentation, isFirstParty } from './provider.ts';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/** Everything the interaction routes use. */
export interface InteractionDeps {
  provider: Provider;
  /** Finishes the authorization once the interaction's result is set; answers where the browser goes next (resume-in-place.ts). */
  finish: (ctx: Context, interaction: Interaction) => Promise<string>;
  store: KeyValueStore;
  accounts: AccountService;
  passkeys: PasskeyService;
  emailCode: EmailCodeSignIn;
  password: PasswordSignIn;
  signup: Signup;
  mailer: Mailer;
  audit: AuditLog;
  renderer: Renderer;
  /** The sign-in page (signin-page.ts), which the authorization request may also answer with. */
  signInPage: SignInPage;
  limits: {
    codeSendPerIp: RateLimiterAbstract; codeSendPerTarget: RateLimiterAbstract; ceremonyPerIp: RateLimiterAbstract;
    passwordPerIp: RateLimiterAbstract; passwordPerIdentifier: RateLimiterAbstract;
  };
  interactionTtlSeconds: number;
  codeMinutes: number;
}

/** A sign-in proven by email (code or sign-up) or password, waiting for the member to create a passkey or skip. */
interface PendingLogin { accountId: string; method: SignInMethod }

const identifierSchema = z.string().trim().min(1).max(254);
const codeSchema = z.string().trim().regex(/^\d{6}$/, 'must be 6 digits');
const emailSchema = z.email().max(254);

const bodies = {
  passkeyOptions: z.object({ identifier: identifierSchema.optional() }).strict(),
  emailStart: z.object({ identifier: identifierSchema }).strict(),
  password: z.object({ identifier: identifierSchema, password: z.string().min(1).max(256) }).strict(),
  code: z.object({ code: codeSchema }).strict(),
  signupStart: z.object({ email: emailSchema, name: z.string().trim().max(200).optional() }).strict(),
  registerVerify: z.object({ response: registrationResponseSchema, name: z.string().trim().max(100).optional() }).strict(),
  empty: z.object({}).strict(),
};

/**
 * The key a code-sending rate limit counts under: the identifier in its canonical form, so
 * "1234 5678-90" and "1234567890" (or any letter case of an email) share one budget. (Not the
 * account it resolves to: a shared budget would tell which member number goes with which email.)
 */
function limitTarget(identifier: string): string {
  return parseMemberNumber(identifier) ?? normalizeEmail(identifier);
}

function body(ctx: Context): unknown {
  if (ctx.method === 'POST' && !ctx.is('application/json')) throw new AppError('request.unsupported_media_type');
  return ctx.request.body ?? {};
}

/** Routes of the hosted sign-in: the pages and the JSON API they (and native apps) call. */
export function interactionRoutes(deps: InteractionDeps): Router {
  const { provider, store, accounts, passkeys, emailCode, password, signup, mailer, audit, renderer, limits } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const pendingKey = (uid: string) => `pending:${uid}`;

  /** Loads the interaction this request belongs to (cookie-bound), checking it is in `prompt`. */
  async function interaction(ctx: Context, prompt?: 'login' | 'consent') {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    assertThat(details.uid === ctx.params.uid, 'interaction.not_found');
    // The RP's ui_locales applies to every answer of this interaction (pages, errors, mails).
    ctx.state.locale = authorizationLocale(ctx.req, details.params);
    if (prompt) assertThat(details.prompt.name === prompt, 'interaction.wrong_step');
    return details;
  }

  const requestMeta = (ctx: Context) => ({ ip: ctx.ip, userAgent: ctx.get('user-agent') });

  /** The audit event of a successful sign-in by `method` in this interaction (without the account). */
  const successEvent = (ctx: Context, details: Awaited<ReturnType<typeof interaction>>, method: SignInMethod) => ({
    type: 'signin.success' as const, clientId: String(details.params.client_id), ...requestMeta(ctx),
    data: { method, acr: signInMethods[method].acr },
  });

  /**
   * Saves the sign-in as the interaction's result and answers where to go next. `audited`: the
   * success event was already written with the sign-in itself (passkeys, with the counter).
   */
  async function finishLogin(ctx: Context, details: Awaited<ReturnType<typeof interaction>>, accountId: string, method: SignInMethod, audited = false) {
    const { acr, amr } = signInMethods[method];
    assertThat(satisfies(acr, requiredAcr(details.params.acr_values)), 'acr.not_satisfied');
    // `ts`: when the member proved who they are (the ID token's auth_time), now.
    const result: InteractionResults = { login: { accountId, acr, amr: [...amr], remember: true, ts: Math.floor(Date.now() / 1000) } };
    // On the interaction already loaded (one read fewer), the resume runs in this request: the
    // answer is where it redirects, usually the RP with the code (one request fewer).
    details.result = result;
    const redirectTo = await deps.finish(ctx, details);
    await Promise.all([
      // Only email-proven sign-ins leave a pending mark (a leftover one expires with the interaction).
      method === 'passkey' ? undefined : store.del(pendingKey(details.uid)),
      audited ? undefined : audit.record({ ...successEvent(ctx, details, method), accountId }),
    ]);
    ctx.body = { redirectTo };
  }

  async function pending(uid: string): Promise<PendingLogin> {
    const raw = await store.get(pendingKey(uid));
    if (!raw) throw new AppError('interaction.wrong_step');
    return JSON.parse(raw);
  }

  router.get('/', async (ctx) => {
    const details = await interaction(ctx);
    const registered = await provider.Client.find(String(details.params.client_id));
    const client = registered?.clientName ?? String(details.params.client_id);
    if (details.prompt.name === 'consent') {
      if (isFirstParty(registered)) {
        await grantConsent(ctx, details);
        ctx.redirect((ctx.body as { redirectTo: string }).redirectTo);
        return;
      }
      const account = await accounts.findById(String(details.session?.accountId));
      const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
      renderer.page(ctx, 'consent', {
        title: translator(ctx.state.locale)('consent.title'), uid: details.uid, client, scopes,
        member: account?.memberNumber ?? '', clientInfo: clientPresentation(registered),
      });
      return;
    }
    await deps.signInPage(ctx, details, client);
  });

  router.post('/passkey/options', async (ctx) => {
    const { identifier } = bodies.passkeyOptions.parse(body(ctx));
    // Both at once (one round trip to Redis with auto-pipelining); the limit counts either way.
    const [details] = await Promise.all([interaction(ctx, 'login'), consumeOrThrow(limits.ceremonyPerIp, ctx.ip)]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await passkeys.authenticationOptions(details.uid, identifier);
  });

  router.post('/passkey/verify', async (ctx) => {
    const response = authenticationResponseSchema.parse(body(ctx));
    // The interaction and the challenge are read together (one round trip to Redis with
    // auto-pipelining); nothing is verified or written unless the interaction is good.
    const [loaded, taken] = await Promise.allSettled([interaction(ctx, 'login'), passkeys.takeAuthenticationChallenge(ctx.params.uid!, response)]);
    if (loaded.status === 'rejected') throw loaded.reason;
    const details = loaded.value;
    try {
      if (taken.status === 'rejected') throw taken.reason;
      // A passkey meets every acr, so the success can be recorded with the passkey's use (one statement).
      const { account } = await passkeys.verifyAuthentication(details.uid, response, { taken: taken.value, success: successEvent(ctx, details, 'passkey') });
      await finishLogin(ctx, details, account.id, 'passkey', true);
    } catch (error) {
      if (error instanceof AppError && error.code !== 'acr.not_satisfied') {
        await audit.record({ type: 'signin.failure', clientId: String(details.params.client_id), ...requestMeta(ctx), data: { method: 'passkey', code: error.code } });
      }
      // The page asks the browser to forget a passkey Tobira no longer has (WebAuthn Signal API).
      if (error instanceof AppError && error.code === 'passkey.unknown_credential') {
        throw new AppError(error.code, { ...error.params, details: { credentialId: response.id } }, error);
      }
      throw error;
    }
  });

  router.post('/email/start', async (ctx) => {
    const { identifier } = bodies.emailStart.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    assertThat(requiredAcr(details.params.acr_values) !== 'phr', 'acr.not_satisfied');
    await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    await consumeOrThrow(limits.codeSendPerTarget, limitTarget(identifier));
    await emailCode.start(details.uid, identifier, ctx.state.locale);
    ctx.body = { sent: true, expiresInMinutes: deps.codeMinutes };
  });

  router.post('/email/verify', async (ctx) => {
    const { code } = bodies.code.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    try {
      const account = await emailCode.verify(details.uid, code);
      await store.set(pendingKey(details.uid), JSON.stringify({ accountId: account.id, method: 'email_code' } satisfies PendingLogin), deps.interactionTtlSeconds);
      ctx.body = { next: 'create_passkey' };
    } catch (error) {
      await audit.record({ type: 'signin.failure', clientId: String(details.params.client_id), ...requestMeta(ctx), data: { method: 'email_code', code: (error as AppError).code } });
      throw error;
    }
  });

  /** Records a password sign-in and answers with the passkey invitation (creating one turns the password off). */
  async function passwordProven(ctx: Context, details: Awaited<ReturnType<typeof interaction>>, accountId: string, method: 'password' | 'password_otp') {
    await store.set(pendingKey(details.uid), JSON.stringify({ accountId, method } satisfies PendingLogin), deps.interactionTtlSeconds);
    const skippable = satisfies(signInMethods[method].acr, requiredAcr(details.params.acr_values));
    ctx.body = { next: 'create_passkey', passwordRetires: true, skippable };
  }

  /** Runs a password step; a refusal (other than a rate limit) goes to the audit log. */
  async function auditedPasswordStep(ctx: Context, details: Awaited<ReturnType<typeof interaction>>, step: 'password' | SecondFactor, fn: () => Promise<void>) {
    try {
      await fn();
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'internal';
      if (code !== 'rate_limited' && code !== 'service.unavailable' && code !== 'internal') {
        const accountId = (error as AppError).params.accountId;
        await audit.record({
          type: 'signin.failure', accountId: typeof accountId === 'string' ? accountId : null, clientId: String(details.params.client_id),
          ...requestMeta(ctx), data: { method: 'password', step, code },
        });
      }
      throw error;
    }
  }

  router.post('/password/verify', async (ctx) => {
    const input = bodies.password.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    assertThat(requiredAcr(details.params.acr_values) !== 'phr', 'acr.not_satisfied');
    await consumeOrThrow(limits.passwordPerIp, ctx.ip);
    await consumeOrThrow(limits.passwordPerIdentifier, limitTarget(input.identifier));
    await auditedPasswordStep(ctx, details, 'password', async () => {
      const { account, factor } = await password.verify(input.identifier, input.password);
      if (!factor) { await passwordProven(ctx, details, account.id, 'password'); return; }
      await password.begin(details.uid, account, factor);
      if (factor === 'totp') { ctx.body = { next: 'totp' }; return; }
      ctx.body = { next: 'sms', ...(await sendPasswordSms(ctx, details.uid, account.phone!)), expiresInMinutes: deps.codeMinutes };
    });
  });

  /** Sends the SMS code of a password sign-in, under the same rate limits as email codes. */
  async function sendPasswordSms(ctx: Context, uid: string, phone: string) {
    await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    await consumeOrThrow(limits.codeSendPerTarget, phone);
    return password.sendSms(uid, ctx.state.locale);
  }

  router.post('/password/sms/resend', async (ctx) => {
    bodies.empty.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    const pendingFactor = await password.pending(details.uid);
    assertThat(pendingFactor?.factor === 'sms' && pendingFactor.phone, 'interaction.wrong_step');
    ctx.body = { next: 'sms', ...(await sendPasswordSms(ctx, details.uid, pendingFactor.phone)), expiresInMinutes: deps.codeMinutes };
  });

  router.post('/password/second-factor', async (ctx) => {
    const { code } = bodies.code.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    const pendingFactor = await password.pending(details.uid);
    assertThat(pendingFactor, 'interaction.wrong_step');
    await auditedPasswordStep(ctx, details, pendingFactor.factor, async () => {
      const account = await password.verifySecondFactor(details.uid, code);
      await passwordProven(ctx, details, account.id, 'password_otp');
    });
  });

  router.post('/signup/start', async (ctx) => {
    const input = bodies.signupStart.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    await consumeOrThrow(limits.codeSendPerTarget, limitTarget(input.email));
    await signup.start(details.uid, input, ctx.state.locale);
    ctx.body = { sent: true, expiresInMinutes: deps.codeMinutes };
  });

  router.post('/signup/verify', async (ctx) => {
    const { code } = bodies.code.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    const { account, created } = await signup.verify(details.uid, code, { ...requestMeta(ctx), clientId: String(details.params.client_id) });
    await store.set(pendingKey(details.uid), JSON.stringify({ accountId: account.id, method: 'email_code' } satisfies PendingLogin), deps.interactionTtlSeconds);
    ctx.body = { next: 'create_passkey', created, memberNumber: created ? account.memberNumber : undefined };
  });

  router.post('/register/options', async (ctx) => {
    bodies.empty.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    const { accountId } = await pending(details.uid);
    const account = await accounts.findById(accountId);
    assertThat(account && !account.disabledAt, 'account.disabled');
    await consumeOrThrow(limits.ceremonyPerIp, ctx.ip);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await passkeys.registrationOptions(details.uid, account);
  });

  router.post('/register/verify', async (ctx) => {
    const { response, name } = bodies.registerVerify.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    const login = await pending(details.uid);
    const account = await accounts.findById(login.accountId);
    assertThat(account && !account.disabledAt, 'account.disabled');
    const meta = { ...requestMeta(ctx), clientId: String(details.params.client_id) };
    const passkey = await passkeys.verifyRegistration(details.uid, account, response, name, meta);
    await audit.record({ type: 'passkey.registered', accountId: account.id, ...meta, data: { passkeyId: passkey.id, aaguid: passkey.aaguid } });
    mailer.send(passkeyRegisteredMail(account, passkey, ctx.state.locale as Locale))
      .catch((err) => ctx.state.log.error({ err }, 'passkey-registered mail failed'));
    if (!satisfies(signInMethods[login.method].acr, requiredAcr(details.params.acr_values))) {
      // The RP wants a passkey sign-in: the page now signs in with the passkey just created.
      ctx.body = { next: 'passkey_signin', passkey: { id: passkey.id, name: passkey.name } };
      return;
    }
    await finishLogin(ctx, details, account.id, login.method);
  });

  router.post('/continue', async (ctx) => {
    bodies.empty.parse(body(ctx));
    const details = await interaction(ctx, 'login');
    const login = await pending(details.uid);
    await finishLogin(ctx, details, login.accountId, login.method);
  });

  async function grantConsent(ctx: Context, details: Awaited<ReturnType<typeof interaction>>) {
    const accountId = String(details.session!.accountId);
    const clientId = String(details.params.client_id);
    const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId, clientId });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await audit.record({ type: 'consent.granted', accountId, clientId, ...requestMeta(ctx), data: { scopes: missing.missingOIDCScope ?? [] } });
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    ctx.body = { redirectTo };
  }

  router.post('/consent', async (ctx) => {
    const details = await interaction(ctx, 'consent');
    const decision = (ctx.request.body as Record<string, unknown> | undefined)?.decision;
    if (decision === 'allow') {
      await grantConsent(ctx, details);
    } else {
      await audit.record({ type: 'consent.denied', accountId: String(details.session?.accountId), clientId: String(details.params.client_id), ...requestMeta(ctx) });
      ctx.body = { redirectTo: await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'End-User denied consent' }) };
    }
    if (!ctx.is('application/json')) ctx.redirect((ctx.body as { redirectTo: string }).redirectTo);
  });

  router.get('/abort', async (ctx) => {
    await interaction(ctx);
    const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'End-User aborted interaction' });
    ctx.redirect(redirectTo);
  });

  return router;
}
