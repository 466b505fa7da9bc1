import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Renderer } from '../http/render.ts';
import type { InternalRp } from '../http/internal-rp.ts';
import { AppError } from '../http/errors.ts';
import { translator, type Translate } from '../i18n/i18n.ts';
import type { Config } from '../config/schema.ts';
import { clientAuthMethods, clientGrantTypes, clientScopes, tokenLifetimeBounds, type ClientRecord, type ClientService } from './client-service.ts';
import type { AdminConsoleServices } from './admin-services.ts';
import { adminOf, csrfField } from './admin-session.ts';
import { parseAuditFilter, type AuditFilter } from './audit-query.ts';
import { dashboardPeriods, type DashboardPeriod, type DashboardStats } from './dashboard.ts';
import { stackedBarChart, topSeries, type Chart } from './charts.ts';

/** What the console's pages use. */
export interface AdminPagesDeps {
  config: Config;
  clients: ClientService;
  renderer: Renderer;
  rp: InternalRp;
  admin: AdminConsoleServices;
}

/** A time as the console shows it: `2026-11-01 09:30 UTC`. */
export function when(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—';
}

const search = z.object({ q: z.string().trim().max(254).optional(), lang: z.string().optional() }).strict();
const periodQuery = z.object({ period: z.enum(Object.keys(dashboardPeriods) as [DashboardPeriod, ...DashboardPeriod[]]).catch('24h').default('24h'), lang: z.string().optional() });
const returnToQuery = z.object({ returnTo: z.string().max(2000).optional() }).passthrough();

/** The three charts of a dashboard period. */
function dashboardCharts(t: Translate, stats: DashboardStats): Chart[] {
  const hourly = stats.period === '24h';
  const labels = stats.buckets.map((b) => (hourly ? b.start.slice(11, 16) : b.start.slice(5, 10)));
  const common = {
    labels, tickEvery: hourly ? 6 : 7, bucketHeading: t('admin.dashboard.time'), totalHeading: t('admin.dashboard.total'),
  };
  const unit = t(`admin.dashboard.unit.${hourly ? 'hour' : 'day'}`);
  const methodSeries = stats.methods.map((m) => ({
    label: t(`admin.dashboard.method.${m.method}`, { defaultValue: m.method }),
    values: stats.buckets.map((b) => b.byMethod[m.method] ?? 0),
  }));
  const clientSeries = topSeries(stats.clients.map((c) => ({
    label: c.name, values: stats.buckets.map((b) => b.byClient[c.clientId] ?? 0),
  })), 5, t('admin.dashboard.other'));
  const period = t(`admin.dashboard.period.${stats.period}`);
  return [
    stackedBarChart({ ...common, id: `chart-method-${stats.period}`, title: t('admin.dashboard.by_method'), series: methodSeries,
      description: t('admin.dashboard.chart_desc', { what: t('admin.dashboard.by_method'), unit, period, total: stats.totals.success }) }),
    stackedBarChart({ ...common, id: `chart-client-${stats.period}`, title: t('admin.dashboard.by_client'), series: clientSeries,
      description: t('admin.dashboard.chart_desc', { what: t('admin.dashboard.by_client'), unit, period, total: stats.totals.success }) }),
    stackedBarChart({ ...common, id: `chart-failed-${stats.period}`, title: t('admin.dashboard.failures'), colors: ['#b3261e'],
      series: [{ label: t('admin.dashboard.failed'), values: stats.buckets.map((b) => b.failed) }],
      description: t('admin.dashboard.chart_desc', { what: t('admin.dashboard.failures'), unit, period, total: stats.totals.failed }) }),
  ];
}

/** Empty form values for a new client. */
function blankClient(): Partial<ClientRecord> {
  return {
    client_name: '', redirect_uris: [], post_logout_redirect_uris: [], grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email member offline_access', token_endpoint_auth_method: 'client_secret_basic', first_party: false,
  };
}

/** Adds the console's pages (`/admin`, `/admin/clients`, ...) to its router. */
export function adminPageRoutes(router: Router, deps: AdminPagesDeps): void {
  const { config, clients, renderer, rp, admin: services } = deps;

  /** Renders a console page with what every page needs (nav, CSRF token, freshness). */
  const page = (ctx: Context, view: string, section: string, title: string, data: Record<string, unknown> = {}) => {
    const a = adminOf(ctx);
    const t = translator(ctx.state.locale);
    renderer.page(ctx, `admin/${view}`, {
      title: `${title} · ${t('admin.title')}`, heading: title, wide: true, section, when,
      admin: {
        memberNumber: a.account.memberNumber, csrf: a.csrf, csrfField, fresh: Date.now() / 1000 < a.freshUntil,
        reauthHref: `/admin/reauth?returnTo=${encodeURIComponent(ctx.path)}`,
      },
      ...data,
    });
  };

  router.get('/reauth', async (ctx) => {
    const { returnTo } = returnToQuery.parse(ctx.query);
    const target = returnTo && returnTo.startsWith('/admin') && !returnTo.startsWith('/admin/api') ? returnTo : '/admin';
    await rp.signIn(ctx, { returnTo: target, acr: 'phr', fresh: true, locale: ctx.state.locale });
  });

  router.post('/signout', async (ctx) => {
    await rp.signOut(ctx);
  });

  router.get('/', async (ctx) => {
    const t = translator(ctx.state.locale);
    const { period } = periodQuery.parse(ctx.query);
    const stats = await services.dashboard.stats(period);
    const attempts = stats.totals.success + stats.totals.failed;
    page(ctx, 'dashboard', 'dashboard', t('admin.dashboard.title'), {
      period, periods: Object.keys(dashboardPeriods), stats, charts: dashboardCharts(t, stats),
      failedShare: attempts ? Math.round((stats.totals.failed / attempts) * 100) : 0,
      adoptionShare: stats.adoption.active ? Math.round((stats.adoption.activeWithPasskey / stats.adoption.active) * 100) : 0,
    });
  });

  router.get('/clients', async (ctx) => {
    const t = translator(ctx.state.locale);
    const { q } = search.parse(ctx.query);
    page(ctx, 'clients', 'clients', t('admin.clients.title'), { q: q ?? '', clients: await clients.list(q) });
  });

  const formData = {
    grantTypes: clientGrantTypes, scopes: clientScopes, authMethods: clientAuthMethods, bounds: tokenLifetimeBounds,
    defaults: { access_token_ttl: config.ttl.accessTokenSeconds, id_token_ttl: config.ttl.idTokenSeconds, refresh_token_ttl: config.ttl.refreshTokenSeconds },
  };

  router.get('/clients/new', async (ctx) => {
    const t = translator(ctx.state.locale);
    page(ctx, 'client', 'clients', t('admin.client.new_title'), { ...formData, client: blankClient(), isNew: true });
  });

  router.get('/clients/:id', async (ctx) => {
    const client = await clients.get(ctx.params.id);
    if (!client) throw new AppError('not_found');
    page(ctx, 'client', 'clients', client.client_name, { ...formData, client, isNew: false });
  });

  router.get('/members', async (ctx) => {
    const t = translator(ctx.state.locale);
    const { q } = search.parse(ctx.query);
    page(ctx, 'members', 'members', t('admin.members.title'), { q: q ?? '', members: q ? await services.members.search(q) : null });
  });

  router.get('/members/:sub', async (ctx) => {
    const t = translator(ctx.state.locale);
    const member = await services.members.detail(ctx.params.sub);
    page(ctx, 'member', 'members', t('admin.member.title', { number: member.member_number }), { member });
  });

  router.get('/audit', async (ctx) => {
    const t = translator(ctx.state.locale);
    let filter: AuditFilter;
    try {
      filter = parseAuditFilter(ctx.query);
    } catch (error) {
      if (error instanceof z.ZodError) throw new AppError('request.invalid', { detail: error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      throw error;
    }
    const result = await services.auditQuery.search(filter);
    const raw = Object.fromEntries(Object.entries(ctx.query).filter(([k, v]) => typeof v === 'string' && v && k !== 'before' && k !== 'lang')) as Record<string, string>;
    const olderHref = result.next ? `/admin/audit?${new URLSearchParams({ ...raw, before: result.next })}` : null;
    const newestHref = filter.before ? `/admin/audit?${new URLSearchParams(raw)}` : null;
    page(ctx, 'audit', 'audit', t('admin.audit.title'), { filter: raw, result, olderHref, newestHref, types: await services.auditQuery.types() });
  });
}
