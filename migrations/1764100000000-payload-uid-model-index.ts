import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions are looked up by uid on every sign-in, token and userinfo request, always with their
 * model. With an index on uid alone, a planner without statistics (autovacuum off or behind, a
 * table that grew fast) combined it with the primary key's `model = 'Session'` range, which
 * reads every session: the cost of a sign-in grew with the table. An index on (uid, model)
 * answers the whole condition, whatever the statistics say.
 */
export class PayloadUidModelIndex1764100000000 implements MigrationInterface {
  name = 'PayloadUidModelIndex1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX oidc_payloads_uid_model_idx ON oidc_payloads (uid, model) WHERE uid IS NOT NULL');
    await q.query('DROP INDEX oidc_payloads_uid_idx');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX oidc_payloads_uid_idx ON oidc_payloads (uid) WHERE uid IS NOT NULL');
    await q.query('DROP INDEX oidc_payloads_uid_model_idx');
  }
}
