import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { AppError } from '../http/errors.ts';

const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Schemes that run code or read local data in the browser; never a place to send a code. */
const forbiddenSchemes = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:']);

/** A private-use scheme of a native app (RFC 8252 section 7.1): reverse domain name, e.g. com.example.app. */
function isPrivateUseScheme(protocol: string): boolean {
  return protocol !== 'http:' && protocol !== 'https:' && protocol.slice(0, -1).includes('.');
}

/**
 * A redirect URI a careful IdP accepts: absolute, no fragment, no wildcard, no credentials,
 * https (or http on loopback, or a reverse-domain private-use scheme for native apps).
 */
const redirectUri = z.string().max(2000).superRefine((value, ctx) => {
  const issue = (rule: ClientRule, message: string) => ctx.addIssue({ code: 'custom', message: `${value}: ${message}`, params: { rule, value } });
  const url = URL.parse(value);
  if (!url) { issue('not_absolute', 'not an absolute URL'); return; }
  if (value.includes('*')) issue('wildcard', 'wildcards are not allowed');
  if (value.includes('#')) issue('fragment', 'fragments are not allowed');
  if (url.username || url.password) issue('credentials', 'credentials are not allowed in a redirect URI');
  if (forbiddenSchemes.has(url.protocol)) issue('scheme', `${url.protocol} URIs are not allowed`);
  else if (url.protocol === 'http:' && !loopbackHosts.has(url.hostname)) issue('http', 'http is only allowed for loopback addresses (use https)');
  else if (url.protocol !== 'http:' && url.protocol !== 'https:' && !isPrivateUseScheme(url.protocol)) {
    issue('native_scheme', 'a native app\'s scheme must be a reverse domain name such as com.example.app:/callback');
  }
});

/**
 * A web page or endpoint of the client (logo, policy, terms, back-channel logout, JWKS): https,
 * or http on loopback; no credentials, no wildcard, no fragment.
 */
const webUri = z.string().trim().max(2000).superRefine((value, ctx) => {
  const issue = (rule: ClientRule, message: string) => ctx.addIssue({ code: 'custom', message: `${value}: ${message}`, params: { rule, value } });
  const url = URL.parse(value);
  if (!url) { issue('not_absolute', 'not an absolute URL'); return; }
  if (value.includes('*')) issue('wildcard', 'wildcards are not allowed');
  if (value.includes('#')) issue('fragment', 'fragments are not allowed');
  if (url.username || url.password) issue('credentials', 'credentials are not allowed in a URI');
  if (url.protocol === 'http:' && !loopbackHosts.has(url.hostname)) issue('http', 'http is only allowed for loopback addresses (use https)');
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') issue('web_only', 'must be an https:// URL');
});

/** Bounds of the per-client token lifetimes, in seconds. */
export const tokenLifetimeBounds = {
  access_token_ttl: { min: 60, max: 86_400 },
  id_token_ttl: { min: 60, max: 86_400 },
  refresh_token_ttl: { min: 300, max: 365 * 86_400 },
} as const;

const lifetime = (key: keyof typeof tokenLifetimeBounds) =>
  z.number().int().min(tokenLifetimeBounds[key].min).max(tokenLifetimeBounds[key].max).nullable().optional();

/** Whether the client is a native app: one of its URIs uses a private-use scheme (oidc-provider's `application_type`). */
function isNative(uris: readonly string[]): boolean {
  return uris.some((uri) => isPrivateUseScheme(URL.parse(uri)?.protocol ?? 'http:'));
}

/**
 * Why a value was refused, as a stable word (the admin console shows it in the member's
 * language); carried in a custom issue's `params.rule`.
 */
export type ClientRule =
  | 'not_absolute' | 'wildcard' | 'fragment' | 'credentials' | 'scheme' | 'http' | 'native_scheme' | 'web_only'
  | 'redirect_required' | 'public_client_credentials' | 'native_loopback_https' | 'refresh_needs_code'
  | 'jwks_required' | 'jwks_unused' | 'scope_unknown' | 'client_id_format' | 'no_secret';

/** Grant types Tobira offers (no implicit, no password, no device flow). */
export const clientGrantTypes = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

/** How a client authenticates at the token endpoint. */
export const clientAuthMethods = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** Scopes a client may be given. */
export const clientScopes = ['openid', 'profile', 'email', 'phone', 'offline_access', 'member'] as const;

/** What an admin may set on a client. `null` clears an optional field. */
export const clientInputSchema = z.object({
  // Starts with a letter or digit, so that it never reads as an option on a command line.
  client_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,99}$/, '3-100 letters, digits, dot, dash or underscore, starting with a letter or digit').optional(),
  client_name: z.string().trim().min(1).max(100),
  logo_uri: webUri.nullable().optional(),
  policy_uri: webUri.nullable().optional(),
  tos_uri: webUri.nullable().optional(),
  redirect_uris: z.array(redirectUri).max(20).default([]),
  post_logout_redirect_uris: z.array(redirectUri).max(20).default([]),
  backchannel_logout_uri: webUri.nullable().optional(),
  grant_types: z.array(z.enum(clientGrantTypes)).min(1).max(3).default(['authorization_code', 'refresh_token']),
  scope: z.string().trim().default('openid profile email member offline_access').refine(
    (s) => s.split(/\s+/).every((v) => (clientScopes as readonly string[]).includes(v)),
    { message: `scopes must be among: ${clientScopes.join(' ')}`, params: { rule: 'scope_unknown' } }),
  token_endpoint_auth_method: z.enum(clientAuthMethods).default('client_secret_basic'),
  jwks_uri: webUri.nullable().optional(),
  first_party: z.boolean().default(false),
  access_token_ttl: lifetime('access_token_ttl'),
  id_token_ttl: lifetime('id_token_ttl'),
  refresh_token_ttl: lifetime('refresh_token_ttl'),
}).strict().superRefine((c, ctx) => {
  const issue = (path: string, rule: ClientRule, message: string) => ctx.addIssue({ code: 'custom', path: [path], message, params: { rule } });
  if (c.grant_types.includes('authorization_code') && c.redirect_uris.length === 0) issue('redirect_uris', 'redirect_required', 'at least one redirect URI is needed for authorization_code');
  if (c.token_endpoint_auth_method === 'none' && c.grant_types.includes('client_credentials')) issue('grant_types', 'public_client_credentials', 'a public client cannot use client_credentials');
  if (c.grant_types.includes('refresh_token') && !c.grant_types.includes('authorization_code')) issue('grant_types', 'refresh_needs_code', 'refresh_token is only issued with authorization_code');
  if (c.token_endpoint_auth_method === 'private_key_jwt' && !c.jwks_uri) issue('jwks_uri', 'jwks_required', 'private_key_jwt needs the URI of the client\'s public keys (jwks_uri)');
  if (c.token_endpoint_auth_method !== 'private_key_jwt' && c.jwks_uri) issue('jwks_uri', 'jwks_unused', 'jwks_uri is only used with private_key_jwt');
  const uris = [...c.redirect_uris, ...c.post_logout_redirect_uris];
  // oidc-provider treats a client with a private-use scheme as native, and native apps may not claim https on loopback.
  if (isNative(uris) && uris.some((u) => u.startsWith('https:') && loopbackHosts.has(URL.parse(u)?.hostname ?? ''))) {
    issue('redirect_uris', 'native_loopback_https', 'a native app (private-use scheme) cannot also use https on a loopback address');
  }
});

export type ClientInput = z.input<typeof clientInputSchema>;

/** A stored client as the admin sees it (the secret only when just created or rotated). */
export interface ClientRecord {
  client_id: string;
  client_name: string;
  logo_uri: string | null;
  policy_uri: string | null;
  tos_uri: string | null;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  backchannel_logout_uri: string | null;
  grant_types: string[];
  scope: string;
  token_endpoint_auth_method: string;
  jwks_uri: string | null;
  first_party: boolean;
  access_token_ttl: number | null;
  id_token_ttl: number | null;
  refresh_token_ttl: number | null;
  disabled: boolean;
  created_at: string;
  updated_at: string;
  client_secret?: string;
}

/** Which methods authenticate with a shared secret. */
function usesSecret(method: string): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/** OIDC clients (relying parties), stored in Postgres and read by the provider on every use. */
export interface ClientService {
  create(input: ClientInput): Promise<ClientRecord>;
  /** Every client, oldest first; with `query`, those whose id, name or a redirect URI contains it. */
  list(query?: string): Promise<ClientRecord[]>;
  get(clientId: string): Promise<ClientRecord | null>;
  /**
   * Changes the given fields (undefined ones are left as they are). The result carries a
   * `client_secret` only when the change made a public client confidential and a secret was made.
   */
  update(clientId: string, changes: Partial<ClientInput>): Promise<ClientRecord>;
  /** Returns false when there is no such client. */
  setDisabled(clientId: string, disabled: boolean): Promise<boolean>;
  /** Returns false when there is no such client. */
  remove(clientId: string): Promise<boolean>;
  rotateSecret(clientId: string): Promise<ClientRecord>;
  /** Creates or replaces a client with a fixed id (bootstrap, the demo). */
  ensure(input: ClientInput & { client_id: string }): Promise<void>;
}

/** Optional fields that are left out of the stored metadata when not set. */
const optionalFields = ['logo_uri', 'policy_uri', 'tos_uri', 'backchannel_logout_uri', 'jwks_uri', 'access_token_ttl', 'id_token_ttl', 'refresh_token_ttl'] as const;

/** The client metadata oidc-provider reads (plus Tobira's extra fields). */
export function toMetadata(input: z.output<typeof clientInputSchema>, clientId: string, secret?: string): Record<string, unknown> {
  const responseTypes = input.grant_types.includes('authorization_code') ? ['code'] : [];
  const optional = Object.fromEntries(optionalFields.filter((k) => input[k] !== undefined && input[k] !== null).map((k) => [k, input[k]]));
  return {
    client_id: clientId,
    client_name: input.client_name,
    application_type: isNative([...input.redirect_uris, ...input.post_logout_redirect_uris]) ? 'native' : 'web',
    redirect_uris: input.redirect_uris,
    post_logout_redirect_uris: input.post_logout_redirect_uris,
    grant_types: input.grant_types,
    response_types: responseTypes,
    scope: input.scope,
    token_endpoint_auth_method: input.token_endpoint_auth_method,
    first_party: input.first_party,
    ...optional,
    ...(secret ? { client_secret: secret } : {}),
  };
}

/** The stored metadata without what is derived (response and application types) or secret. */
function adminFields(metadata: Record<string, unknown>): Record<string, unknown> {
  const { client_secret: _secret, response_types: _responseTypes, application_type: _applicationType, ...fields } = metadata;
  return fields;
}

/** One refused field: where, why in English, and the rule for a translated message. */
export interface ClientIssue { path: string; message: string; rule?: string; value?: string; code: string; minimum?: number; maximum?: number }

/** Validates client input; a `request.invalid` AppError lists every problem (`params.issues` keeps them apart). */
export function parseClientInput(input: unknown): z.output<typeof clientInputSchema> {
  const parsed = clientInputSchema.safeParse(input);
  if (!parsed.success) {
    const issues: ClientIssue[] = parsed.error.issues.map((i) => {
      const extra = i as { params?: { rule?: string; value?: string }; minimum?: unknown; maximum?: unknown };
      if (i.path[0] === 'client_id' && i.code === 'invalid_format') extra.params = { rule: 'client_id_format' };
      return {
        path: i.path.join('.') || 'client', message: i.message, code: i.code,
        ...(extra.params?.rule ? { rule: extra.params.rule, value: extra.params.value } : {}),
        ...(typeof extra.minimum === 'number' ? { minimum: extra.minimum } : {}),
        ...(typeof extra.maximum === 'number' ? { maximum: extra.maximum } : {}),
      };
    });
    throw new AppError('request.invalid', { detail: issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues });
  }
  return parsed.data;
}
const parse = parseClientInput;

/** A random client_id: 16 base64url characters that start with a letter or digit (never "-"). */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(12).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

/** Builds the client service on a data source. */
export function createClientService(ds: DataSource, hooks: {
  /** Called after every write, with the client it changed (this process's cache drops it at once). */
  changed?: (clientId: string) => void;
} = {}): ClientService {
  const changed = (clientId: string) => hooks.changed?.(clientId);
  type Row = { client_id: string; metadata: Record<string, unknown>; disabled: boolean; created_at: Date; updated_at: Date };
  // Fields in a fixed order (jsonb does not keep one), so printed records read the same every time.
  const toRecord = (row: Row, secret?: string): ClientRecord => {
    const m = row.metadata as Partial<ClientRecord>;
    return {
      client_id: row.client_id,
      client_name: m.client_name ?? '',
      logo_uri: m.logo_uri ?? null,
      policy_uri: m.policy_uri ?? null,
      tos_uri: m.tos_uri ?? null,
      redirect_uris: m.redirect_uris ?? [],
      post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
      backchannel_logout_uri: m.backchannel_logout_uri ?? null,
      grant_types: m.grant_types ?? [],
      scope: m.scope ?? '',
      token_endpoint_auth_method: m.token_endpoint_auth_method ?? 'client_secret_basic',
      jwks_uri: m.jwks_uri ?? null,
      first_party: m.first_party === true,
      access_token_ttl: m.access_token_ttl ?? null,
      id_token_ttl: m.id_token_ttl ?? null,
      refresh_token_ttl: m.refresh_token_ttl ?? null,
      disabled: row.disabled,
      created_at: new Date(row.created_at).toISOString(),
      updated_at: new Date(row.updated_at ?? row.created_at).toISOString(),
      ...(secret ? { client_secret: secret } : {}),
    };
  };
  const newSecret = () => randomBytes(32).toString('base64url');
  const read = async (clientId: string) => ((await ds.query('SELECT * FROM oidc_clients WHERE client_id = $1', [clientId])) as Row[])[0];

  const service: ClientService = {
    async create(input) {
      const data = parse(input);
      const clientId = data.client_id ?? newClientId();
      const secret = usesSecret(data.token_endpoint_auth_method) ? newSecret() : undefined;
      const rows = await ds.query(
        'INSERT INTO oidc_clients (client_id, metadata) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING RETURNING *',
        [clientId, JSON.stringify(toMetadata(data, clientId, secret))],
      );
      if (!rows.length) throw new AppError('request.invalid', { detail: `client_id ${clientId} already exists` });
      changed(clientId);
      return toRecord(rows[0], secret);
    },
    async list(query) {
      const q = query?.trim().toLowerCase();
      if (!q) return ((await ds.query('SELECT * FROM oidc_clients ORDER BY created_at')) as Row[]).map((r) => toRecord(r));
      const like = `%${q.replace(/[%_\\]/g, '\\$&')}%`;
      const rows: Row[] = await ds.query(
        `SELECT * FROM oidc_clients WHERE lower(client_id) LIKE $1 OR lower(metadata->>'client_name') LIKE $1
           OR lower(metadata->>'redirect_uris') LIKE $1 ORDER BY created_at`, [like]);
      return rows.map((r) => toRecord(r));
    },
    async get(clientId) {
      const row = await read(clientId);
      return row ? toRecord(row) : null;
    },
    async update(clientId, changes) {
      const row = await read(clientId);
      if (!row) throw new AppError('not_found', { detail: `client ${clientId} does not exist` });
      const secret = row.metadata.client_secret as string | undefined;
      const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
      const data = parse({ ...adminFields(row.metadata), ...given, client_id: clientId });
      const keepSecret = usesSecret(data.token_endpoint_auth_method) ? (secret ?? newSecret()) : undefined;
      await ds.query('UPDATE oidc_clients SET metadata = $2, updated_at = now() WHERE client_id = $1', [clientId, JSON.stringify(toMetadata(data, clientId, keepSecret))]);
      changed(clientId);
      return toRecord((await read(clientId))!, keepSecret !== secret ? keepSecret : undefined);
    },
    async setDisabled(clientId, disabled) {
      const rows = await ds.query('WITH u AS (UPDATE oidc_clients SET disabled = $2, updated_at = now() WHERE client_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM u', [clientId, disabled]);
      changed(clientId);
      return rows[0].n === 1;
    },
    async remove(clientId) {
      const rows = await ds.query('WITH d AS (DELETE FROM oidc_clients WHERE client_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [clientId]);
      changed(clientId);
      return rows[0].n === 1;
    },
    async rotateSecret(clientId) {
      const row = await read(clientId);
      if (!row) throw new AppError('not_found', { detail: `client ${clientId} does not exist` });
      const method = String(row.metadata.token_endpoint_auth_method ?? 'client_secret_basic');
      if (!usesSecret(method)) {
        const message = method === 'none' ? 'a public client has no secret' : 'a private_key_jwt client has no secret (it signs with its own keys)';
        throw new AppError('request.invalid', { detail: message, issues: [{ path: 'client', code: 'custom', rule: 'no_secret', message }] });
      }
      const secret = newSecret();
      await ds.query('UPDATE oidc_clients SET metadata = metadata || $2::jsonb, updated_at = now() WHERE client_id = $1', [clientId, JSON.stringify({ client_secret: secret })]);
      changed(clientId);
      return toRecord((await read(clientId))!, secret);
    },
    async ensure(input) {
      // Several instances (or test servers on other ports) may share one database: keep the
      // redirect URIs others registered and add ours.
      const existing = await read(input.client_id);
      const union = (key: 'redirect_uris' | 'post_logout_redirect_uris') =>
        [...new Set([...((existing?.metadata[key] as string[] | undefined) ?? []), ...(input[key] ?? [])])].slice(-20);
      const data = parse({ ...input, redirect_uris: union('redirect_uris'), post_logout_redirect_uris: union('post_logout_redirect_uris') });
      await ds.query(
        'INSERT INTO oidc_clients (client_id, metadata) VALUES ($1, $2) ON CONFLICT (client_id) DO UPDATE SET metadata = EXCLUDED.metadata, updated_at = now()',
        [input.client_id, JSON.stringify(toMetadata(data, input.client_id))],
      );
      changed(input.client_id);
    },
  };
  return service;
}
