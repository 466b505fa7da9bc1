/**
 * A software WebAuthn authenticator (plus the browser's client-side part) for integration tests
 * and load generation. It creates ES256 (ECDSA P-256, COSE alg -7) passkeys with "none"
 * attestation and produces the JSON shapes that `@simplewebauthn/browser` would send.
 *
 * @packageDocumentation
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { encodeCBOR } from '@levischuck/tiny-cbor';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialDescriptorJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/** COSE algorithm identifier for ES256. */
export const COSE_ALG_ES256 = -7;

/** Authenticator data flag bits (WebAuthn §6.1). */
export const FLAGS = {
  /** User Present. */
  UP: 0x01,
  /** User Verified. */
  UV: 0x04,
  /** Backup Eligible. */
  BE: 0x08,
  /** Backup State (backed up). */
  BS: 0x10,
  /** Attested credential data included. */
  AT: 0x40,
  /** Extension data included. */
  ED: 0x80,
} as const;

/** Configuration of a soft authenticator. */
export interface SoftAuthenticatorConfig {
  /** AAGUID as a UUID string; defaults to all zeros (as "none" attestation reports it). */
  aaguid?: string;
  /** Set the BE flag (a syncable passkey). Defaults to true. */
  backupEligible?: boolean;
  /** Set the BS flag (currently backed up). Defaults to `backupEligible`; requires it. */
  backedUp?: boolean;
  /** Increment the signature counter on every assertion. Defaults to true; false keeps it 0. */
  counterMoves?: boolean;
}

/** Tampering knobs for a registration ceremony (negative tests). */
export interface RegistrationOverrides {
  /** Origin written into clientDataJSON instead of the real one. */
  origin?: string;
  /** RP ID whose SHA-256 is written as rpIdHash instead of the real one. */
  rpId?: string;
  /** Complete flags byte written into authenticator data. */
  flags?: number;
  /** Signature counter written into authenticator data (the stored counter is unchanged). */
  counter?: number;
}

/** Tampering knobs for an authentication ceremony (negative tests). */
export interface AssertionOverrides extends RegistrationOverrides {
  /** Corrupt the signature so that it no longer verifies. */
  badSignature?: boolean;
}

/** Public view of a credential held by the authenticator. */
export interface SoftCredentialInfo {
  /** Credential ID, base64url. */
  id: string;
  /** RP ID the credential is bound to. */
  rpId: string;
  /** User handle (`options.user.id`), base64url. */
  userHandle: string;
  /** Current signature counter. */
  counter: number;
  /** COSE_Key encoding of the public key. */
  publicKey: Uint8Array;
}

/** A software WebAuthn authenticator. */
export interface SoftAuthenticator {
  /** Performs `navigator.credentials.create()` for the given options and origin. */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    origin: string,
    overrides?: RegistrationOverrides,
  ): RegistrationResponseJSON;
  /** Performs `navigator.credentials.get()`; `pick` selects a credential by ID. */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    origin: string,
    pick?: string,
    overrides?: AssertionOverrides,
  ): AuthenticationResponseJSON;
  /** Lists the credentials the authenticator holds. */
  credentials(): SoftCredentialInfo[];
}

/** Internal credential record, including the private key. */
interface StoredCredential {
  id: string;
  rpId: string;
  userHandle: string;
  counter: number;
  publicKey: Uint8Array;
  privateKey: KeyObject;
}

/** Resolved configuration. */
interface ResolvedConfig {
  aaguid: Buffer;
  backupEligible: boolean;
  backedUp: boolean;
  counterMoves: boolean;
}

/**
 * Creates a software authenticator holding no credentials.
 *
 * @param config - Optional AAGUID, backup flags and counter behaviour.
 * @returns The authenticator.
 */
export function createSoftAuthenticator(config: SoftAuthenticatorConfig = {}): SoftAuthenticator {
  const resolved = resolveConfig(config);
  const store = new Map<string, StoredCredential>();
  return {
    register: (options, origin, overrides = {}) =>
      registerCredential(resolved, store, options, origin, overrides),
    authenticate: (options, origin, pick, overrides = {}) =>
      assertCredential(resolved, store, options, origin, pick, overrides),
    credentials: () => [...store.values()].map(toInfo),
  };
}

/** Applies defaults and validates the configuration. */
function resolveConfig(config: SoftAuthenticatorConfig): ResolvedConfig {
  const backupEligible = config.backupEligible ?? true;
  const backedUp = config.backedUp ?? backupEligible;
  if (backedUp && !backupEligible) {
    throw new Error('soft authenticator: backedUp requires backupEligible');
  }
  return {
    aaguid: parseAaguid(config.aaguid ?? '00000000-0000-0000-0000-000000000000'),
    backupEligible,
    backedUp,
    counterMoves: config.counterMoves ?? true,
  };
}

/** Converts a UUID string into its 16 bytes. */
function parseAaguid(uuid: string): Buffer {
  const hex = uuid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new Error(`soft authenticator: invalid AAGUID ${uuid}`);
  }
  return Buffer.from(hex, 'hex');
}

/** Public copy of a stored credential. */
function toInfo(cred: StoredCredential): SoftCredentialInfo {
  return {
    id: cred.id,
    rpId: cred.rpId,
    userHandle: cred.userHandle,
    counter: cred.counter,
    publicKey: Uint8Array.from(cred.publicKey),
  };
}

/** Creates an Error carrying a DOMException-like name, as a browser would throw. */
function webauthnError(name: string, message: string): Error {
  const err = new Error(`soft authenticator: ${message}`);
  err.name = name;
  return err;
}

/** SHA-256 digest. */
function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Base64url encoding without padding. */
function b64url(data: Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

/** The RP ID a browser would use when the options omit it: the origin's host name. */
function effectiveRpId(rpId: string | undefined, origin: string): string {
  return rpId ?? new URL(origin).hostname;
}

/** Serialises CollectedClientData. */
function clientDataJSON(type: string, challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
}

/** Flags byte for this authenticator, with or without the AT bit. */
function flagsFor(config: ResolvedConfig, attested: boolean): number {
  let flags = FLAGS.UP | FLAGS.UV;
  if (config.backupEligible) flags |= FLAGS.BE;
  if (config.backedUp) flags |= FLAGS.BS;
  if (attested) flags |= FLAGS.AT;
  return flags;
}

/** Builds authenticator data: rpIdHash ‖ flags ‖ signCount ‖ attestedCredentialData?. */
function authenticatorData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const head = Buffer.alloc(37);
  sha256(rpId).copy(head, 0);
  head.writeUInt8(flags & 0xff, 32);
  head.writeUInt32BE(counter >>> 0, 33);
  return attested ? Buffer.concat([head, attested]) : head;
}

/** Builds attested credential data: aaguid ‖ credIdLen ‖ credId ‖ COSE public key. */
function attestedCredentialData(aaguid: Buffer, credId: Buffer, coseKey: Uint8Array): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(credId.length, 0);
  return Buffer.concat([aaguid, len, credId, coseKey]);
}

/** Encodes a P-256 public key as a COSE_Key (kty EC2, alg ES256, crv P-256). */
function coseEc2PublicKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.x === undefined || jwk.y === undefined) {
    throw new Error('soft authenticator: public key lacks EC coordinates');
  }
  return encodeCBOR(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, COSE_ALG_ES256],
      [-1, 1],
      [-2, Buffer.from(jwk.x, 'base64url')],
      [-3, Buffer.from(jwk.y, 'base64url')],
    ]),
  );
}

/** Encodes a "none" attestation object around the authenticator data. */
function noneAttestationObject(authData: Buffer): Uint8Array {
  return encodeCBOR(
    new Map<string, string | Uint8Array | Map<string, never>>([
      ['fmt', 'none'],
      ['attStmt', new Map<string, never>()],
      ['authData', authData],
    ]),
  );
}

/** Throws unless the RP accepts ES256. */
function requireEs256(options: PublicKeyCredentialCreationOptionsJSON): void {
  if (!options.pubKeyCredParams.some((p) => p.alg === COSE_ALG_ES256)) {
    throw webauthnError('NotSupportedError', 'RP does not accept ES256 (alg -7)');
  }
}

/** Throws like a browser would when the authenticator holds an excluded credential. */
function checkExcluded(
  store: Map<string, StoredCredential>,
  excluded: PublicKeyCredentialDescriptorJSON[] | undefined,
): void {
  const hit = (excluded ?? []).find((d) => store.has(d.id));
  if (hit) {
    throw webauthnError('InvalidStateError', `credential ${hit.id} is in excludeCredentials`);
  }
}

/** Generates a new key pair and credential record and stores it. */
function createCredential(
  store: Map<string, StoredCredential>,
  rpId: string,
  userHandle: string,
): { cred: StoredCredential; rawId: Buffer; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rawId = randomBytes(32);
  const cred: StoredCredential = {
    id: b64url(rawId),
    rpId,
    userHandle,
    counter: 0,
    publicKey: coseEc2PublicKey(publicKey),
    privateKey,
  };
  store.set(cred.id, cred);
  return { cred, rawId, spki: publicKey.export({ format: 'der', type: 'spki' }) };
}

/** Implements `register`. */
function registerCredential(
  config: ResolvedConfig,
  store: Map<string, StoredCredential>,
  options: PublicKeyCredentialCreationOptionsJSON,
  origin: string,
  overrides: RegistrationOverrides,
): RegistrationResponseJSON {
  requireEs256(options);
  checkExcluded(store, options.excludeCredentials);
  const rpId = effectiveRpId(options.rp.id, origin);
  const { cred, rawId, spki } = createCredential(store, rpId, options.user.id);
  const attested = attestedCredentialData(config.aaguid, rawId, cred.publicKey);
  const authData = authenticatorData(
    overrides.rpId ?? rpId,
    overrides.flags ?? flagsFor(config, true),
    overrides.counter ?? cred.counter,
    attested,
  );
  return {
    id: cred.id,
    rawId: cred.id,
    type: 'public-key',
    authenticatorAttachment: 'platform',
    clientExtensionResults: {},
    response: {
      clientDataJSON: b64url(
        clientDataJSON('webauthn.create', options.challenge, overrides.origin ?? origin),
      ),
      attestationObject: b64url(noneAttestationObject(authData)),
      authenticatorData: b64url(authData),
      transports: ['internal', 'hybrid'],
      publicKeyAlgorithm: COSE_ALG_ES256,
      publicKey: b64url(spki),
    },
  };
}

/** Chooses the credential to assert with, following allowCredentials or discoverable rules. */
function selectCredential(
  store: Map<string, StoredCredential>,
  rpId: string,
  allow: PublicKeyCredentialDescriptorJSON[] | undefined,
  pick: string | undefined,
): StoredCredential {
  const allowed = new Set((allow ?? []).map((d) => d.id));
  const candidates = [...store.values()].filter(
    (c) => c.rpId === rpId && (allowed.size === 0 || allowed.has(c.id)) && (pick === undefined || c.id === pick),
  );
  const chosen = candidates[0];
  if (!chosen) {
    const scope = allowed.size > 0 ? `in allowCredentials [${[...allowed].join(', ')}]` : 'discoverable';
    const picked = pick === undefined ? '' : ` with id ${pick}`;
    throw webauthnError('NotAllowedError', `no credential${picked} for rpId ${rpId} ${scope}`);
  }
  return chosen;
}

/** Advances the stored counter when configured and returns the value to report. */
function nextCounter(config: ResolvedConfig, cred: StoredCredential): number {
  if (config.counterMoves) cred.counter += 1;
  return cred.counter;
}

/** ES256 signature (DER-encoded ECDSA) over authData ‖ SHA-256(clientDataJSON). */
function signAssertion(privateKey: KeyObject, authData: Buffer, clientData: Buffer, corrupt: boolean): Buffer {
  const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), privateKey);
  if (corrupt) {
    const last = signature.length - 1;
    signature.writeUInt8(signature.readUInt8(last) ^ 0x01, last);
  }
  return signature;
}

/** Implements `authenticate`. */
function assertCredential(
  config: ResolvedConfig,
  store: Map<string, StoredCredential>,
  options: PublicKeyCredentialRequestOptionsJSON,
  origin: string,
  pick: string | undefined,
  overrides: AssertionOverrides,
): AuthenticationResponseJSON {
  const rpId = effectiveRpId(options.rpId, origin);
  const cred = selectCredential(store, rpId, options.allowCredentials, pick);
  const counter = nextCounter(config, cred);
  const authData = authenticatorData(
    overrides.rpId ?? rpId,
    overrides.flags ?? flagsFor(config, false),
    overrides.counter ?? counter,
  );
  const clientData = clientDataJSON('webauthn.get', options.challenge, overrides.origin ?? origin);
  const signature = signAssertion(cred.privateKey, authData, clientData, overrides.badSignature ?? false);
  return {
    id: cred.id,
    rawId: cred.id,
    type: 'public-key',
    authenticatorAttachment: 'platform',
    clientExtensionResults: {},
    response: {
      clientDataJSON: b64url(clientData),
      authenticatorData: b64url(authData),
      signature: b64url(signature),
      userHandle: cred.userHandle,
    },
  };
}
