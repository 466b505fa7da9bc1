import { randomUUID } from 'node:crypto';
import type { DataSource, Repository } from 'typeorm';
import { AccountEntity, type Account } from './account.entity.ts';
import { generateMemberNumber, parseMemberNumber } from './member-number.ts';
import { plainSql } from '../db/sql.ts';
import type { Locale } from '../i18n/i18n.ts';

/** Accounts: lookups by member number or email, creation with a fresh member number. */
export interface AccountService {
  findById(id: string): Promise<Account | null>;
  /** A member number (any spacing) or an email address; null when nothing matches. */
  findByIdentifier(identifier: string): Promise<Account | null>;
  findByEmail(email: string): Promise<Account | null>;
  create(input: { email: string; name?: string | null; locale: Locale; emailVerified: boolean; roles?: string[] }): Promise<Account>;
  list(options: { query?: string; limit: number }): Promise<Account[]>;
  setDisabled(id: string, disabled: boolean): Promise<void>;
  /** Adds `role` unless the account already has it. */
  addRole(id: string, role: string): Promise<void>;
  /** Removes `role` when the account has it. */
  removeRole(id: string, role: string): Promise<void>;
}

/** Normalizes an email for storage and lookup. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e.code ?? e.driverError?.code;
  const name = e.constraint ?? e.driverError?.constraint ?? String((error as Error).message);
  return code === '23505' && name.includes(constraint);
}

export { isUniqueViolation };

const accountColumns = `id, member_number, email, email_verified, name, locale, phone, phone_verified,
  password_hash, password_enabled, roles, disabled_at, created_at, updated_at`;

/** Maps an `accounts` row (selected with accountColumns, or as `row_to_json`) to an Account. */
export function toAccount(r: Record<string, any>): Account {
  return {
    id: r.id, memberNumber: r.member_number, email: r.email, emailVerified: r.email_verified, name: r.name,
    locale: r.locale, phone: r.phone, phoneVerified: r.phone_verified, passwordHash: r.password_hash,
    passwordEnabled: r.password_enabled, roles: r.roles ?? [], totpSecret: null, totpLastStep: null,
    disabledAt: r.disabled_at ? new Date(r.disabled_at) : null, createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at),
  };
}

/** Builds the account service on a data source. */
export function createAccountService(ds: DataSource): AccountService {
  const repo: Repository<Account> = ds.getRepository(AccountEntity);
  const sql = plainSql(ds);
  const byEmail = (email: string) => repo.createQueryBuilder('a').where('lower(a.email) = :email', { email: normalizeEmail(email) }).getOne();

  return {
    // On every sign-in, token and userinfo call: one plain query (a third of the ORM's cost).
    async findById(id) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
      const rows = await sql(`SELECT ${accountColumns} FROM accounts WHERE id = $1`, [id]);
      return rows.length ? toAccount(rows[0]) : null;
    },
    findByEmail: byEmail,
    async findByIdentifier(identifier) {
      const memberNumber = parseMemberNumber(identifier);
      if (memberNumber) return repo.findOneBy({ memberNumber });
      return identifier.includes('@') ? byEmail(identifier) : null;
    },
    async create(input) {
      for (let attempt = 0; ; attempt++) {
        const account: Account = {
          id: randomUUID(),
          memberNumber: generateMemberNumber(),
          email: normalizeEmail(input.email),
          emailVerified: input.emailVerified,
          name: input.name?.trim() || null,
          locale: input.locale,
          phone: null,
          phoneVerified: false,
          passwordHash: null,
          passwordEnabled: false,
          roles: input.roles ?? [],
          totpSecret: null,
          totpLastStep: null,
          disabledAt: null,
          createdAt: new Date(),
          updatedAt: new Date(),
        };
        try {
          await repo.insert(account);
          return account;
        } catch (error) {
          // A member-number collision is retried; an email collision is the caller's to handle.
          if (attempt < 5 && isUniqueViolation(error, 'member_number')) continue;
          throw error;
        }
      }
    },
    async list({ query, limit }) {
      const qb = repo.createQueryBuilder('a').orderBy('a.created_at', 'DESC').limit(limit);
      if (query) {
        const memberNumber = parseMemberNumber(query);
        if (memberNumber) qb.where('a.member_number = :m', { m: memberNumber });
        else qb.where('lower(a.email) LIKE :q', { q: `%${normalizeEmail(query).replace(/[%_\\]/g, '\\$&')}%` });
      }
      return qb.getMany();
    },
    async setDisabled(id, disabled) {
      await repo.update({ id }, { disabledAt: disabled ? new Date() : null });
    },
    async addRole(id, role) {
      // One statement, so two admins granting at once cannot drop each other's change.
      await ds.query('UPDATE accounts SET roles = array_append(roles, $2::text), updated_at = now() WHERE id = $1 AND NOT ($2 = ANY(roles))', [id, role]);
    },
    async removeRole(id, role) {
      await ds.query('UPDATE accounts SET roles = array_remove(roles, $2::text), updated_at = now() WHERE id = $1', [id, role]);
    },
  };
}
