import type { DataSource } from 'typeorm';
import { plainSql } from '../db/sql.ts';
import type { Logger } from 'pino';

/** Kinds of audit events. */
export type AuditType =
  | 'signin.success' | 'signin.failure' | 'signup' | 'passkey.registered'
  | 'consent.granted' | 'consent.denied' | 'admin.client_changed' | 'admin.member_changed'
  | 'passkey.renamed' | 'passkey.removed' | 'password.disabled' | 'totp.enabled' | 'totp.disabled'
  | 'phone.verified' | 'phone.removed' | 'step_up.success' | 'step_up.failure'
  | 'add_device.link_created' | 'add_device.link_used' | 'recovery.code_sent' | 'recovery.verified' | 'recovery.failure' | 'recovery.completed'
  | 'admin.passkey_revoked' | 'admin.signed_out_everywhere' | 'admin.recovery_email_sent' | 'admin.access_denied' | 'admin.signin';

/** One audit event: who, what, from where. */
export interface AuditEvent {
  type: AuditType;
  accountId?: string | null;
  actorId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  data?: Record<string, unknown>;
}

/** Appends to the audit log (Postgres). A failure to write is logged, never fatal to the member's request. */
export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
}

/** The columns of `audit_events` an event fills, in the order of {@link auditValues}. */
export const auditColumns = 'type, account_id, actor_id, client_id, ip, user_agent, data';

/** An event's values for {@link auditColumns}, as query parameters. */
export function auditValues(event: AuditEvent): unknown[] {
  return [event.type, event.accountId ?? null, event.actorId ?? null, event.clientId ?? null, event.ip ?? null,
    event.userAgent?.slice(0, 512) ?? null, JSON.stringify(event.data ?? {})];
}

/** Builds the audit log on a data source. */
export function createAuditLog(ds: DataSource, logger: Logger): AuditLog {
  const sql = plainSql(ds);
  return {
    async record(event) {
      try {
        await sql(`INSERT INTO audit_events (${auditColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, auditValues(event));
      } catch (error) {
        logger.warn({ err: error, type: event.type }, 'audit event not written');
      }
    },
  };
}
