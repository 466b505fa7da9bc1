import type { Passkey } from '../passkeys/passkey.entity.ts';
import { providerName } from '../passkeys/provider-names.ts';

/** Icons of passkey providers, as files `static/icons/<icon>.svg`. */
export type ProviderIcon = 'apple' | 'google' | 'windows' | '1password' | 'security-key' | 'passkey';

/** A passkey as the settings page and the account API show it (no key material). */
export interface PasskeyView {
  id: string;
  credentialId: string;
  name: string;
  /** The provider's name from the AAGUID (iCloud Keychain, Google Password Manager…), or null when unknown. */
  provider: string | null;
  icon: ProviderIcon;
  /** Backed up by its provider (BS flag), so the member's other devices have it too. */
  synced: boolean;
  deviceType: Passkey['deviceType'];
  createdAt: string;
  lastUsedAt: string | null;
}

const iconRules: [RegExp, ProviderIcon][] = [
  [/\b(apple|icloud)\b/i, 'apple'],
  [/\b(google|chrom(e|ium))\b/i, 'google'],
  [/\b(windows|microsoft|edge)\b/i, 'windows'],
  [/\b1password\b/i, '1password'],
  [/\b(yubikey|security key|titan|feitian|token|fido2? (key|authenticator))\b/i, 'security-key'],
];

/** The icon for a provider name; a security key when it is a single-device key on USB or NFC. */
export function providerIcon(provider: string | null, passkey: Pick<Passkey, 'deviceType' | 'transports'>): ProviderIcon {
  for (const [pattern, icon] of iconRules) if (provider && pattern.test(provider)) return icon;
  const roaming = passkey.transports.some((t) => t === 'usb' || t === 'nfc');
  return passkey.deviceType === 'singleDevice' && roaming ? 'security-key' : 'passkey';
}

/** The view of one stored passkey. */
export function passkeyView(passkey: Passkey): PasskeyView {
  const provider = providerName(passkey.aaguid);
  return {
    id: passkey.id,
    credentialId: passkey.credentialId,
    name: passkey.name,
    provider,
    icon: providerIcon(provider, passkey),
    synced: passkey.backedUp,
    deviceType: passkey.deviceType,
    createdAt: passkey.createdAt.toISOString(),
    lastUsedAt: passkey.lastUsedAt ? passkey.lastUsedAt.toISOString() : null,
  };
}

/** The WebAuthn user handle of an account (what registration used as `user.id`), base64url. */
export function userHandleOf(accountId: string): string {
  return Buffer.from(accountId, 'utf8').toString('base64url');
}
