import type { FindAccount } from 'oidc-provider';
import type { AccountService } from '../accounts/account-service.ts';

/**
 * Standard claims per scope, plus `member` for the member number. `acr`, `amr` and
 * `auth_time` ride on `openid` so every ID token says how and when the member signed in.
 */
export const claimsByScope = {
  openid: ['sub', 'acr', 'amr', 'auth_time', 'sid'],
  profile: ['name', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  member: ['member_number'],
};

/**
 * oidc-provider's account lookup. A disabled or deleted account is not found, so its tokens
 * stop working at the next refresh or userinfo call.
 */
export function createFindAccount(accounts: AccountService): FindAccount {
  return async (_ctx, sub) => {
    const account = await accounts.findById(sub);
    if (!account || account.disabledAt) return undefined;
    return {
      accountId: account.id,
      async claims() {
        return {
          sub: account.id,
          name: account.name ?? undefined,
          locale: account.locale ?? undefined,
          updated_at: Math.floor(account.updatedAt.getTime() / 1000),
          email: account.email,
          email_verified: account.emailVerified,
          phone_number: account.phone ?? undefined,
          phone_number_verified: account.phone ? account.phoneVerified : undefined,
          member_number: account.memberNumber,
        };
      },
    };
  };
}
