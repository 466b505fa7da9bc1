import { randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { KeyValueStore } from '../store/store.ts';
import type { SealedBox } from '../crypto/sealed-box.ts';
import { AppError } from '../http/errors.ts';

/** Wrong guesses allowed before a code is burned. */
export const maxCodeAttempts = 5;

/** What a one-time code is for; one live code per purpose and subject. */
export type CodePurpose = 'signin' | 'signup' | 'step_up_email' | 'step_up_sms' | 'phone_verify' | 'recovery_email' | 'recovery_sms' | 'password_sms';

interface StoredCode<T> { id: string; hash: string; payload: T }

/**
 * One-time codes: 6 digits, stored only as a keyed hash with a TTL, at most
 * {@link maxCodeAttempts} wrong attempts counted atomically (parallel guesses get no extra
 * tries), single use, and a new code replaces the previous one (with a fresh attempt count).
 */
export interface CodeStore {
  /** Issues a code for `subject` (e.g. an interaction id) carrying `payload`; returns the code. */
  issue<T>(purpose: CodePurpose, subject: string, payload: T): Promise<string>;
  /** Checks a code; returns its payload once, or throws code.invalid / code.expired / code.too_many_attempts. */
  verify<T>(purpose: CodePurpose, subject: string, code: string): Promise<T>;
}

/** Builds the code store on the key-value store. */
export function createCodeStore(deps: { store: KeyValueStore; box: SealedBox; ttlSeconds: number }): CodeStore {
  const { store, box, ttlSeconds } = deps;
  const keyOf = (purpose: string, subject: string) => `code:${purpose}:${subject}`;
  // Each issued code has its own counter, so a resend starts afresh without a separate reset
  // step that could interleave with guesses on the old code.
  const attemptsKeyOf = (key: string, id: string) => `${key}:attempts:${id}`;
  const hashOf = (key: string, code: string) => box.digest(`${key}:${code}`);

  function matches(stored: string, key: string, code: string): boolean {
    const expected = Buffer.from(stored);
    const actual = Buffer.from(hashOf(key, code.trim()));
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  return {
    async issue(purpose, subject, payload) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const key = keyOf(purpose, subject);
      const stored: StoredCode<typeof payload> = { id: randomUUID(), hash: hashOf(key, code), payload };
      await store.set(key, JSON.stringify(stored), ttlSeconds);
      return code;
    },
    async verify<T>(purpose: CodePurpose, subject: string, code: string): Promise<T> {
      const key = keyOf(purpose, subject);
      const raw = await store.get(key);
      if (!raw) throw new AppError('code.expired');
      const stored = JSON.parse(raw) as StoredCode<T>;
      // Counted before comparing: of any number of parallel guesses, only the first
      // maxCodeAttempts are compared at all. A burned code stays in place (it can no longer
      // match) so that parallel guesses all get the same answer.
      const attempts = await store.incr(attemptsKeyOf(key, stored.id), ttlSeconds);
      if (attempts > maxCodeAttempts) throw new AppError('code.too_many_attempts');
      if (!matches(stored.hash, key, code)) {
        if (attempts >= maxCodeAttempts) throw new AppError('code.too_many_attempts');
        throw new AppError('code.invalid', { remaining: maxCodeAttempts - attempts });
      }
      // Single use: only the caller that deletes this very code gets its payload.
      const taken = await store.getDel(key);
      if (taken !== raw) throw new AppError('code.expired');
      await store.del(attemptsKeyOf(key, stored.id));
      return stored.payload;
    },
  };
}
