import type { DataSource } from 'typeorm';

/** The account's phone number (E.164): set once verified by an SMS code, or removed. */
export interface PhoneNumbers {
  setVerified(accountId: string, phone: string): Promise<void>;
  remove(accountId: string): Promise<void>;
}

/** Normalizes what a member typed into E.164 (`+81 90-1234-5678` → `+819012345678`), or null. */
export function toE164(input: string): string | null {
  const compact = input.trim().replace(/[\s\-().]/g, '');
  return /^\+[1-9]\d{7,14}$/.test(compact) ? compact : null;
}

/** Builds the phone-number store on the data source. */
export function createPhoneNumbers(ds: DataSource): PhoneNumbers {
  return {
    async setVerified(accountId, phone) {
      await ds.query('UPDATE accounts SET phone = $2, phone_verified = true, updated_at = now() WHERE id = $1', [accountId, phone]);
    },
    async remove(accountId) {
      await ds.query('UPDATE accounts SET phone = NULL, phone_verified = false, updated_at = now() WHERE id = $1', [accountId]);
    },
  };
}
