import type { MigrationInterface, QueryRunner } from 'typeorm';

/** TOTP for legacy accounts (secret sealed at rest, last accepted step) and audit-log search indexes. */
export class SecondFactorsAndAuditIndexes1763900000000 implements MigrationInterface {
  name = 'SecondFactorsAndAuditIndexes1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE accounts ADD COLUMN totp_secret text');
    await q.query('ALTER TABLE accounts ADD COLUMN totp_last_step bigint');
    await q.query('CREATE INDEX audit_events_type_idx ON audit_events (type, at DESC)');
    await q.query('CREATE INDEX audit_events_client_idx ON audit_events (client_id, at DESC) WHERE client_id IS NOT NULL');
    await q.query('CREATE INDEX accounts_phone_idx ON accounts (phone) WHERE phone IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS accounts_phone_idx');
    await q.query('DROP INDEX IF EXISTS audit_events_client_idx');
    await q.query('DROP INDEX IF EXISTS audit_events_type_idx');
    await q.query('ALTER TABLE accounts DROP COLUMN IF EXISTS totp_last_step');
    await q.query('ALTER TABLE accounts DROP COLUMN IF EXISTS totp_secret');
  }
}
