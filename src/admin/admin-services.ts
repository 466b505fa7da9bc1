import type { DataSource } from 'typeorm';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { KeyValueStore } from '../store/store.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import type { Mailer } from '../mail/mailer.ts';
import { createAuditQuery, type AuditQuery } from './audit-query.ts';
import { createDashboard, type Dashboard } from './dashboard.ts';
import { createMemberConsole, type MemberConsole } from './member-console.ts';

/** The services behind the admin console and its JSON API (clients are `Container.clients`). */
export interface AdminConsoleServices {
  members: MemberConsole;
  auditQuery: AuditQuery;
  dashboard: Dashboard;
}

/** Builds the admin console's services. */
export function createAdminServices(deps: {
  ds: DataSource; store: KeyValueStore; passkeyRepository: PasskeyRepository; mailer: Mailer; provider: Provider; issuer: string; logger: Logger;
}): AdminConsoleServices {
  const auditQuery = createAuditQuery(deps.ds);
  return {
    auditQuery,
    dashboard: createDashboard(deps.ds),
    members: createMemberConsole({ ...deps, passkeys: deps.passkeyRepository, auditQuery }),
  };
}
