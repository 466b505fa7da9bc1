import { generateSecret, generateURI, verify } from 'otplib';
import type { DataSource } from 'typeorm';
import type { SealedBox } from '../crypto/sealed-box.ts';

/**
 * TOTP (authenticator apps: RFC 6238, SHA-1, 6 digits, 30 s). The secret is sealed at rest;
 * each accepted code's time step is stored and a code is accepted once (a step not after the
 * last accepted one is refused, atomically).
 */
export interface TotpService {
  /** A new secret and its otpauth:// URI (for a QR code); nothing is stored yet. */
  newSecret(label: string): { secret: string; uri: string };
  /** Stores a secret after the member proved it with a code; false when the code is wrong. */
  enable(accountId: string, secret: string, code: string): Promise<boolean>;
  disable(accountId: string): Promise<void>;
  isEnabled(accountId: string): Promise<boolean>;
  /** True once for a right code (replays and older steps are refused). */
  verify(accountId: string, code: string): Promise<boolean>;
}

/** Builds the TOTP service. `issuer` names Tobira in the authenticator app. */
export function createTotpService(deps: { ds: DataSource; box: SealedBox; issuer: string }): TotpService {
  const { ds, box, issuer } = deps;
  const check = async (secret: string, code: string, afterTimeStep?: number) => {
    if (!/^\d{6}$/.test(code.trim())) return null;
    const result = await verify({ secret, token: code.trim(), epochTolerance: 30, ...(afterTimeStep !== undefined ? { afterTimeStep } : {}) });
    return result.valid && 'timeStep' in result ? (result as { timeStep: number }).timeStep : null;
  };
  const accept = async (accountId: string, step: number, sealed?: string) => {
    const rows = await ds.query(
      `WITH u AS (UPDATE accounts SET totp_last_step = $2${sealed ? ', totp_secret = $3' : ''}, updated_at = now()
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      sealed ? [accountId, step, sealed] : [accountId, step],
    );
    return rows[0].n === 1;
  };

  return {
    newSecret(label) {
      const secret = generateSecret();
      return { secret, uri: generateURI({ issuer, label, secret }) };
    },
    async enable(accountId, secret, code) {
      const step = await check(secret, code);
      return step !== null && accept(accountId, step, box.seal(secret));
    },
    async disable(accountId) {
      await ds.query('UPDATE accounts SET totp_secret = NULL, totp_last_step = NULL, updated_at = now() WHERE id = $1', [accountId]);
    },
    async isEnabled(accountId) {
      const rows = await ds.query('SELECT totp_secret IS NOT NULL AS on FROM accounts WHERE id = $1', [accountId]);
      return rows[0]?.on === true;
    },
    async verify(accountId, code) {
      const rows = await ds.query('SELECT totp_secret, totp_last_step FROM accounts WHERE id = $1', [accountId]);
      if (!rows[0]?.totp_secret) return false;
      const last = rows[0].totp_last_step === null ? undefined : Number(rows[0].totp_last_step);
      const step = await check(box.open(rows[0].totp_secret), code, last);
      return step !== null && accept(accountId, step);
    },
  };
}
