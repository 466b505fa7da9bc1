import type { DataSource, Repository } from 'typeorm';
import { PasskeyEntity, type Passkey } from './passkey.entity.ts';
import { toAccount } from '../accounts/account-service.ts';
import { plainSql } from '../db/sql.ts';
import type { Account } from '../accounts/account.entity.ts';
import { auditColumns, auditValues, type AuditEvent } from '../audit/audit-log.ts';

/** Stored passkeys. */
export interface PasskeyRepository {
  findByCredentialId(credentialId: string): Promise<Passkey | null>;
  /** A passkey and its account in one query (every passkey sign-in); null when the credential is unknown. */
  findWithAccount(credentialId: string): Promise<{ passkey: Passkey; account: Account | null } | null>;
  listByAccount(accountId: string): Promise<Passkey[]>;
  insert(passkey: Passkey): Promise<void>;
  /**
   * Records a successful sign-in. The counter only moves forward: a concurrent older assertion
   * cannot roll it back. Returns false when the stored counter had already passed `counter`.
   * With `audit`, the same statement appends that event for the passkey's account, only when
   * the use was recorded (one write and one commit for a sign-in instead of two).
   */
  recordUse(id: string, counter: number, audit?: Omit<AuditEvent, 'accountId'>): Promise<boolean>;
  /** Renames one of the account's passkeys; null when the account has no passkey with this id. */
  rename(accountId: string, id: string, name: string): Promise<Passkey | null>;
  /**
   * Removes one of the account's passkeys. The last one is only removed when `allowLast` (the
   * member keeps another way in); the check and the delete happen under a lock on the account,
   * so two removals at once cannot both pass the count.
   */
  remove(accountId: string, id: string, options: { allowLast: boolean }): Promise<PasskeyRemoval>;
}

/** What {@link PasskeyRepository.remove} did. */
export type PasskeyRemoval =
  | { status: 'removed'; passkey: Passkey; remaining: Passkey[] }
  | { status: 'not_found' }
  | { status: 'last_refused'; passkey: Passkey };

/** Moves passkey $1's counter to $2 (only forward, or 0 staying 0) and stamps its use. */
const moveCounter = `UPDATE passkeys SET counter = $2, last_used_at = now()
  WHERE id = $1 AND (counter < $2 OR ($2 = 0 AND counter = 0)) RETURNING account_id`;

/** Builds the passkey repository on a data source. */
export function createPasskeyRepository(ds: DataSource): PasskeyRepository {
  const repo: Repository<Passkey> = ds.getRepository(PasskeyEntity);
  const sql = plainSql(ds);
  return {
    async findByCredentialId(credentialId) {
      const rows = await ds.query('SELECT * FROM passkeys WHERE credential_id = $1', [credentialId]);
      return rows.length ? toPasskey(rows[0]) : null;
    },
    // On every passkey sign-in: one plain query for the passkey and its account.
    async findWithAccount(credentialId) {
      const rows = await sql(
        'SELECT p.*, row_to_json(a) AS account FROM passkeys p LEFT JOIN accounts a ON a.id = p.account_id WHERE p.credential_id = $1',
        [credentialId],
      );
      if (!rows.length) return null;
      return { passkey: toPasskey(rows[0]), account: rows[0].account ? toAccount(rows[0].account) : null };
    },
    listByAccount: (accountId) => repo.find({ where: { accountId }, order: { createdAt: 'ASC' } }),
    async insert(passkey) { await repo.insert(passkey); },
    async recordUse(id, counter, audit) {
      if (!audit) return (await sql(`WITH u AS (${moveCounter}) SELECT count(*)::int AS n FROM u`, [id, counter]))[0].n === 1;
      // The event's account is the passkey's (the second value, filled from the row).
      const [type, , ...rest] = auditValues(audit);
      const rows = await sql(
        `WITH u AS (${moveCounter}),
           a AS (INSERT INTO audit_events (${auditColumns}) SELECT $3, u.account_id, $4, $5, $6, $7, $8 FROM u)
         SELECT count(*)::int AS n FROM u`,
        [id, counter, type, ...rest],
      );
      return rows[0].n === 1;
    },
    async rename(accountId, id, name) {
      if (!isUuid(id)) return null;
      const result = await repo.update({ id, accountId }, { name });
      return result.affected ? repo.findOneBy({ id, accountId }) : null;
    },
    async remove(accountId, id, { allowLast }) {
      if (!isUuid(id)) return { status: 'not_found' };
      return ds.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
        const keys = await tx.getRepository(PasskeyEntity).find({ where: { accountId }, order: { createdAt: 'ASC' } });
        const passkey = keys.find((k) => k.id === id);
        if (!passkey) return { status: 'not_found' };
        if (keys.length === 1 && !allowLast) return { status: 'last_refused', passkey };
        await tx.getRepository(PasskeyEntity).delete({ id, accountId });
        return { status: 'removed', passkey, remaining: keys.filter((k) => k.id !== id) };
      });
    },
  };
}

/** Maps a `passkeys` row to a Passkey. */
function toPasskey(r: Record<string, any>): Passkey {
  return {
    id: r.id, accountId: r.account_id, credentialId: r.credential_id, publicKey: Buffer.from(r.public_key),
    counter: Number(r.counter), transports: r.transports ?? [], aaguid: r.aaguid, deviceType: r.device_type,
    backedUp: r.backed_up, name: r.name, createdAt: new Date(r.created_at), lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
  };
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
