import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Change notifications for rows that instances cache (src/db/change-feed.ts): every insert,
 * update or delete of a client notifies `tobira_changes` with `oidc_clients:<client_id>` when its
 * transaction commits, whoever wrote it (the console, the CLI, plain SQL).
 */
export class ChangeNotifications1764000000000 implements MigrationInterface {
  name = 'ChangeNotifications1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION tobira_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('tobira_changes', TG_TABLE_NAME || ':' ||
          (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END ->> TG_ARGV[0]));
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER oidc_clients_changed AFTER INSERT OR UPDATE OR DELETE ON oidc_clients
      FOR EACH ROW EXECUTE FUNCTION tobira_notify_change('client_id')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER IF EXISTS oidc_clients_changed ON oidc_clients');
    await q.query('DROP FUNCTION IF EXISTS tobira_notify_change()');
  }
}
