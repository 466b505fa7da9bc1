import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) for data kept at rest: signing keys, TOTP secrets.
 * The output is `v1.<iv>.<tag>.<ciphertext>` in base64url, so the format can change later.
 */
export interface SealedBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** A keyed hash (HMAC-SHA256) for values stored only to be compared: codes, link tokens. */
  digest(value: string): string;
}

/** Builds a {@link SealedBox} from DATA_ENCRYPTION_KEY (32 bytes, base64url). */
export function createSealedBox(keyBase64url: string): SealedBox {
  const master = Buffer.from(keyBase64url, 'base64url');
  if (master.length !== 32) throw new Error('DATA_ENCRYPTION_KEY must decode to 32 bytes');
  const encKey = createHmac('sha256', master).update('tobira:encryption').digest();
  const macKey = createHmac('sha256', master).update('tobira:digest').digest();
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), data].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    },
    open(sealed) {
      const [version, iv, tag, data] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('unknown sealed format');
      const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    },
    digest(value) {
      return createHmac('sha256', macKey).update(value).digest('base64url');
    },
  };
}
