import type { DataSource } from 'typeorm';
import type { AuditLog } from '../audit/audit-log.ts';

/** Where a change came from, for the audit log. */
export interface RequestMeta { ip?: string | null; userAgent?: string | null; clientId?: string | null }

/**
 * Password retirement: once an account has a passkey, its password (imported from an older
 * system) is turned off for good, so password sign-in answers as for a wrong password. The
 * hash is kept (an admin may need to tell what was imported) but is never checked again.
 */
export interface PasswordRetirement {
  /**
   * Turns the password off after `passkeyId` was registered, when it was still on; writes the
   * `password.disabled` audit event. True when this call turned it off (atomic: of two
   * registrations at once, one does).
   */
  afterRegistration(accountId: string, passkeyId: string, meta?: RequestMeta): Promise<boolean>;
}

/** Builds password retirement on the data source and audit log. */
export function createPasswordRetirement(deps: { ds: DataSource; audit: AuditLog }): PasswordRetirement {
  const { ds, audit } = deps;
  return {
    async afterRegistration(accountId, passkeyId, meta = {}) {
      const rows = await ds.query(
        `WITH u AS (UPDATE accounts SET password_enabled = false, updated_at = now()
           WHERE id = $1 AND password_enabled RETURNING 1)
         SELECT count(*)::int AS n FROM u`,
        [accountId],
      );
      const retired = rows[0].n === 1;
      if (retired) {
        await audit.record({ type: 'password.disabled', accountId, actorId: accountId, ...meta, data: { reason: 'first_passkey', passkeyId } });
      }
      return retired;
    },
  };
}
