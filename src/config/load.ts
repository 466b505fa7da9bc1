import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { configSchema, type Config } from './schema.ts';
import { appRoot } from './app-root.ts';

/** Raised when configuration is invalid; `problems` lists every one of them. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const rootDir = appRoot;

function readJson(path: string, problems: string[]): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    problems.push(`${path} is not valid JSON: ${(error as Error).message}`);
    return {};
  }
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A port number from the environment; a value that is not one is reported, not guessed at. */
function portOf(name: string, value: string | undefined, problems: string[]): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,5}$/.test(value.trim()) && Number(value) <= 65535) return Number(value);
  problems.push(`${name} must be a whole number from 0 to 65535 (got "${value}")`);
  return undefined;
}

/** A true/false switch from the environment. */
function bool(name: string, value: string | undefined, problems: string[]): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  problems.push(`${name} must be true or false (got "${value}")`);
  return undefined;
}

/**
 * Development secrets: generated once and kept in DATA_DIR/secrets.json so that a restart
 * keeps sessions and encrypted keys readable. Production must set them explicitly.
 */
function devSecrets(dataDir: string): { cookieKeys: string[]; dataEncryptionKey: string } {
  const path = join(dataDir, 'secrets.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
  const secrets = {
    cookieKeys: [randomBytes(32).toString('base64url')],
    dataEncryptionKey: randomBytes(32).toString('base64url'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/**
 * Builds the configuration from config/default.json, config/<NODE_ENV>.json and the
 * environment (environment wins). Throws {@link ConfigError} listing every problem.
 */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV === 'production' || env.NODE_ENV === 'test' ? env.NODE_ENV : 'development';
  const problems: string[] = [];
  const defaults = readJson(join(rootDir, 'config/default.json'), problems);
  const perEnv = readJson(join(rootDir, `config/${nodeEnv}.json`), problems);
  const file = { ...defaults, ...perEnv } as Record<string, unknown>;

  const envPort = portOf('PORT', env.PORT, problems);
  const port = envPort ?? (file.port as number);
  const issuer = (env.ISSUER ?? (envPort !== undefined ? `http://localhost:${port}` : file.issuer)) as string;
  const dataDir = resolve(env.DATA_DIR ?? (file.dataDir as string));
  let issuerUrl: URL | undefined;
  try { issuerUrl = new URL(issuer); } catch { /* reported by the schema */ }
  const trustProxy = bool('TRUST_PROXY', env.TRUST_PROXY, problems) ?? false;
  const demo = bool('DEMO', env.DEMO, problems) ?? (nodeEnv !== 'production' && Boolean(file.demo));

  if (nodeEnv === 'production') {
    if (!env.DATABASE_URL) problems.push('DATABASE_URL is required in production (PostgreSQL)');
    if (!env.REDIS_URL) problems.push('REDIS_URL is required in production (Redis)');
    if (!env.SMTP_URL) problems.push('SMTP_URL is required in production (mail delivery)');
    if (!env.ISSUER || issuerUrl?.protocol !== 'https:') problems.push('ISSUER must be set to an https:// URL in production');
    if (!env.COOKIE_KEYS) problems.push('COOKIE_KEYS is required in production (comma-separated, 32+ characters each)');
    if (!env.DATA_ENCRYPTION_KEY) problems.push('DATA_ENCRYPTION_KEY is required in production (32 random bytes, base64url)');
  }
  const secrets = nodeEnv === 'production' || (env.COOKIE_KEYS && env.DATA_ENCRYPTION_KEY)
    ? { cookieKeys: list(env.COOKIE_KEYS) ?? [], dataEncryptionKey: env.DATA_ENCRYPTION_KEY ?? '' }
    : { ...devSecrets(dataDir), ...(env.COOKIE_KEYS ? { cookieKeys: list(env.COOKIE_KEYS) } : {}), ...(env.DATA_ENCRYPTION_KEY ? { dataEncryptionKey: env.DATA_ENCRYPTION_KEY } : {}) };

  const candidate = {
    env: nodeEnv,
    port,
    issuer: issuer.replace(/\/$/, ''),
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    smtpUrl: env.SMTP_URL || undefined,
    smsUrl: env.SMS_URL || undefined,
    mailFrom: env.MAIL_FROM ?? file.mailFrom,
    dataDir,
    logLevel: env.LOG_LEVEL ?? file.logLevel,
    rpName: env.RP_NAME ?? file.rpName,
    webauthnRpId: env.WEBAUTHN_RP_ID ?? issuerUrl?.hostname ?? '',
    webauthnOrigins: list(env.WEBAUTHN_ORIGINS) ?? (issuerUrl ? [issuerUrl.origin] : []),
    cookieKeys: secrets.cookieKeys,
    dataEncryptionKey: secrets.dataEncryptionKey,
    ttl: file.ttl,
    rateLimits: file.rateLimits,
    stepUp: { ...(file.stepUp as object), ...(env.SMS_BEFORE_PASSKEY_REGISTRATION ? { smsBeforeRegistration: env.SMS_BEFORE_PASSKEY_REGISTRATION } : {}) },
    links: file.links,
    trustProxy,
    redisPrefix: env.REDIS_PREFIX ?? 'tobira:',
    demo,
  };
  const parsed = configSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = envName(issue.path.join('.'));
      // One problem per variable: a missing value is not reported again as a malformed one.
      if (problems.some((p) => p.startsWith(`${name} `) || p.startsWith(`${name}:`))) continue;
      // WEBAUTHN_* default to ISSUER's host and origin: an unusable ISSUER is the one problem to fix.
      if (!issuerUrl && derivedFromIssuer[name] && !env[name]) continue;
      problems.push(`${name}: ${issue.message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return parsed.data!;
}

const envNames: Record<string, string> = {
  port: 'PORT', issuer: 'ISSUER', databaseUrl: 'DATABASE_URL', redisUrl: 'REDIS_URL', smtpUrl: 'SMTP_URL',
  smsUrl: 'SMS_URL', mailFrom: 'MAIL_FROM', dataDir: 'DATA_DIR', logLevel: 'LOG_LEVEL',
  webauthnRpId: 'WEBAUTHN_RP_ID', webauthnOrigins: 'WEBAUTHN_ORIGINS', cookieKeys: 'COOKIE_KEYS',
  dataEncryptionKey: 'DATA_ENCRYPTION_KEY', rpName: 'RP_NAME',
};

const derivedFromIssuer: Record<string, boolean> = { WEBAUTHN_RP_ID: true, WEBAUTHN_ORIGINS: true };

function envName(path: string): string {
  const head = path.split('.')[0];
  return envNames[head] ?? `config ${path}`;
}
