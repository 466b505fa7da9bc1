import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { ClientInput, ClientIssue, ClientService } from './client-service.ts';
import type { AuditLog, AuditEvent } from '../audit/audit-log.ts';
import { AppError } from '../http/errors.ts';
import { translator, type Translate } from '../i18n/i18n.ts';
import type { AdminConsoleServices } from './admin-services.ts';
import { adminOf } from './admin-session.ts';
import { parseAuditFilter } from './audit-query.ts';
import { dashboardPeriods, type DashboardPeriod } from './dashboard.ts';

/** What the API routes use. */
export interface AdminApiDeps {
  clients: ClientService;
  audit: AuditLog;
  admin: AdminConsoleServices;
}

const empty = z.object({}).strict();
const searchQuery = z.object({ q: z.string().max(254).optional(), lang: z.string().optional() }).strict();
const periodQuery = z.object({ period: z.enum(Object.keys(dashboardPeriods) as [DashboardPeriod, ...DashboardPeriod[]]).default('24h'), lang: z.string().optional() }).strict();

/** The JSON body of an unsafe request; anything but JSON is refused (415). */
export function jsonBody(ctx: Context): unknown {
  if (!ctx.is('application/json')) throw new AppError('request.unsupported_media_type');
  return ctx.request.body ?? {};
}

/** A client field's name in the admin's language ("Redirect URIs (2)"). */
function fieldLabel(t: Translate, path: string): string {
  const [field, index] = path.split('.');
  const label = t(`admin.client.fields.${field}`, { defaultValue: field });
  return index === undefined ? label : `${label} (${Number(index) + 1})`;
}

/** One problem in the admin's language. */
function issueMessage(t: Translate, issue: ClientIssue): string {
  const params = { value: issue.value ?? '', minimum: issue.minimum, maximum: issue.maximum };
  const key = issue.rule ?? ({ too_small: 'too_small', too_big: 'too_big', invalid_value: 'invalid_choice', invalid_type: 'invalid_type', unrecognized_keys: 'unknown_field' } as Record<string, string>)[issue.code];
  const text = key ? t(`admin.rules.${key}`, params) : issue.message;
  return `${fieldLabel(t, issue.path)}: ${issue.value ? `${issue.value}: ` : ''}${text}`;
}

/**
 * Re-words the client service's validation errors in the request's language (the service
 * words them in English for the CLI), keeping the stable code.
 */
export async function localizedValidation<T>(ctx: Context, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const issues = error instanceof AppError ? (error.params.issues as ClientIssue[] | undefined) : undefined;
    if (!issues) throw error;
    const t = translator(ctx.state.locale);
    throw new AppError('request.invalid', { detail: issues.map((i) => issueMessage(t, i)).join('; '), issues });
  }
}

/** Adds the admin JSON API (`/admin/api/...`) to the console's router. */
export function adminApiRoutes(router: Router, deps: AdminApiDeps): void {
  const { clients, audit, admin: services } = deps;

  const record = (ctx: Context, event: AuditEvent) => audit.record({
    ...event, actorId: adminOf(ctx).account.id, ip: ctx.ip, userAgent: ctx.get('user-agent'), data: { via: 'console', ...event.data },
  });
  const clientChanged = (ctx: Context, clientId: string, action: string, extra: Record<string, unknown> = {}) =>
    record(ctx, { type: 'admin.client_changed', clientId, data: { action, ...extra } });
  const requireClient = async (clientId: string) => {
    const client = await clients.get(clientId);
    if (!client) throw new AppError('not_found', { detail: `client ${clientId} does not exist` });
    return client;
  };

  router.get('/api/session', (ctx) => {
    const a = adminOf(ctx);
    ctx.body = {
      sub: a.account.id, member_number: a.account.memberNumber, auth_time: a.session.authTime, acr: a.session.acr,
      fresh_until: a.freshUntil, csrf_token: a.csrf,
    };
  });

  // Clients
  router.get('/api/clients', async (ctx) => {
    const { q } = searchQuery.parse(ctx.query);
    ctx.body = { clients: await clients.list(q) };
  });
  router.post('/api/clients', async (ctx) => {
    const input = jsonBody(ctx) as ClientInput;
    const client = await localizedValidation(ctx, () => clients.create(input));
    await clientChanged(ctx, client.client_id, 'create');
    ctx.status = 201;
    ctx.body = client;
  });
  router.get('/api/clients/:id', async (ctx) => {
    ctx.body = await requireClient(ctx.params.id);
  });
  router.patch('/api/clients/:id', async (ctx) => {
    const changes = jsonBody(ctx);
    if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) throw new AppError('request.invalid', { detail: 'send an object of fields' });
    if ('client_id' in changes) throw new AppError('request.invalid', { detail: 'client_id cannot be changed' });
    const client = await localizedValidation(ctx, () => clients.update(ctx.params.id, changes as Partial<ClientInput>));
    await clientChanged(ctx, client.client_id, 'update', { fields: Object.keys(changes) });
    ctx.body = client;
  });
  router.delete('/api/clients/:id', async (ctx) => {
    if (!(await clients.remove(ctx.params.id))) throw new AppError('not_found', { detail: `client ${ctx.params.id} does not exist` });
    await clientChanged(ctx, ctx.params.id, 'delete');
    ctx.body = { client_id: ctx.params.id, deleted: true };
  });
  for (const action of ['disable', 'enable'] as const) {
    router.post(`/api/clients/:id/${action}`, async (ctx) => {
      empty.parse(jsonBody(ctx));
      if (!(await clients.setDisabled(ctx.params.id, action === 'disable'))) throw new AppError('not_found', { detail: `client ${ctx.params.id} does not exist` });
      await clientChanged(ctx, ctx.params.id, action);
      ctx.body = await requireClient(ctx.params.id);
    });
  }
  router.post('/api/clients/:id/rotate-secret', async (ctx) => {
    empty.parse(jsonBody(ctx));
    await requireClient(ctx.params.id);
    const client = await localizedValidation(ctx, () => clients.rotateSecret(ctx.params.id));
    await clientChanged(ctx, client.client_id, 'rotate_secret');
    ctx.body = client;
  });

  // Members
  router.get('/api/members', async (ctx) => {
    const { q } = searchQuery.parse(ctx.query);
    ctx.body = { members: await services.members.search(q ?? '') };
  });
  router.get('/api/members/:sub', async (ctx) => {
    ctx.body = await services.members.detail(ctx.params.sub);
  });
  for (const action of ['disable', 'enable'] as const) {
    router.post(`/api/members/:sub/${action}`, async (ctx) => {
      empty.parse(jsonBody(ctx));
      const member = await services.members.setDisabled(ctx.params.sub, action === 'disable');
      await record(ctx, { type: 'admin.member_changed', accountId: member.sub, data: { action } });
      ctx.body = member;
    });
  }
  router.post('/api/members/:sub/sign-out-everywhere', async (ctx) => {
    empty.parse(jsonBody(ctx));
    const ended = await services.members.signOutEverywhere(ctx.params.sub);
    await record(ctx, { type: 'admin.signed_out_everywhere', accountId: ctx.params.sub, data: ended });
    ctx.body = ended;
  });
  router.post('/api/members/:sub/recovery-email', async (ctx) => {
    empty.parse(jsonBody(ctx));
    await services.members.sendRecoveryEmail(ctx.params.sub);
    await record(ctx, { type: 'admin.recovery_email_sent', accountId: ctx.params.sub });
    ctx.body = { sent: true };
  });
  router.delete('/api/members/:sub/passkeys/:passkeyId', async (ctx) => {
    const passkey = await services.members.revokePasskey(ctx.params.sub, ctx.params.passkeyId);
    await record(ctx, { type: 'admin.passkey_revoked', accountId: ctx.params.sub, data: { passkeyId: passkey.id, name: passkey.name, provider: passkey.provider } });
    ctx.body = { revoked: passkey };
  });

  // Audit log and dashboard
  router.get('/api/audit', async (ctx) => {
    ctx.body = await services.auditQuery.search(parseAuditFilter(ctx.query));
  });
  router.get('/api/dashboard', async (ctx) => {
    const { period } = periodQuery.parse(ctx.query);
    ctx.body = await services.dashboard.stats(period);
  });
}
