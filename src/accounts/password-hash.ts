/**
 * Verification of password hashes imported from older systems. Tobira never creates password
 * hashes: members of a legacy system keep their password until their first passkey, which turns
 * it off for good. A hash is therefore kept exactly as imported (no rehash to argon2id on
 * sign-in: it would be work for a secret that is about to be retired).
 *
 * Accepted formats (`describeHash` says which, or why not):
 *
 * | scheme | format |
 * |---|---|
 * | bcrypt | `$2a$`, `$2b$` or `$2y$` + cost + 53 characters (`$2y$` is PHP's name for `$2b$`) |
 * | argon2 | PHC string: `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`, also `$argon2i$` |
 * | PBKDF2 (PHC) | `$pbkdf2-sha256$i=310000$<salt>$<hash>`: digest `sha1`, `sha256` or `sha512` (`$pbkdf2$` = sha1); the rounds as `i=N` (an `,l=N` after it is ignored: the length is the hash's) or a bare `N` as passlib writes it; salt and hash base64, with or without padding, passlib's `.` for `+` accepted |
 * | PBKDF2 (Django) | `pbkdf2_sha256$<iterations>$<salt>$<hash base64>`, also `pbkdf2_sha1`: the salt is used as its UTF-8 text |
 *
 * Limits keep one sign-in from costing the server too much: bcrypt cost 4–15; argon2 memory at
 * most 256 MiB, at most 20 passes and 16 lanes; PBKDF2 1 to 5,000,000 iterations with a hash of
 * 16 to 64 bytes. A hash outside them is refused at import and never matches.
 *
 * @packageDocumentation
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import * as argon2 from '@node-rs/argon2';

const pbkdf2Async = promisify(pbkdf2);

/** The families of password hashes Tobira verifies. */
export type PasswordScheme = 'bcrypt' | 'argon2' | 'pbkdf2';

/** What {@link describeHash} finds: the scheme of a usable hash, or why it cannot be used. */
export type HashDescription = { ok: true; scheme: PasswordScheme } | { ok: false; reason: string };

interface Pbkdf2Hash { digest: 'sha1' | 'sha256' | 'sha512'; iterations: number; salt: Buffer; hash: Buffer }

const limits = {
  bcryptCost: { min: 4, max: 15 },
  argon2: { memoryKiB: 262_144, passes: 20, lanes: 16 },
  pbkdf2: { iterations: 5_000_000, minBytes: 16, maxBytes: 64 },
};

const bcryptPattern = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const argon2Pattern = /^\$argon2(id|i)\$/;
const phcPbkdf2Pattern = /^\$pbkdf2(?:-(sha1|sha256|sha512))?\$(?:i=)?(\d{1,10})(?:,l=\d{1,3})?\$([A-Za-z0-9+/.]*={0,2})\$([A-Za-z0-9+/.]+={0,2})$/;
const djangoPbkdf2Pattern = /^pbkdf2_(sha1|sha256)\$(\d{1,10})\$([^$]{1,128})\$([A-Za-z0-9+/]+={0,2})$/;

/** Base64 as legacy systems write it: standard or passlib's adapted alphabet, padding optional. */
function fromBase64(text: string): Buffer {
  return Buffer.from(text.replace(/\./g, '+'), 'base64');
}

function parsePbkdf2(hash: string): Pbkdf2Hash | null {
  const phc = phcPbkdf2Pattern.exec(hash);
  if (phc) return { digest: (phc[1] ?? 'sha1') as Pbkdf2Hash['digest'], iterations: Number(phc[2]), salt: fromBase64(phc[3]), hash: fromBase64(phc[4]) };
  const django = djangoPbkdf2Pattern.exec(hash);
  if (django) return { digest: django[1] as Pbkdf2Hash['digest'], iterations: Number(django[2]), salt: Buffer.from(django[3], 'utf8'), hash: fromBase64(django[4]) };
  return null;
}

function describePbkdf2(parsed: Pbkdf2Hash): HashDescription {
  const { iterations, hash } = parsed;
  if (iterations < 1 || iterations > limits.pbkdf2.iterations) return { ok: false, reason: `PBKDF2 iterations must be from 1 to ${limits.pbkdf2.iterations}` };
  if (hash.length < limits.pbkdf2.minBytes || hash.length > limits.pbkdf2.maxBytes) return { ok: false, reason: `a PBKDF2 hash must be ${limits.pbkdf2.minBytes} to ${limits.pbkdf2.maxBytes} bytes` };
  return { ok: true, scheme: 'pbkdf2' };
}

function describeArgon2(hash: string): HashDescription {
  let options;
  try {
    options = argon2.parseOptions(hash);
  } catch {
    return { ok: false, reason: 'not a valid argon2 PHC string' };
  }
  const { memoryKiB, passes, lanes } = limits.argon2;
  if (options.memoryCost > memoryKiB || options.timeCost > passes || options.parallelism > lanes) {
    return { ok: false, reason: `argon2 parameters above the limits (m ≤ ${memoryKiB}, t ≤ ${passes}, p ≤ ${lanes})` };
  }
  return { ok: true, scheme: 'argon2' };
}

function describeBcrypt(hash: string): HashDescription {
  const cost = Number(hash.slice(4, 6));
  if (cost < limits.bcryptCost.min || cost > limits.bcryptCost.max) return { ok: false, reason: `bcrypt cost must be from ${limits.bcryptCost.min} to ${limits.bcryptCost.max}` };
  return { ok: true, scheme: 'bcrypt' };
}

/** Says whether Tobira can verify `hash`, and with which scheme (see the module notes for the formats). */
export function describeHash(hash: string): HashDescription {
  if (bcryptPattern.test(hash)) return describeBcrypt(hash);
  if (argon2Pattern.test(hash)) return describeArgon2(hash);
  const pbkdf2Hash = parsePbkdf2(hash);
  if (pbkdf2Hash) return describePbkdf2(pbkdf2Hash);
  if (/^\$2x\$/.test(hash)) return { ok: false, reason: 'bcrypt $2x$ hashes (from a buggy implementation) are not supported' };
  return { ok: false, reason: 'unknown password hash format (expected bcrypt, argon2id/argon2i or PBKDF2)' };
}

async function verifyPbkdf2(password: string, parsed: Pbkdf2Hash): Promise<boolean> {
  const derived = await pbkdf2Async(Buffer.from(password, 'utf8'), parsed.salt, parsed.iterations, parsed.hash.length, parsed.digest);
  return timingSafeEqual(derived, parsed.hash);
}

/**
 * True when `password` matches `hash`. A hash Tobira cannot use (unknown format, parameters over
 * the limits) never matches. The work runs off the event loop (libuv's thread pool).
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const described = describeHash(hash);
  if (!described.ok) return false;
  try {
    if (described.scheme === 'bcrypt') return await bcrypt.compare(password, hash);
    if (described.scheme === 'argon2') return await argon2.verify(hash, password);
    return await verifyPbkdf2(password, parsePbkdf2(hash)!);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Spends about the time of a real verification (bcrypt, cost 10: the most common legacy
 * setting, and in the middle of argon2's and PBKDF2's defaults) on a hash nobody knows the
 * password of. Used when there is no hash to check, so that an unknown identifier answers in
 * about the time a real one does. Always false.
 */
export async function verifyDummy(password: string): Promise<false> {
  dummy ??= bcrypt.hash(randomBytes(18).toString('base64url'), 10);
  await bcrypt.compare(password, await dummy).catch(() => false);
  return false;
}
