import { EntitySchema } from 'typeorm';

/** A registered WebAuthn credential. Only the public key is stored. */
export interface Passkey {
  id: string;
  accountId: string;
  /** base64url credential id, unique across all accounts. */
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export const PasskeyEntity = new EntitySchema<Passkey>({
  name: 'Passkey',
  tableName: 'passkeys',
  columns: {
    id: { type: 'uuid', primary: true },
    accountId: { type: 'uuid', name: 'account_id' },
    credentialId: { type: 'varchar', name: 'credential_id' },
    publicKey: { type: 'bytea', name: 'public_key' },
    counter: { type: 'bigint', transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } },
    transports: { type: 'text', array: true },
    aaguid: { type: 'varchar' },
    deviceType: { type: 'varchar', name: 'device_type' },
    backedUp: { type: 'boolean', name: 'backed_up' },
    name: { type: 'varchar' },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    lastUsedAt: { type: 'timestamptz', name: 'last_used_at', nullable: true },
  },
});
