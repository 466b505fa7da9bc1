import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Accounts, passkeys, OIDC state that must survive restarts, signing keys and the audit log. */
export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        id uuid PRIMARY KEY,
        member_number varchar(16) NOT NULL UNIQUE,
        email varchar(254) NOT NULL,
        email_verified boolean NOT NULL DEFAULT false,
        name varchar(200),
        locale varchar(8),
        phone varchar(32),
        phone_verified boolean NOT NULL DEFAULT false,
        password_hash text,
        password_enabled boolean NOT NULL DEFAULT false,
        roles text[] NOT NULL DEFAULT '{}',
        disabled_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email))');
    await q.query(`
      CREATE TABLE passkeys (
        id uuid PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        credential_id varchar(1400) NOT NULL UNIQUE,
        public_key bytea NOT NULL,
        counter bigint NOT NULL DEFAULT 0,
        transports text[] NOT NULL DEFAULT '{}',
        aaguid varchar(36) NOT NULL,
        device_type varchar(16) NOT NULL,
        backed_up boolean NOT NULL,
        name varchar(100) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      )`);
    await q.query('CREATE INDEX passkeys_account_idx ON passkeys (account_id)');
    await q.query(`
      CREATE TABLE oidc_payloads (
        model varchar(40) NOT NULL,
        id varchar(255) NOT NULL,
        payload jsonb NOT NULL,
        grant_id varchar(255),
        uid varchar(255),
        account_id varchar(255),
        expires_at timestamptz,
        consumed_at timestamptz,
        PRIMARY KEY (model, id)
      )`);
    await q.query('CREATE INDEX oidc_payloads_grant_idx ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL');
    await q.query('CREATE INDEX oidc_payloads_uid_idx ON oidc_payloads (uid) WHERE uid IS NOT NULL');
    await q.query('CREATE INDEX oidc_payloads_account_idx ON oidc_payloads (account_id) WHERE account_id IS NOT NULL');
    await q.query('CREATE INDEX oidc_payloads_expires_idx ON oidc_payloads (expires_at)');
    await q.query(`
      CREATE TABLE oidc_clients (
        client_id varchar(255) PRIMARY KEY,
        metadata jsonb NOT NULL,
        disabled boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE signing_keys (
        kid varchar(64) PRIMARY KEY,
        alg varchar(16) NOT NULL,
        encrypted_jwk text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        type varchar(64) NOT NULL,
        account_id uuid,
        actor_id uuid,
        client_id varchar(255),
        ip varchar(64),
        user_agent varchar(512),
        data jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query('CREATE INDEX audit_events_account_idx ON audit_events (account_id, at DESC)');
    await q.query('CREATE INDEX audit_events_at_idx ON audit_events (at DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['audit_events', 'signing_keys', 'oidc_clients', 'oidc_payloads', 'passkeys', 'accounts']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
