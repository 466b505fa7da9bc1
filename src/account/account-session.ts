import type { Context } from 'koa';
import { signedOutEverywhereAt } from '../admin/member-console.ts';
import { createInternalRp, type InternalRp, type RpSession } from '../http/internal-rp.ts';
import type { KeyValueStore } from '../store/store.ts';
import type { ClientService } from '../admin/client-service.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import { AppError } from '../http/errors.ts';
import { accountClientId } from './notify.ts';

/** Path prefix of the account area. */
export const accountPrefix = '/account';

/** A signed-in member in the account area: the session and the account as stored now. */
export interface Member { session: RpSession; account: Account }

/** Sessions of the account area: sign-in through Tobira itself, and the guards of pages and API. */
export interface AccountSessions {
  rp: InternalRp;
  /**
   * The member of a page request, or null after sending the browser through sign-in (and back
   * to this very page).
   */
  forPage(ctx: Context): Promise<Member | null>;
  /** The member of an API request; throws session.required (401) without a session. */
  forApi(ctx: Context): Promise<Member>;
}

/** Registers the `tobira-account` client and builds the account area's sessions. */
export async function createAccountSessions(deps: {
  issuer: string; port: number; store: KeyValueStore; clients: ClientService; accounts: AccountService; ttlSeconds: number;
}): Promise<AccountSessions> {
  const rp = await createInternalRp({
    issuer: deps.issuer, port: deps.port, clientId: accountClientId, clientName: 'Tobira account settings',
    prefix: accountPrefix, cookie: { name: 'tobira_account', sameSite: 'lax', ttlSeconds: deps.ttlSeconds },
    store: deps.store, clients: deps.clients,
  });

  /** The session's account, unless it is gone or disabled (then the session ends too). */
  async function member(ctx: Context): Promise<Member | null> {
    const session = await rp.session(ctx);
    if (!session) return null;
    // "Sign out everywhere" (admin console) ends settings sessions that began before it.
    const signedOutAt = await signedOutEverywhereAt(deps.store, session.accountId);
    if (signedOutAt !== null && session.authTime <= signedOutAt) {
      await rp.destroy(ctx);
      return null;
    }
    const account = await deps.accounts.findById(session.accountId);
    if (!account || account.disabledAt) {
      await rp.destroy(ctx);
      if (account?.disabledAt) throw new AppError('account.disabled');
      return null;
    }
    return { session, account };
  }

  return {
    rp,
    async forPage(ctx) {
      const found = await member(ctx);
      if (found) return found;
      const returnTo = ctx.path.startsWith(accountPrefix) ? ctx.path : accountPrefix;
      await rp.signIn(ctx, { returnTo, locale: ctx.state.locale });
      return null;
    },
    async forApi(ctx) {
      const found = await member(ctx);
      if (!found) throw new AppError('session.required');
      return found;
    },
  };
}
