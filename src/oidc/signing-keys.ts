import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { JWK } from 'oidc-provider';
import type { SealedBox } from '../crypto/sealed-box.ts';

/** Algorithms Tobira signs with. ES256 is the default for clients; RS256 is what OIDC requires. */
export const signingAlgs = ['ES256', 'RS256'] as const;

/** How many keys of each algorithm stay published after a rotation. */
const keptPerAlg = 3;

function generate(alg: (typeof signingAlgs)[number]): JWK {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: randomBytes(12).toString('base64url'), alg, use: 'sig' };
}

/** Adds a new key of every algorithm; newest keys sign, older ones keep verifying. */
export async function rotateSigningKeys(ds: Pick<DataSource, 'query'>, box: SealedBox): Promise<string[]> {
  const kids: string[] = [];
  for (const alg of signingAlgs) {
    const jwk = generate(alg);
    await ds.query('INSERT INTO signing_keys (kid, alg, encrypted_jwk) VALUES ($1, $2, $3)', [jwk.kid, alg, box.seal(JSON.stringify(jwk))]);
    kids.push(jwk.kid!);
  }
  await ds.query(
    `DELETE FROM signing_keys WHERE kid IN (
       SELECT kid FROM (SELECT kid, row_number() OVER (PARTITION BY alg ORDER BY created_at DESC) AS n FROM signing_keys) k
       WHERE n > $1)`,
    [keptPerAlg],
  );
  return kids;
}

/**
 * The private JWKS for oidc-provider, newest first (oidc-provider signs with the first key of
 * an algorithm). Keys are generated on first start and kept encrypted in Postgres.
 */
export async function loadSigningKeys(ds: DataSource, box: SealedBox): Promise<{ keys: JWK[] }> {
  const read = async () => {
    const rows = (await ds.query('SELECT kid, encrypted_jwk FROM signing_keys ORDER BY created_at DESC, kid')) as { kid: string; encrypted_jwk: string }[];
    return rows.map((r) => openKey(box, r));
  };
  let keys = await read();
  if (!signingAlgs.every((alg) => keys.some((k) => k.alg === alg))) {
    // Several instances may start at once: one transaction-scoped lock, one generation.
    await ds.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(4242)');
      const present = new Set(((await tx.query('SELECT DISTINCT alg FROM signing_keys')) as { alg: string }[]).map((r) => r.alg));
      if (!signingAlgs.every((alg) => present.has(alg))) await rotateSigningKeys(tx, box);
    });
    keys = await read();
  }
  return { keys };
}

/**
 * Opens one stored key. A key that does not open was sealed with another DATA_ENCRYPTION_KEY:
 * starting anyway would sign with keys the other instances do not publish, so Tobira stops.
 */
function openKey(box: SealedBox, row: { kid: string; encrypted_jwk: string }): JWK {
  try {
    return JSON.parse(box.open(row.encrypted_jwk)) as JWK;
  } catch (cause) {
    throw new Error(`signing key ${row.kid} cannot be opened: DATA_ENCRYPTION_KEY differs from the one that sealed the keys in this database`, { cause });
  }
}
