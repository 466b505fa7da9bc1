import { clientScopes, type ClientInput, type ClientRecord } from '../client-service.ts';
import { notFound, usageError, type Command, type CommandContext, type OptionSpec } from './command.ts';
import { fields, table, when } from './format.ts';

type Values = Record<string, string | boolean | string[] | undefined>;

const metadataOptions: Record<string, OptionSpec> = {
  'name': { type: 'string', value: 'NAME', description: 'name shown to members on the consent screen' },
  'redirect-uri': {
    type: 'string', multiple: true, value: 'URI',
    description: 'where Tobira sends the member back after sign-in; repeat for several. https://, or http:// only on localhost, 127.0.0.1 or [::1], or a native app scheme such as com.example.app:/callback. No wildcards, no fragments',
  },
  'post-logout-redirect-uri': { type: 'string', multiple: true, value: 'URI', description: 'where Tobira may send the member after sign-out; repeat for several (same rules)' },
  'grant-type': {
    type: 'string', multiple: true, value: 'TYPE',
    description: 'authorization_code, refresh_token or client_credentials; repeat or separate with commas (default: authorization_code,refresh_token)',
  },
  'scope': { type: 'string', value: 'SCOPES', description: `space-separated scopes the client may ask for, among: ${clientScopes.join(' ')} (default: openid profile email member offline_access)` },
  'public': { type: 'boolean', description: 'a public client (single-page or native app): no secret, PKCE only (token_endpoint_auth_method none)' },
  'token-endpoint-auth-method': { type: 'string', value: 'METHOD', description: 'client_secret_basic (default), client_secret_post, private_key_jwt (with --jwks-uri), or none (same as --public)' },
  'jwks-uri': { type: 'string', value: 'URI', description: 'where a private_key_jwt client publishes its public keys (https)' },
  'first-party': { type: 'boolean', description: 'your own application: members are not asked for consent' },
  'logo-uri': { type: 'string', value: 'URI', description: 'logo shown on the consent screen (https; "" clears it)' },
  'policy-uri': { type: 'string', value: 'URI', description: 'privacy policy linked from the consent screen (https; "" clears it)' },
  'tos-uri': { type: 'string', value: 'URI', description: 'terms of service linked from the consent screen (https; "" clears it)' },
  'backchannel-logout-uri': { type: 'string', value: 'URI', description: 'where Tobira posts a logout token when the member signs out (https; "" clears it)' },
  'access-token-ttl': { type: 'string', value: 'SECONDS', description: 'access token lifetime for this client, 60-86400 ("" for the default)' },
  'id-token-ttl': { type: 'string', value: 'SECONDS', description: 'ID token lifetime for this client, 60-86400 ("" for the default)' },
  'refresh-token-ttl': { type: 'string', value: 'SECONDS', description: 'refresh token lifetime for this client, 300-31536000 ("" for the default)' },
};

/** An optional URI option: "" clears it (null), absent leaves it. */
const optionalUri = (values: Values, key: string) => (values[key] === undefined ? undefined : (values[key] as string).trim() || null);

/** A lifetime option: digits become a number, "" clears it; anything else goes to validation as is (and is refused there). */
function lifetimeOf(values: Values, key: string): number | null | undefined {
  const raw = values[key] as string | undefined;
  if (raw === undefined) return undefined;
  if (raw.trim() === '') return null;
  return /^\d+$/.test(raw.trim()) ? Number(raw) : (raw as unknown as number);
}

const string = (values: Values, key: string) => values[key] as string | undefined;
const strings = (values: Values, key: string) => values[key] as string[] | undefined;

/** The client fields the options set; absent options are left out (update keeps them). */
function clientInput(values: Values, command: string): Partial<ClientInput> {
  const input: Partial<ClientInput> = {};
  const method = string(values, 'token-endpoint-auth-method');
  if (values.public === true && method !== undefined && method !== 'none') throw usageError(`--public cannot be combined with --token-endpoint-auth-method ${method}`, command);
  if (values.name !== undefined) input.client_name = string(values, 'name');
  if (values['redirect-uri'] !== undefined) input.redirect_uris = strings(values, 'redirect-uri');
  if (values['post-logout-redirect-uri'] !== undefined) input.post_logout_redirect_uris = strings(values, 'post-logout-redirect-uri');
  if (values['grant-type'] !== undefined) {
    input.grant_types = strings(values, 'grant-type')!.flatMap((g) => g.split(',')).map((g) => g.trim()).filter(Boolean) as ClientInput['grant_types'];
  }
  if (values.scope !== undefined) input.scope = string(values, 'scope');
  const publicMethod = values.public === true ? 'none' : values.public === false ? 'client_secret_basic' : undefined;
  if (method !== undefined || publicMethod !== undefined) input.token_endpoint_auth_method = (method ?? publicMethod) as ClientInput['token_endpoint_auth_method'];
  if (values['first-party'] !== undefined) input.first_party = values['first-party'] as boolean;
  const uris = { logo_uri: 'logo-uri', policy_uri: 'policy-uri', tos_uri: 'tos-uri', backchannel_logout_uri: 'backchannel-logout-uri', jwks_uri: 'jwks-uri' } as const;
  for (const [field, option] of Object.entries(uris)) {
    const value = optionalUri(values, option);
    if (value !== undefined) input[field as keyof typeof uris] = value;
  }
  const ttls = { access_token_ttl: 'access-token-ttl', id_token_ttl: 'id-token-ttl', refresh_token_ttl: 'refresh-token-ttl' } as const;
  for (const [field, option] of Object.entries(ttls)) {
    const value = lifetimeOf(values, option);
    if (value !== undefined) input[field as keyof typeof ttls] = value;
  }
  return input;
}

function clientType(c: ClientRecord): string {
  return c.token_endpoint_auth_method === 'none' ? 'public' : `confidential (${c.token_endpoint_auth_method})`;
}

/** Rows for the optional fields that are set (left out otherwise, so a plain client reads short). */
function optionalRows(c: ClientRecord): [string, string][] {
  const rows: [string, string | number | null][] = [
    ['JWKS URI', c.jwks_uri], ['logo', c.logo_uri], ['privacy policy', c.policy_uri], ['terms', c.tos_uri],
    ['back-channel logout', c.backchannel_logout_uri], ['access token ttl', c.access_token_ttl],
    ['ID token ttl', c.id_token_ttl], ['refresh token ttl', c.refresh_token_ttl],
  ];
  return rows.filter((r): r is [string, string | number] => r[1] !== null).map(([k, v]) => [k, typeof v === 'number' ? `${v} s` : v]);
}

function describe(c: ClientRecord): string {
  return fields([
    ['client_id', c.client_id],
    ['name', c.client_name],
    ['type', clientType(c)],
    ['first party', c.first_party],
    ['status', c.disabled ? 'disabled' : 'enabled'],
    ['redirect URIs', c.redirect_uris],
    ['post-logout URIs', c.post_logout_redirect_uris],
    ['grant types', c.grant_types],
    ['scope', c.scope],
    ...optionalRows(c),
    ['created', when(c.created_at)],
    ...(c.client_secret ? [['client_secret', c.client_secret] as [string, string]] : []),
  ]);
}

const secretWarning = 'Store the client secret now: it is not shown again (`tobira clients rotate-secret` makes a new one).';

function printClient(ctx: CommandContext, c: ClientRecord, heading: string): void {
  ctx.print(c, () => [heading, '', describe(c), ...(c.client_secret ? ['', secretWarning] : [])].join('\n'));
}

async function audit(ctx: CommandContext, clientId: string, action: string): Promise<void> {
  await (await ctx.services()).audit({ type: 'admin.client_changed', clientId, data: { action } });
}

const create: Command = {
  path: ['clients', 'create'],
  summary: 'register an application (OIDC client); prints its secret once',
  options: { ...metadataOptions, name: { ...metadataOptions.name, required: true }, 'client-id': { type: 'string', value: 'ID', description: 'a chosen client_id (3-100 letters, digits, dot, dash, underscore; starting with a letter or digit); default: random' } },
  notes: [
    'A confidential client gets a client_secret, printed once. Sign-ins must use PKCE (S256).',
    'The client works at once on every running instance: clients are read from the database on each use.',
  ],
  examples: [
    'tobira clients create --name "Mileage Club" --redirect-uri https://club.example.com/callback --first-party',
    'tobira clients create --name "Club app" --public --redirect-uri com.example.club:/callback --format json',
    'tobira clients create --name "Nightly export" --grant-type client_credentials',
  ],
  async run({ values }, ctx) {
    const input = { ...clientInput(values, 'clients create'), client_id: string(values, 'client-id') } as ClientInput;
    const client = await (await ctx.services()).clients.create(input);
    await audit(ctx, client.client_id, 'create');
    printClient(ctx, client, `Created client ${client.client_id}.`);
  },
};

const list: Command = {
  path: ['clients', 'list'],
  summary: 'list every client (never their secrets)',
  examples: ['tobira clients list', 'tobira clients list --format json'],
  async run(_input, ctx) {
    const clients = await (await ctx.services()).clients.list();
    ctx.print(clients, () => clients.length === 0
      ? 'No clients yet. Register one with `tobira clients create --help`.'
      : table(
        ['CLIENT ID', 'NAME', 'TYPE', 'FIRST PARTY', 'STATUS', 'REDIRECT URIS'],
        clients.map((c) => [c.client_id, c.client_name, c.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
          c.first_party ? 'yes' : 'no', c.disabled ? 'disabled' : 'enabled', c.redirect_uris.join(' ') || '-']),
      ));
  },
};

const get: Command = {
  path: ['clients', 'get'],
  summary: 'show one client (never its secret)',
  args: ['CLIENT_ID'],
  examples: ['tobira clients get mileage-club', 'tobira clients get mileage-club --format json'],
  async run({ args: [clientId] }, ctx) {
    const client = await (await ctx.services()).clients.get(clientId);
    if (!client) throw notFound(`client ${clientId}`);
    ctx.print(client, () => describe(client));
  },
};

const update: Command = {
  path: ['clients', 'update'],
  summary: 'change a client; options not given stay as they are',
  args: ['CLIENT_ID'],
  options: metadataOptions,
  notes: [
    'A repeated option (--redirect-uri, --post-logout-redirect-uri, --grant-type) replaces the whole list.',
    'Booleans turn off with --no-: --no-first-party, --no-public (makes the client confidential and prints its new secret once).',
  ],
  examples: [
    'tobira clients update mileage-club --redirect-uri https://club.example.com/callback --redirect-uri https://club.example.com/cb2',
    'tobira clients update mileage-club --name "Mileage Club" --no-first-party',
  ],
  async run({ values, args: [clientId] }, ctx) {
    const changes = clientInput(values, 'clients update');
    if (Object.keys(changes).length === 0) throw usageError('nothing to change: give at least one option', 'clients update');
    const client = await (await ctx.services()).clients.update(clientId, changes);
    await audit(ctx, clientId, 'update');
    printClient(ctx, client, `Updated client ${clientId}.`);
  },
};

const remove: Command = {
  path: ['clients', 'delete'],
  summary: 'delete a client: its sign-ins and token requests stop at once',
  args: ['CLIENT_ID'],
  notes: ['To stop a client for a while instead, use `tobira clients disable`.'],
  examples: ['tobira clients delete mileage-club'],
  async run({ args: [clientId] }, ctx) {
    if (!(await (await ctx.services()).clients.remove(clientId))) throw notFound(`client ${clientId}`);
    await audit(ctx, clientId, 'delete');
    ctx.print({ client_id: clientId, deleted: true }, () => `Deleted client ${clientId}.`);
  },
};

const rotateSecret: Command = {
  path: ['clients', 'rotate-secret'],
  summary: 'replace a confidential client\'s secret; prints the new one once',
  args: ['CLIENT_ID'],
  notes: ['The old secret stops working at once: update the application\'s configuration right after.'],
  examples: ['tobira clients rotate-secret mileage-club --format json'],
  async run({ args: [clientId] }, ctx) {
    const client = await (await ctx.services()).clients.rotateSecret(clientId);
    await audit(ctx, clientId, 'rotate_secret');
    printClient(ctx, client, `New secret for client ${clientId}.`);
  },
};

function toggle(action: 'disable' | 'enable'): Command {
  return {
    path: ['clients', action],
    summary: action === 'disable' ? 'stop a client without deleting it (sign-ins and token requests are refused)' : 'let a disabled client sign members in again',
    args: ['CLIENT_ID'],
    examples: [`tobira clients ${action} mileage-club`],
    async run({ args: [clientId] }, ctx) {
      const { clients } = await ctx.services();
      if (!(await clients.setDisabled(clientId, action === 'disable'))) throw notFound(`client ${clientId}`);
      await audit(ctx, clientId, action);
      const client = (await clients.get(clientId))!;
      ctx.print(client, () => `${action === 'disable' ? 'Disabled' : 'Enabled'} client ${clientId}.`);
    },
  };
}

/** `tobira clients ...`: register and manage the applications that sign members in. */
export const clientCommands: Command[] = [create, list, get, update, remove, rotateSecret, toggle('disable'), toggle('enable')];
