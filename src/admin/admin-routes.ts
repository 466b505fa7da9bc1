import Router from '@koa/router';
import type { Config } from '../config/schema.ts';
import type { KeyValueStore } from '../store/store.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Renderer } from '../http/render.ts';
import { AppError } from '../http/errors.ts';
import { createInternalRp } from '../http/internal-rp.ts';
import type { ClientService } from './client-service.ts';
import type { AdminConsoleServices } from './admin-services.ts';
import { adminGuard } from './admin-session.ts';
import { adminApiRoutes } from './admin-api.ts';
import { adminPageRoutes } from './admin-pages.ts';

/** The admin console's client id (a first-party public client of Tobira itself). */
export const adminClientId = 'tobira-admin';

/** The admin console's session cookie: strict same-site, /admin only, short-lived. */
export const adminCookie = { name: 'tobira_admin', sameSite: 'strict', ttlSeconds: 30 * 60 } as const;

/** What the console needs from the container. */
export interface AdminRouteDeps {
  config: Config;
  store: KeyValueStore;
  accounts: AccountService;
  audit: AuditLog;
  clients: ClientService;
  renderer: Renderer;
  admin: AdminConsoleServices;
}

/**
 * The admin console (`/admin`): pages and the JSON API they use (`/admin/api`), behind a
 * passkey sign-in through Tobira's own OpenID Connect flow and the admin role.
 */
export async function adminRoutes(deps: AdminRouteDeps): Promise<Router> {
  const { config } = deps;
  const rp = await createInternalRp({
    issuer: config.issuer, port: config.port, clientId: adminClientId, clientName: 'Tobira admin console',
    prefix: '/admin', cookie: adminCookie, store: deps.store, clients: deps.clients,
  });
  const router = new Router({ prefix: '/admin' });
  router.use(adminGuard({ rp, store: deps.store, accounts: deps.accounts, audit: deps.audit, freshSeconds: config.stepUp.validSeconds, callbackPath: '/admin/callback' }));
  router.get('/callback', (ctx) => rp.callback(ctx));
  adminApiRoutes(router, deps);
  adminPageRoutes(router, { ...deps, rp });
  // Every other path under /admin passes the guard first: nobody but an admin learns what exists.
  router.all('/{*rest}', () => { throw new AppError('not_found'); });
  return router;
}
