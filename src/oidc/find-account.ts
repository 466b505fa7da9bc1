import type { FindAccount, InteractionResults, KoaContextWithOIDC } from 'oidc-provider';
import type { Account } from '../accounts/account.entity.ts';
import { toAccount, type AccountService } from '../accounts/account-service.ts';
import { readAheadKey, takeReadAhead } from './read-ahead.ts';

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

/** How long after a verified sign-in its resume may skip reading the account again. */
const freshLoginSeconds = 30;

/** The claims of an account, as the scopes above name them. */
function claimsOf(account: Account) {
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
}

/**
 * True on the redirect that resumes an authorization right after the sign-in API verified this
 * account (the interaction's result names it, stamped within the last few seconds): the account
 * was read and checked moments ago, so it need not be read again just to learn it exists.
 */
function justSignedIn(ctx: KoaContextWithOIDC | undefined, sub: string): boolean {
  if (ctx?.oidc?.route !== 'resume') return false;
  const login = (ctx.oidc.entities.Interaction as { result?: InteractionResults } | undefined)?.result?.login;
  const age = Math.floor(Date.now() / 1000) - Number(login?.ts);
  return login?.accountId === sub && age >= 0 && age <= freshLoginSeconds;
}

/**
 * oidc-provider's account lookup. A disabled or deleted account is not found, so its tokens
 * stop working at the next refresh or userinfo call. (On the resume right after a sign-in the
 * account's claims are read only if asked for: the token and userinfo endpoints read it again.)
 */
export function createFindAccount(accounts: AccountService): FindAccount {
  return async (ctx, sub) => {
    if (justSignedIn(ctx, sub)) {
      return {
        accountId: sub,
        async claims() {
          const account = await accounts.findById(sub);
          return account && !account.disabledAt ? claimsOf(account) : { sub };
        },
      };
    }
    // Read with the session or refresh token moments ago in this request, when it was (read-ahead.ts).
    const ahead = takeReadAhead(readAheadKey.account(sub));
    const account = ahead !== undefined ? (ahead && toAccount(ahead)) : await accounts.findById(sub);
    if (!account || account.disabledAt) return undefined;
    return { accountId: account.id, claims: async () => claimsOf(account) };
  };
}
