import { z } from 'zod';
import type { AccountService } from '../accounts/account-service.ts';
import { isUniqueViolation } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import { providerName } from '../passkeys/provider-names.ts';
import { locales } from '../i18n/i18n.ts';
import { AppError } from '../http/errors.ts';

/** The role that opens the admin console. */
export const adminRole = 'admin';

/** What an admin gives to create a member. */
export const memberInputSchema = z.object({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(200).optional(),
  locale: z.enum(locales).default('en'),
}).strict();

export type MemberInput = z.input<typeof memberInputSchema>;

/** A passkey as the admin sees it (never the key itself). */
export interface MemberPasskeyRecord {
  name: string;
  provider: string | null;
  synced: boolean;
  created_at: string;
  last_used_at: string | null;
}

/** A member as the admin sees it; `sub` is the subject RPs receive in ID tokens. */
export interface MemberRecord {
  sub: string;
  member_number: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  locale: string | null;
  roles: string[];
  disabled: boolean;
  created_at: string;
  passkeys: MemberPasskeyRecord[];
}

/** Member administration: create, look up, disable, grant roles. Member = member number or email. */
export interface MemberAdmin {
  /**
   * Creates a member with a fresh member number. The email counts as verified: the admin
   * vouches for it, and the member can then sign in with a code sent to it.
   */
  create(input: MemberInput): Promise<MemberRecord>;
  /** Throws `not_found` when no account has this member number or email. */
  find(member: string): Promise<MemberRecord>;
  setDisabled(member: string, disabled: boolean): Promise<MemberRecord>;
  grantRole(member: string, role: string): Promise<MemberRecord>;
  revokeRole(member: string, role: string): Promise<MemberRecord>;
}

function invalid(issues: z.core.$ZodIssue[]): AppError {
  return new AppError('request.invalid', { detail: issues.map((i) => `${i.path.join('.') || 'member'}: ${i.message}`).join('; ') });
}

/** Builds member administration on the account service and passkey repository. */
export function createMemberAdmin(deps: { accounts: AccountService; passkeys: PasskeyRepository }): MemberAdmin {
  const { accounts, passkeys } = deps;

  const toRecord = async (account: Account): Promise<MemberRecord> => ({
    sub: account.id,
    member_number: account.memberNumber,
    email: account.email,
    email_verified: account.emailVerified,
    name: account.name,
    locale: account.locale,
    roles: account.roles,
    disabled: account.disabledAt !== null,
    created_at: account.createdAt.toISOString(),
    passkeys: (await passkeys.listByAccount(account.id)).map((p) => ({
      name: p.name,
      provider: providerName(p.aaguid),
      synced: p.backedUp,
      created_at: p.createdAt.toISOString(),
      last_used_at: p.lastUsedAt?.toISOString() ?? null,
    })),
  });

  const load = async (member: string): Promise<Account> => {
    const account = await accounts.findByIdentifier(member.trim());
    if (!account) throw new AppError('not_found', { detail: `no member has the member number or email ${member}` });
    return account;
  };
  const reload = async (account: Account) => toRecord((await accounts.findById(account.id))!);

  return {
    async create(input) {
      const parsed = memberInputSchema.safeParse(input);
      if (!parsed.success) throw invalid(parsed.error.issues);
      try {
        const account = await accounts.create({ ...parsed.data, emailVerified: true });
        return toRecord(account);
      } catch (error) {
        if (isUniqueViolation(error, 'email')) throw new AppError('request.invalid', { detail: `email: ${parsed.data.email} already belongs to a member` });
        throw error;
      }
    },
    async find(member) {
      return toRecord(await load(member));
    },
    async setDisabled(member, disabled) {
      const account = await load(member);
      await accounts.setDisabled(account.id, disabled);
      return reload(account);
    },
    async grantRole(member, role) {
      const account = await load(member);
      await accounts.addRole(account.id, role);
      return reload(account);
    },
    async revokeRole(member, role) {
      const account = await load(member);
      await accounts.removeRole(account.id, role);
      return reload(account);
    },
  };
}
