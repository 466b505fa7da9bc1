import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { KeyValueStore } from '../store/store.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { CodeStore } from '../verification/code-store.ts';
import type { Mailer } from '../mail/mailer.ts';
import { maskPhone, type SmsSender } from '../sms/sms-sender.ts';
import type { PasskeyService, RegisteredPasskey } from '../passkeys/passkey-service.ts';
import type { RegistrationResponse } from '../passkeys/schemas.ts';
import type { RequestMeta } from '../passkeys/password-retirement.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../http/errors.ts';
import { translator, type Locale } from '../i18n/i18n.ts';
import { mailDate, mailLocaleOf as mailLocale } from '../passkeys/registered-mail.ts';

/**
 * Where a recovery stands: `email` (waiting for the emailed code), `sms` (the email was proven;
 * waiting for the texted code), `register` (proven: the only thing left is a new passkey).
 */
export type RecoveryStage = 'email' | 'sms' | 'register';

/** A recovery in progress, bound to one browser by a cookie holding its id. */
export interface RecoveryFlow {
  id: string;
  stage: RecoveryStage;
  /** Known only once the emailed code was right (until then nothing says whether the account exists). */
  accountId: string | null;
  /** The sign-in (oidc-provider interaction) to go back to afterwards, if the member came from one. */
  interaction: string | null;
  /** The masked phone number the SMS code went to. */
  smsTo?: string;
  /** Milliseconds since the epoch; steps do not extend it. */
  expiresAt: number;
}

/** How long a recovery lasts from its start (the codes inside it last `ttl.codeSeconds`). */
export const recoveryFlowSeconds = 900;

/** The next step, as the recovery page and API answer it. */
export interface RecoveryStep { next: RecoveryStage; sentTo?: string }

/**
 * "Lost your passkey?": a code to the verified email (and then one by SMS when a verified phone
 * is on file) opens a recovery that can do exactly one thing: register a new passkey for that
 * account. The member is emailed as soon as the recovery is open. Starting answers the same
 * whether or not an account matches.
 */
export interface RecoveryService {
  /** Starts (or restarts) a flow and emails a code when `identifier` names an active account with a verified email. */
  start(flowId: string | null, identifier: string, interaction: string | null, locale: Locale, meta: RequestMeta): Promise<RecoveryFlow>;
  /** The flow of this id; throws recovery.session_expired when it is gone. */
  flow(flowId: string): Promise<RecoveryFlow>;
  verifyEmail(flowId: string, code: string, locale: Locale, meta: RequestMeta): Promise<RecoveryStep>;
  /** Sends a new SMS code (the previous one stops working). */
  resendSms(flowId: string, locale: Locale): Promise<RecoveryStep>;
  verifySms(flowId: string, code: string, locale: Locale, meta: RequestMeta): Promise<RecoveryStep>;
  registrationOptions(flowId: string): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Registers the new passkey and ends the recovery. */
  register(flowId: string, response: RegistrationResponse, name: string | undefined, locale: Locale, meta: RequestMeta): Promise<{ account: Account; passkey: RegisteredPasskey; interaction: string | null }>;
}

/** Dependencies of the recovery service. */
export interface RecoveryDeps {
  store: KeyValueStore;
  accounts: AccountService;
  codes: CodeStore;
  mailer: Mailer;
  sms: SmsSender;
  passkeys: PasskeyService;
  audit: AuditLog;
  /** Counts SMS sends per phone number (the same budget as every other code sent there). */
  consumeSmsBudget(phone: string): Promise<void>;
  codeMinutes: number;
  flowSeconds: number;
  logger: Logger;
}

/** Builds the recovery service. */
export function createRecoveryService(deps: RecoveryDeps): RecoveryService {
  const { store, accounts, codes, mailer, sms, passkeys, audit, codeMinutes, logger } = deps;
  const key = (id: string) => `recovery:${id}`;
  const binding = (id: string) => `recovery:${id}`;
  const hasPhone = (account: Account) => Boolean(account.phone && account.phoneVerified);

  async function save(flow: RecoveryFlow): Promise<void> {
    const { id, ...rest } = flow;
    await store.set(key(id), JSON.stringify(rest), Math.max(1, Math.ceil((flow.expiresAt - Date.now()) / 1000)));
  }

  async function load(flowId: string | null): Promise<RecoveryFlow | null> {
    const raw = flowId && /^[A-Za-z0-9_-]{32}$/.test(flowId) ? await store.get(key(flowId)) : null;
    return raw ? { ...(JSON.parse(raw) as Omit<RecoveryFlow, 'id'>), id: flowId! } : null;
  }

  async function flowAt(flowId: string, stage: RecoveryStage): Promise<RecoveryFlow> {
    const flow = await load(flowId);
    if (!flow) throw new AppError('recovery.session_expired');
    if (flow.stage !== stage) throw new AppError('recovery.wrong_step');
    return flow;
  }

  /** The flow's account, still active; a disabled account ends the recovery. */
  async function accountOf(flow: RecoveryFlow): Promise<Account> {
    const account = flow.accountId ? await accounts.findById(flow.accountId) : null;
    if (!account) throw new AppError('recovery.session_expired');
    if (account.disabledAt) { await store.del(key(flow.id)); throw new AppError('account.disabled'); }
    return account;
  }

  async function sendSms(flow: RecoveryFlow, account: Account, locale: Locale): Promise<RecoveryStep> {
    await deps.consumeSmsBudget(account.phone!);
    const code = await codes.issue('recovery_sms', flow.id, { accountId: account.id });
    try {
      await sms.send({ to: account.phone!, text: translator(mailLocale(account, locale))('recovery.sms.code', { code, minutes: codeMinutes }) });
    } catch (error) {
      throw new AppError('service.unavailable', {}, error);
    }
    const smsTo = maskPhone(account.phone!);
    await save({ ...flow, stage: 'sms', smsTo });
    return { next: 'sms', sentTo: smsTo };
  }

  /** Proof complete: the recovery is open, and the member hears of it at once. */
  async function open(flow: RecoveryFlow, account: Account, withPhone: boolean, locale: Locale, meta: RequestMeta): Promise<RecoveryStep> {
    await save({ ...flow, stage: 'register' });
    await audit.record({ type: 'recovery.verified', accountId: account.id, actorId: account.id, ...meta, data: { email: true, phone: withPhone } });
    const to = mailLocale(account, locale);
    mailer.send({
      to: account.email, locale: to, template: 'recovery.mail.used',
      params: { memberNumber: account.memberNumber, date: mailDate(new Date(), to), andPhone: withPhone ? translator(to)('recovery.mail.and_phone') : '' },
    }).catch((err) => logger.error({ err }, 'recovery-used mail failed'));
    return { next: 'register' };
  }

  async function verified(purpose: 'recovery_email' | 'recovery_sms', flow: RecoveryFlow, code: string, meta: RequestMeta): Promise<string | null> {
    try {
      const { accountId } = await codes.verify<{ accountId: string | null }>(purpose, flow.id, code);
      return accountId;
    } catch (error) {
      await audit.record({ type: 'recovery.failure', accountId: flow.accountId, ...meta, data: { step: purpose, code: (error as AppError).code } });
      throw error;
    }
  }

  return {
    async start(flowId, identifier, interaction, locale, meta) {
      const previous = await load(flowId);
      const flow: RecoveryFlow = previous?.stage === 'email'
        ? { ...previous, interaction: interaction ?? previous.interaction }
        : { id: randomBytes(24).toString('base64url'), stage: 'email', accountId: null, interaction, expiresAt: Date.now() + deps.flowSeconds * 1000 };
      const account = await accounts.findByIdentifier(identifier);
      const usable = account && account.emailVerified && !account.disabledAt ? account : null;
      const code = await codes.issue('recovery_email', flow.id, { accountId: usable?.id ?? null });
      await save(flow);
      if (usable) {
        // In the background, so that the answer takes as long whether or not an account matches.
        mailer.send({ to: usable.email, locale: mailLocale(usable, locale), template: 'recovery.mail.code', code, params: { minutes: codeMinutes } })
          .catch((err) => logger.error({ err }, 'recovery code mail failed'));
        void audit.record({ type: 'recovery.code_sent', accountId: usable.id, ...meta, data: { channel: 'email' } });
      }
      return flow;
    },

    async flow(flowId) {
      const flow = await load(flowId);
      if (!flow) throw new AppError('recovery.session_expired');
      return flow;
    },

    async verifyEmail(flowId, code, locale, meta) {
      const flow = await flowAt(flowId, 'email');
      const accountId = await verified('recovery_email', flow, code, meta);
      // A right code for no account cannot happen (none was mailed); answer as for a wrong one.
      if (!accountId) throw new AppError('code.invalid', { remaining: 0 });
      const withAccount = { ...flow, accountId };
      const account = await accountOf(withAccount);
      if (hasPhone(account)) return sendSms(withAccount, account, locale);
      return open(withAccount, account, false, locale, meta);
    },

    async resendSms(flowId, locale) {
      const flow = await flowAt(flowId, 'sms');
      return sendSms(flow, await accountOf(flow), locale);
    },

    async verifySms(flowId, code, locale, meta) {
      const flow = await flowAt(flowId, 'sms');
      const accountId = await verified('recovery_sms', flow, code, meta);
      if (accountId !== flow.accountId) throw new AppError('code.invalid', { remaining: 0 });
      return open(flow, await accountOf(flow), true, locale, meta);
    },

    async registrationOptions(flowId) {
      const flow = await flowAt(flowId, 'register');
      return passkeys.registrationOptions(binding(flow.id), await accountOf(flow));
    },

    async register(flowId, response, name, locale, meta) {
      const flow = await flowAt(flowId, 'register');
      const account = await accountOf(flow);
      const passkey = await passkeys.verifyRegistration(binding(flow.id), account, response, name, meta);
      await store.del(key(flow.id));
      await audit.record({ type: 'passkey.registered', accountId: account.id, actorId: account.id, ...meta, data: { passkeyId: passkey.id, aaguid: passkey.aaguid, via: 'recovery' } });
      await audit.record({ type: 'recovery.completed', accountId: account.id, actorId: account.id, ...meta, data: { passkeyId: passkey.id } });
      return { account, passkey, interaction: flow.interaction };
    },
  };
}
