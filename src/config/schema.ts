import { z } from 'zod';

/** Durations, all in seconds. Documented defaults live in config/default.json. */
const ttlSchema = z.object({
  challengeSeconds: z.number().int().min(30).max(900),
  codeSeconds: z.number().int().min(60).max(3600),
  interactionSeconds: z.number().int().min(300),
  sessionSeconds: z.number().int().min(300),
  accessTokenSeconds: z.number().int().min(60),
  idTokenSeconds: z.number().int().min(60),
  refreshTokenSeconds: z.number().int().min(300),
  authorizationCodeSeconds: z.number().int().min(10).max(600),
});

/** Rate limits (rate-limiter-flexible, on the store): code sends and WebAuthn ceremonies. */
const rateLimitSchema = z.object({
  codeSendsPerIpPerHour: z.number().int().min(1),
  codeSendsPerIdentifierPer15Minutes: z.number().int().min(1),
  ceremoniesPerIpPerMinute: z.number().int().min(1),
});

/**
 * Step-up before changes to passkeys: how long a successful step-up lasts, and whether an SMS
 * code is also required before registering a passkey: `off`, `all` (members with a phone), or
 * a country calling code such as `+81` (members whose phone number starts with it).
 */
const stepUpSchema = z.object({
  validSeconds: z.number().int().min(30).max(3600),
  smsBeforeRegistration: z.string().regex(/^(off|all|\+\d{1,3})$/, 'must be off, all or a country code such as +81'),
});

/** The one validated configuration object, built once at start. */
export const configSchema = z.object({
  env: z.enum(['development', 'production', 'test']),
  port: z.number({ error: 'must be a whole number from 0 to 65535' }).int().min(0).max(65535, { error: 'must be a whole number from 0 to 65535' }),
  issuer: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  smtpUrl: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  smsUrl: z.url({ error: 'must be a URL' }).optional(),
  mailFrom: z.string().regex(/^[^<>]*<?[^\s@<>]+@[^\s@<>]+>?$/, 'must be an address, optionally with a name: "Tobira <no-reply@example.com>"'),
  dataDir: z.string().min(1),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  rpName: z.string().min(1),
  webauthnRpId: z.string().min(1),
  webauthnOrigins: z.array(z.url({ protocol: /^https?$/, error: 'each origin must be an http:// or https:// URL' })).min(1),
  cookieKeys: z.array(z.string().min(32, 'each cookie key needs at least 32 characters')).min(1),
  dataEncryptionKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes, base64url (43 characters)'),
  ttl: ttlSchema,
  rateLimits: rateLimitSchema,
  stepUp: stepUpSchema,
  links: z.object({ addDeviceSeconds: z.number().int().min(60).max(86400) }),
  demo: z.boolean(),
  trustProxy: z.boolean(),
  redisPrefix: z.string().max(64),
});

export type Config = z.infer<typeof configSchema>;
