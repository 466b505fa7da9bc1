import type { KeyValueStore } from '../store/store.ts';
import { AppError } from '../http/errors.ts';

/** Which ceremony a challenge belongs to. */
export type CeremonyKind = 'auth' | 'reg';

/**
 * WebAuthn challenges: bound to what started them (an interaction), kept with a TTL equal to
 * the options' timeout, and single use (read with GETDEL). Several may be outstanding for one
 * interaction (autofill and the button run side by side); each is keyed by its own value.
 */
export interface ChallengeStore {
  put<T>(kind: CeremonyKind, binding: string, challenge: string, data: T): Promise<void>;
  /** Takes the challenge the response claims to answer; throws passkey.challenge_expired when it is unknown, expired or used. */
  take<T>(kind: CeremonyKind, binding: string, clientDataJSON: unknown): Promise<{ challenge: string; data: T }>;
}

/** Reads the challenge out of a base64url clientDataJSON, or null when it is malformed. */
export function challengeOf(clientDataJSON: unknown): string | null {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length > 4096) return null;
  try {
    const parsed = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    return typeof parsed?.challenge === 'string' && parsed.challenge.length <= 128 ? parsed.challenge : null;
  } catch {
    return null;
  }
}

/** Builds the challenge store on the key-value store. */
export function createChallengeStore(store: KeyValueStore, ttlSeconds: number): ChallengeStore {
  const key = (kind: string, binding: string, challenge: string) => `webauthn:${kind}:${binding}:${challenge}`;
  return {
    async put(kind, binding, challenge, data) {
      await store.set(key(kind, binding, challenge), JSON.stringify(data ?? null), ttlSeconds);
    },
    async take(kind, binding, clientDataJSON) {
      const challenge = challengeOf(clientDataJSON);
      if (!challenge) throw new AppError('request.invalid', { detail: 'clientDataJSON' });
      const raw = await store.getDel(key(kind, binding, challenge));
      if (raw === null) throw new AppError('passkey.challenge_expired');
      return { challenge, data: JSON.parse(raw) };
    },
  };
}
