import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../store/store.ts';
import type { SealedBox } from '../crypto/sealed-box.ts';
import type { AccountService } from '../accounts/account-service.ts';
import { normalizeEmail } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import { AppError } from '../http/errors.ts';

/** How the member asked for the link: by email, or shown as a QR code on the settings page. */
export type LinkChannel = 'email' | 'qr';

/**
 * Where an add-device link stands, as the settings page shows it: `pending` (not used yet),
 * `opened` (the other device chose "Register"), `completed` (a passkey was registered there),
 * `expired` (its lifetime ended, or it was revoked, before it was used).
 */
export type LinkState = 'pending' | 'opened' | 'completed' | 'expired';

/** One add-device link, as stored (under the hash of its token only). */
export interface AddDeviceLink {
  /** Public id: the settings page asks for the link's status by it. */
  id: string;
  accountId: string;
  /** The account's email when the link was made: a change of email revokes the link. */
  email: string;
  /** What the link is for; only `add_device` links open an enrollment. */
  purpose: 'add_device';
  channel: LinkChannel;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** What the settings page learns about a link. */
export interface LinkStatus { id: string; state: LinkState; expiresAt: number; passkeyName?: string }

interface StoredStatus { accountId: string; hash: string; state: LinkState; expiresAt: number; passkeyName?: string }

/** A new link: the token is only ever in the URL (mailed or in the QR code), never stored. */
export interface IssuedLink { link: AddDeviceLink; token: string; url: string }

/**
 * Single-use links that open registration of a passkey on another device. The token has 256
 * random bits and only its keyed hash is stored, with the link's lifetime as TTL; it is bound
 * to one account and purpose; the URL is built from the configured issuer. Reading a link
 * (a mail scanner's GET) never uses it up; using it is one atomic GETDEL. Every outstanding
 * link of an account stops working when the account's email changes or it is disabled
 * (checked at use) and when {@link AddDeviceLinks.revokeAll} is called.
 */
export interface AddDeviceLinks {
  issue(account: Account, channel: LinkChannel): Promise<IssuedLink>;
  /** The link and its account when the token is still usable; null otherwise. Changes nothing. */
  peek(token: string): Promise<{ link: AddDeviceLink; account: Account } | null>;
  /**
   * Uses the link up (atomically: one caller wins) and revokes the account's other outstanding
   * links; throws enroll.link_invalid when it is not usable.
   */
  consume(token: string): Promise<{ link: AddDeviceLink; account: Account }>;
  /** The status of one of `accountId`'s links; null when it is not theirs or long gone. */
  status(accountId: string, id: string): Promise<LinkStatus | null>;
  /** Records that the link's enrollment registered a passkey (the settings page shows it). */
  complete(id: string, passkeyName: string): Promise<void>;
  /** Revokes every outstanding link of the account (using one link does it; call it too on email change or disabling). */
  revokeAll(accountId: string): Promise<void>;
}

/** Builds the add-device links on the key-value store. */
export function createAddDeviceLinks(deps: {
  store: KeyValueStore; box: SealedBox; accounts: AccountService; issuer: string;
  /** Read at each issue, so that a test can shorten it. */
  ttlSeconds: () => number;
  /** How long an enrollment may take after the link is used (the status stays readable). */
  sessionSeconds: number;
}): AddDeviceLinks {
  const { store, box, accounts, issuer, sessionSeconds } = deps;
  const hashOf = (token: string) => box.digest(`add-device-link:${token}`);
  const linkKey = (hash: string) => `adddev:link:${hash}`;
  const statusKey = (id: string) => `adddev:status:${id}`;
  const accountKey = (accountId: string) => `adddev:account:${accountId}`;
  const wellFormed = (token: string) => /^[A-Za-z0-9_-]{43}$/.test(token);

  /** The link still speaks for the account: it exists, is not disabled, and has the same email. */
  async function holder(link: AddDeviceLink): Promise<Account | null> {
    const account = await accounts.findById(link.accountId);
    if (!account || account.disabledAt || normalizeEmail(account.email) !== link.email) return null;
    return account;
  }

  async function revokeAll(accountId: string): Promise<void> {
    const hashes = await store.smembers(accountKey(accountId));
    if (hashes.length) await store.del(...hashes.map(linkKey));
    await store.del(accountKey(accountId));
  }

  async function readStatus(id: string): Promise<StoredStatus | null> {
    const raw = await store.get(statusKey(id));
    return raw ? JSON.parse(raw) as StoredStatus : null;
  }

  async function writeStatus(id: string, status: StoredStatus): Promise<void> {
    const ttl = Math.max(1, Math.ceil((status.expiresAt - Date.now()) / 1000) + sessionSeconds);
    await store.set(statusKey(id), JSON.stringify(status), ttl);
  }

  return {
    async issue(account, channel) {
      const ttlSeconds = deps.ttlSeconds();
      const token = randomBytes(32).toString('base64url');
      const hash = hashOf(token);
      const link: AddDeviceLink = {
        id: randomBytes(16).toString('base64url'),
        accountId: account.id,
        email: normalizeEmail(account.email),
        purpose: 'add_device',
        channel,
        expiresAt: Date.now() + ttlSeconds * 1000,
      };
      await store.set(linkKey(hash), JSON.stringify(link), ttlSeconds);
      await store.sadd(accountKey(account.id), hash, ttlSeconds);
      await writeStatus(link.id, { accountId: account.id, hash, state: 'pending', expiresAt: link.expiresAt });
      return { link, token, url: `${issuer}/enroll/${token}` };
    },

    async peek(token) {
      if (!wellFormed(token)) return null;
      const raw = await store.get(linkKey(hashOf(token)));
      if (!raw) return null;
      const link = JSON.parse(raw) as AddDeviceLink;
      const account = await holder(link);
      return account && link.purpose === 'add_device' ? { link, account } : null;
    },

    async consume(token) {
      if (!wellFormed(token)) throw new AppError('enroll.link_invalid');
      const hash = hashOf(token);
      const raw = await store.getDel(linkKey(hash));
      if (!raw) throw new AppError('enroll.link_invalid');
      const link = JSON.parse(raw) as AddDeviceLink;
      // Using a link ends every other outstanding link of the account too (a resent email, a QR code).
      await revokeAll(link.accountId);
      const account = await holder(link);
      if (!account || link.purpose !== 'add_device') throw new AppError('enroll.link_invalid');
      const status = await readStatus(link.id);
      if (status) await writeStatus(link.id, { ...status, state: 'opened' });
      return { link, account };
    },

    async status(accountId, id) {
      if (!/^[A-Za-z0-9_-]{22}$/.test(id)) return null;
      const status = await readStatus(id);
      if (!status || status.accountId !== accountId) return null;
      let state = status.state;
      // Not used, and the link itself is gone: it ran out or was revoked.
      if (state === 'pending' && (status.expiresAt <= Date.now() || !(await store.get(linkKey(status.hash))))) state = 'expired';
      return { id, state, expiresAt: status.expiresAt, ...(status.passkeyName ? { passkeyName: status.passkeyName } : {}) };
    },

    async complete(id, passkeyName) {
      const status = await readStatus(id);
      if (status) await writeStatus(id, { ...status, state: 'completed', passkeyName });
    },

    revokeAll,
  };
}
