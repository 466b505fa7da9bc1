import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Eta } from 'eta';
import type { Config } from './config/schema.ts';
import { createDataSource, databaseTargetOf, pgliteDirOf } from './db/data-source.ts';
import { migrate } from './db/migrate.ts';
import type { KeyValueStore } from './store/store.ts';
import { createMemoryStore } from './store/memory-store.ts';
import { createRedisStore } from './store/redis-store.ts';
import { createSealedBox, type SealedBox } from './crypto/sealed-box.ts';
import { createMailer, type Mailer } from './mail/mailer.ts';
import { createViews, createRenderer, type Renderer } from './http/render.ts';
import { createAccountService, type AccountService } from './accounts/account-service.ts';
import { createPasskeyRepository, type PasskeyRepository } from './passkeys/passkey-repository.ts';
import { createChallengeStore } from './passkeys/challenge-store.ts';
import { createPasskeyService, type PasskeyService } from './passkeys/passkey-service.ts';
import { createPasswordRetirement } from './passkeys/password-retirement.ts';
import { createStepUpService, type StepUpService } from './account/step-up.ts';
import { createAddDeviceLinks, type AddDeviceLinks } from './enrollment/add-device-links.ts';
import { createAddDeviceEnrollment, type AddDeviceEnrollment } from './enrollment/add-device-enrollment.ts';
import { createRecoveryService, recoveryFlowSeconds, type RecoveryService } from './recovery/recovery-service.ts';
import { consumeOrThrow } from './http/rate-limit.ts';
import { createAccountSessions } from './account/account-session.ts';
import { createAccountKit, type AccountKit } from './account/account-kit.ts';
import { createNotifier } from './account/notify.ts';
import { createEmailCodeSignIn, type EmailCodeSignIn } from './signin/email-code-signin.ts';
import { createPasswordSignIn, type PasswordSignIn } from './signin/password-signin.ts';
import { createSignup, type Signup } from './enrollment/signup.ts';
import { createAuditLog, type AuditLog } from './audit/audit-log.ts';
import { loadSigningKeys } from './oidc/signing-keys.ts';
import { createProvider } from './oidc/provider.ts';
import { CookieSigner } from './http/cookie-signer.ts';
import { clientMetadataReader } from './oidc/adapter.ts';
import { createChangeFeed } from './db/change-feed.ts';
import { createCachedReads } from './db/cached-reads.ts';
import { plainSql } from './db/sql.ts';
import { createClientService, type ClientService } from './admin/client-service.ts';
import { createAdminServices, type AdminConsoleServices } from './admin/admin-services.ts';
import { createSmsSender, type SmsSender } from './sms/sms-sender.ts';
import { createTotpService, type TotpService } from './verification/totp.ts';
import { createCodeStore, type CodeStore } from './verification/code-store.ts';

/** Everything the app is made of, built once at start. */
export interface Container {
  config: Config;
  logger: Logger;
  ds: DataSource;
  store: KeyValueStore;
  box: SealedBox;
  views: Eta;
  renderer: Renderer;
  mailer: Mailer;
  accounts: AccountService;
  passkeyRepository: PasskeyRepository;
  passkeys: PasskeyService;
  emailCode: EmailCodeSignIn;
  passwordSignIn: PasswordSignIn;
  signup: Signup;
  audit: AuditLog;
  clients: ClientService;
  codes: CodeStore;
  sms: SmsSender;
  totp: TotpService;
  /** Step-up before changes to passkeys (account settings, another device, recovery). */
  stepUp: StepUpService;
  /** Register a passkey on another device: single-use links (email, QR code) and the enrollment they open there. */
  addDeviceLinks: AddDeviceLinks;
  addDeviceEnrollment: AddDeviceEnrollment;
  /** "Lost your passkey?": email (and SMS) code, then a new passkey. */
  recovery: RecoveryService;
  /** The account area's sessions (sign-in through Tobira), step-up checks and change notifications. */
  accountKit: AccountKit;
  provider: Provider;
  /** Signs and checks cookies for oidc-provider and Koa (the configured cookie keys). */
  cookieSigner: CookieSigner;
  /** The admin console's services (members, audit log, dashboard). */
  admin: AdminConsoleServices;
  close(): Promise<void>;
}

/** Connects to the database (running pending migrations) only, for the CLI. */
export async function openDatabase(config: Config): Promise<DataSource> {
  const ds = createDataSource(databaseTargetOf(config));
  await ds.initialize();
  await migrate(ds);
  return ds;
}

/** The one place that builds infrastructure and wires services together. */
export async function createContainer(config: Config, logger: Logger): Promise<Container> {
  const ds = await openDatabase(config);
  const store = config.redisUrl ? await createRedisStore(config.redisUrl, config.redisPrefix) : createMemoryStore();
  if (!config.redisUrl) logger.warn('REDIS_URL is not set: using an in-process store (one instance only)');
  if (!config.databaseUrl) logger.warn(`DATABASE_URL is not set: using embedded PGlite under ${pgliteDirOf(config.dataDir)}`);
  const box = createSealedBox(config.dataEncryptionKey);
  // Templates are compiled once, except in development where they are edited live.
  const views = createViews(config.env !== 'development');
  const renderer = createRenderer(views);
  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir, views, logger });
  if (!config.smtpUrl) logger.warn(`SMTP_URL is not set: mail is written to ${config.dataDir}/mail/`);
  const accounts = createAccountService(ds);
  const passkeyRepository = createPasskeyRepository(ds);
  const challenges = createChallengeStore(store, config.ttl.challengeSeconds);
  const audit = createAuditLog(ds, logger);
  const passkeys = createPasskeyService({
    rp: {
      name: config.rpName, id: config.webauthnRpId, origins: config.webauthnOrigins,
      timeoutMs: config.ttl.challengeSeconds * 1000, decoySecret: box.digest('webauthn-decoys'),
    },
    challenges, passkeys: passkeyRepository, accounts, passwordRetirement: createPasswordRetirement({ ds, audit }),
  });
  const codes = createCodeStore({ store, box, ttlSeconds: config.ttl.codeSeconds });
  const codeMinutes = Math.round(config.ttl.codeSeconds / 60);
  const emailCode = createEmailCodeSignIn({ accounts, codes, mailer, codeMinutes, logger });
  const signup = createSignup({ accounts, codes, mailer, audit, codeMinutes, logger });
  // Client metadata is read on most requests: kept in memory while PostgreSQL reports every change
  // (LISTEN/NOTIFY; src/db/change-feed.ts). The embedded database reads the table every time.
  const changes = config.databaseUrl ? await createChangeFeed(config.databaseUrl, logger) : undefined;
  const clientReads = createCachedReads(changes, { table: 'oidc_clients', load: clientMetadataReader(plainSql(ds)) });
  const clients = createClientService(ds, { changed: (clientId) => clientReads.invalidate(clientId) });
  const sms = createSmsSender({ smsUrl: config.smsUrl, dataDir: config.dataDir, logger });
  if (!config.smsUrl) logger.warn(`SMS_URL is not set: text messages are written to ${config.dataDir}/sms/`);
  const totp = createTotpService({ ds, box, issuer: config.rpName });
  const passwordSignIn = createPasswordSignIn({ accounts, passkeys: passkeyRepository, store, codes, totp, sms, ttlSeconds: config.ttl.codeSeconds });
  const stepUp = createStepUpService({
    passkeys, passkeyRepository, totp, codes, mailer, sms, codeMinutes, logger,
    smsBeforeRegistration: config.stepUp.smsBeforeRegistration,
    limits: {
      // The same keys as the sign-in's code limit: one budget per email address or phone number.
      codeSendPerTarget: store.rateLimiter({ keyPrefix: 'rl:code-target', points: config.rateLimits.codeSendsPerIdentifierPer15Minutes, duration: 900 }),
      totpAttempts: store.rateLimiter({ keyPrefix: 'rl:totp', points: 5, duration: 300 }),
    },
  });
  const accountKit = createAccountKit({
    sessions: await createAccountSessions({ issuer: config.issuer, port: config.port, store, clients, accounts, ttlSeconds: 3600 }),
    stepUp, notifier: createNotifier({ audit, mailer, logger }),
    stepUpSeconds: () => config.stepUp.validSeconds,
  });
  const addDeviceLinks = createAddDeviceLinks({
    store, box, accounts, issuer: config.issuer, ttlSeconds: () => config.links.addDeviceSeconds, sessionSeconds: config.links.addDeviceSeconds,
  });
  const addDeviceEnrollment = createAddDeviceEnrollment({ store, accounts, passkeys, passkeyRepository, stepUp, ttlSeconds: config.links.addDeviceSeconds });
  const smsPerPhone = store.rateLimiter({ keyPrefix: 'rl:code-target', points: config.rateLimits.codeSendsPerIdentifierPer15Minutes, duration: 900 });
  const recovery = createRecoveryService({
    store, accounts, codes, mailer, sms, passkeys, audit, codeMinutes, logger, flowSeconds: recoveryFlowSeconds,
    consumeSmsBudget: (phone) => consumeOrThrow(smsPerPhone, phone),
  });
  const jwks = await loadSigningKeys(ds, box);
  const cookieSigner = new CookieSigner(config.cookieKeys);
  const provider = createProvider({ config, ds, store, accounts, jwks, renderer, clients: clientReads, cookieSigner });
  const admin = createAdminServices({ ds, store, passkeyRepository, mailer, provider, issuer: config.issuer, logger });

  return {
    config, logger, ds, store, box, views, renderer, mailer, accounts, passkeyRepository, passkeys, emailCode, passwordSignIn, signup, audit, clients, codes, sms, totp, stepUp, addDeviceLinks, addDeviceEnrollment, recovery, accountKit, provider, cookieSigner, admin,
    async close() {
      await mailer.close();
      await store.close();
      await changes?.close();
      await ds.destroy();
    },
  };
}
