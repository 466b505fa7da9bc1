import type { DataSource } from 'typeorm';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { AccountEntity, type Account } from '../accounts/account.entity.ts';
import { parseMemberNumber } from '../accounts/member-number.ts';
import { normalizeEmail } from '../accounts/account-service.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import { providerName } from '../passkeys/provider-names.ts';
import type { KeyValueStore } from '../store/store.ts';
import type { Mailer } from '../mail/mailer.ts';
import { createAdapterFactory } from '../oidc/adapter.ts';
import { isLocale } from '../i18n/i18n.ts';
import { AppError } from '../http/errors.ts';
import type { AuditQuery, AuditRecord } from './audit-query.ts';

/** A member in search results. */
export interface MemberSummary {
  sub: string;
  member_number: string;
  email: string;
  phone: string | null;
  name: string | null;
  disabled: boolean;
  roles: string[];
  created_at: string;
}

/** A passkey as the admin sees it, with the id needed to revoke it (never the key itself). */
export interface MemberPasskey {
  id: string;
  name: string;
  provider: string | null;
  synced: boolean;
  created_at: string;
  last_used_at: string | null;
}

/** A sign-in session at Tobira (its id is a cookie value: never shown). */
export interface MemberSession {
  uid: string;
  signed_in_at: string | null;
  acr: string | null;
  amr: string[];
  expires_at: string | null;
  client_ids: string[];
  /** The clients' names, in the order of `client_ids`. */
  client_names: string[];
}

/** What one application holds for the member: its grant (consented scopes) and live refresh tokens. */
export interface MemberApplication {
  client_id: string;
  client_name: string | null;
  scope: string;
  granted_at: string | null;
  expires_at: string | null;
  refresh_tokens: number;
  sessions: number;
}

/** Everything the member page shows. */
export interface MemberDetail extends MemberSummary {
  email_verified: boolean;
  phone_verified: boolean;
  locale: string | null;
  password_enabled: boolean;
  updated_at: string;
  passkeys: MemberPasskey[];
  sessions: MemberSession[];
  applications: MemberApplication[];
  recent_events: AuditRecord[];
}

/** The member operations of the admin console. `sub` is the account id. */
export interface MemberConsole {
  /** Members whose member number, email (prefix) or phone matches; newest first. */
  search(query: string, limit?: number): Promise<MemberSummary[]>;
  /** Throws `not_found` when there is no such member. */
  detail(sub: string): Promise<MemberDetail>;
  /** Disables or re-enables sign-in (tokens stop working at the next refresh or userinfo call). */
  setDisabled(sub: string, disabled: boolean): Promise<MemberSummary>;
  /** Deletes one passkey of the member; throws `not_found` when the member has no such passkey. */
  revokePasskey(sub: string, passkeyId: string): Promise<MemberPasskey>;
  /**
   * Ends every Tobira session of the member and revokes every grant (so refresh and access
   * tokens stop working), in one statement; then notifies clients with a back-channel logout URI.
   */
  signOutEverywhere(sub: string): Promise<{ sessions: number; grants: number }>;
  /** Emails the member a link to the recovery page. */
  sendRecoveryEmail(sub: string): Promise<void>;
}

/** How long the "signed out everywhere" mark is kept: longer than any area session of Tobira lives. */
const signedOutMarkSeconds = 7 * 86_400;
const signedOutKey = (accountId: string) => `account:signed-out-at:${accountId}`;

/**
 * When an admin last signed the member out everywhere (epoch seconds), or null. Tobira's own
 * areas (account settings, admin console) keep sessions of their own: one whose `authTime` is not
 * after this mark has ended too.
 */
export async function signedOutEverywhereAt(store: KeyValueStore, accountId: string): Promise<number | null> {
  const raw = await store.get(signedOutKey(accountId));
  return raw ? Number(raw) : null;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function summary(a: Account): MemberSummary {
  return {
    sub: a.id, member_number: a.memberNumber, email: a.email, phone: a.phone, name: a.name,
    disabled: a.disabledAt !== null, roles: a.roles, created_at: a.createdAt.toISOString(),
  };
}

function passkeyRecord(p: { id: string; name: string; aaguid: string; backedUp: boolean; createdAt: Date; lastUsedAt: Date | null }): MemberPasskey {
  return {
    id: p.id, name: p.name, provider: providerName(p.aaguid), synced: p.backedUp,
    created_at: p.createdAt.toISOString(), last_used_at: p.lastUsedAt?.toISOString() ?? null,
  };
}

const iso = (epochSeconds: unknown) => (typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : null);
const isoDate = (d: unknown) => (d ? new Date(d as string).toISOString() : null);

type PayloadRow = { model: string; payload: Record<string, unknown>; grant_id: string | null; expires_at: Date | null; consumed_at?: Date | null };

/** Sessions and per-application grants from the rows oidc-provider keeps in `oidc_payloads`. */
function sessionsAndApplications(rows: PayloadRow[], names: Map<string, string>): { sessions: MemberSession[]; applications: MemberApplication[] } {
  const sessions: MemberSession[] = rows.filter((r) => r.model === 'Session').map((r) => {
    const p = r.payload;
    return {
      uid: String(p.uid ?? ''),
      signed_in_at: iso(p.loginTs),
      acr: typeof p.acr === 'string' ? p.acr : null,
      amr: Array.isArray(p.amr) ? p.amr.map(String) : [],
      expires_at: isoDate(r.expires_at),
      client_ids: Object.keys((p.authorizations as Record<string, unknown> | undefined) ?? {}),
      client_names: [] as string[],
    };
  });
  const byClient = new Map<string, MemberApplication>();
  const app = (clientId: string) => {
    let a = byClient.get(clientId);
    if (!a) {
      a = { client_id: clientId, client_name: names.get(clientId) ?? null, scope: '', granted_at: null, expires_at: null, refresh_tokens: 0, sessions: 0 };
      byClient.set(clientId, a);
    }
    return a;
  };
  for (const r of rows) {
    const clientId = typeof r.payload.clientId === 'string' ? r.payload.clientId : undefined;
    if (r.model === 'Grant' && clientId) {
      const a = app(clientId);
      a.scope = String((r.payload.openid as { scope?: string } | undefined)?.scope ?? '');
      a.granted_at = iso(r.payload.iat);
      a.expires_at = isoDate(r.expires_at);
    } else if (r.model === 'RefreshToken' && clientId && !r.consumed_at) {
      app(clientId).refresh_tokens++;
    }
  }
  for (const s of sessions) {
    for (const clientId of s.client_ids) app(clientId).sessions++;
    s.client_names = s.client_ids.map((id) => names.get(id) ?? id);
  }
  return { sessions, applications: [...byClient.values()].sort((a, b) => a.client_id.localeCompare(b.client_id)) };
}

/** Builds the member operations of the console. */
export function createMemberConsole(deps: {
  ds: DataSource; store: KeyValueStore; passkeys: PasskeyRepository; mailer: Mailer; auditQuery: AuditQuery;
  provider: Provider; issuer: string; logger: Logger;
}): MemberConsole {
  const { ds, store, passkeys, mailer, auditQuery, provider, issuer, logger } = deps;
  const repo = ds.getRepository(AccountEntity);
  const grantAdapter = createAdapterFactory({ ds, store })('Grant');

  const load = async (sub: string): Promise<Account> => {
    const account = uuid.test(sub) ? await repo.findOneBy({ id: sub }) : null;
    if (!account) throw new AppError('not_found', { detail: 'no such member' });
    return account;
  };

  /** Tells clients with a back-channel logout URI that these sessions ended (best effort). */
  const backchannel = async (accountId: string, rows: PayloadRow[]) => {
    for (const row of rows.filter((r) => r.model === 'Session')) {
      const authorizations = (row.payload.authorizations ?? {}) as Record<string, { sid?: string }>;
      for (const [clientId, { sid }] of Object.entries(authorizations)) {
        const client = await provider.Client.find(clientId).catch(() => undefined) as
          { backchannelLogoutUri?: string; backchannelLogout(sub: string, sid: string): Promise<void> } | undefined;
        if (!client?.backchannelLogoutUri || !sid) continue;
        await client.backchannelLogout(accountId, sid).catch((err: unknown) => logger.warn({ err, clientId }, 'back-channel logout failed'));
      }
    }
  };

  return {
    async search(query, limit = 50) {
      const q = query.trim();
      if (!q) return [];
      const qb = repo.createQueryBuilder('a').orderBy('a.created_at', 'DESC').limit(limit);
      const memberNumber = parseMemberNumber(q);
      const digits = q.replace(/[^\d]/g, '');
      const conditions: string[] = [];
      const params: Record<string, string> = {};
      if (memberNumber) { conditions.push('a.member_number = :m'); params.m = memberNumber; }
      if (q.includes('@')) {
        conditions.push('lower(a.email) LIKE :e');
        params.e = `${normalizeEmail(q).replace(/[%_\\]/g, '\\$&')}%`;
      }
      if (/^[+\d\s().-]+$/.test(q) && digits.length >= 6) {
        // "+81 90-1234-5678" matches exactly; "090 1234 5678" matches the stored +8190… by its national part.
        conditions.push(q.startsWith('+') ? 'a.phone = :p' : "a.phone LIKE :pl");
        params.p = `+${digits}`;
        params.pl = `%${digits.replace(/^0+/, '')}`;
      }
      if (uuid.test(q)) { conditions.push('a.id = :id'); params.id = q; }
      if (!conditions.length) return [];
      qb.where(conditions.map((c) => `(${c})`).join(' OR '), params);
      return (await qb.getMany()).map(summary);
    },

    async detail(sub) {
      const account = await load(sub);
      const rows: PayloadRow[] = await ds.query(
        `SELECT model, payload, grant_id, expires_at, consumed_at FROM oidc_payloads
         WHERE account_id = $1 AND model IN ('Session', 'Grant', 'RefreshToken') AND (expires_at IS NULL OR expires_at > now())
         ORDER BY model, expires_at`, [account.id]);
      const clientIds = [...new Set(rows.flatMap((r) => [r.payload.clientId, ...Object.keys((r.payload.authorizations as object | undefined) ?? {})])
        .filter((c): c is string => typeof c === 'string'))];
      const named: { client_id: string; name: string | null }[] = clientIds.length
        ? await ds.query(`SELECT client_id, metadata->>'client_name' AS name FROM oidc_clients WHERE client_id = ANY($1)`, [clientIds])
        : [];
      const names = new Map(named.map((n) => [n.client_id, n.name ?? n.client_id]));
      const { sessions, applications } = sessionsAndApplications(rows, names);
      const events = await auditQuery.search({ member: account.id, limit: 20 });
      return {
        ...summary(account),
        email_verified: account.emailVerified,
        phone_verified: account.phoneVerified,
        locale: account.locale,
        password_enabled: account.passwordEnabled,
        updated_at: account.updatedAt.toISOString(),
        passkeys: (await passkeys.listByAccount(account.id)).map(passkeyRecord),
        sessions,
        applications,
        recent_events: events.events,
      };
    },

    async setDisabled(sub, disabled) {
      const account = await load(sub);
      await ds.query('UPDATE accounts SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) ELSE NULL END, updated_at = now() WHERE id = $1', [account.id, disabled]);
      return summary((await repo.findOneBy({ id: account.id }))!);
    },

    async revokePasskey(sub, passkeyId) {
      const account = await load(sub);
      if (!uuid.test(passkeyId)) throw new AppError('not_found', { detail: 'no such passkey' });
      const rows: { id: string; name: string; aaguid: string; backed_up: boolean; created_at: Date; last_used_at: Date | null }[] = await ds.query(
        `WITH d AS (DELETE FROM passkeys WHERE id = $1 AND account_id = $2 RETURNING id, name, aaguid, backed_up, created_at, last_used_at)
         SELECT * FROM d`, [passkeyId, account.id]);
      if (!rows.length) throw new AppError('not_found', { detail: 'no such passkey' });
      const r = rows[0];
      return passkeyRecord({ id: r.id, name: r.name, aaguid: r.aaguid, backedUp: r.backed_up, createdAt: new Date(r.created_at), lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null });
    },

    async signOutEverywhere(sub) {
      const account = await load(sub);
      // One statement: the sessions, the grants and everything issued under them go together.
      const deleted: PayloadRow[] = await ds.query(
        `WITH g AS (SELECT id FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1),
              d AS (DELETE FROM oidc_payloads WHERE account_id = $1 OR grant_id IN (SELECT id FROM g)
                    RETURNING model, id, payload, grant_id, expires_at)
         SELECT model, id, payload, grant_id, expires_at FROM d`, [account.id]);
      await store.set(signedOutKey(account.id), String(Math.floor(Date.now() / 1000)), signedOutMarkSeconds);
      const grantIds = deleted.filter((r) => r.model === 'Grant').map((r) => (r as PayloadRow & { id: string }).id);
      // Access tokens and codes live in the key-value store, indexed by grant.
      for (const grantId of grantIds) await grantAdapter.revokeByGrantId!(grantId);
      await backchannel(account.id, deleted);
      return { sessions: deleted.filter((r) => r.model === 'Session').length, grants: grantIds.length };
    },

    async sendRecoveryEmail(sub) {
      const account = await load(sub);
      const locale = isLocale(account.locale) ? account.locale : 'en';
      await mailer.send({
        to: account.email, locale, template: 'admin.mail.recovery',
        params: { memberNumber: account.memberNumber },
        link: { url: `${issuer}/recover`, labelKey: 'admin.mail.recovery.link' },
      });
    },
  };
}
