import { EntitySchema } from 'typeorm';

/** A member of the program. */
export interface Account {
  id: string;
  memberNumber: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  locale: string | null;
  phone: string | null;
  phoneVerified: boolean;
  passwordHash: string | null;
  passwordEnabled: boolean;
  roles: string[];
  /** TOTP secret, sealed (src/crypto/sealed-box.ts); null when no authenticator app is set. */
  totpSecret: string | null;
  totpLastStep: number | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const AccountEntity = new EntitySchema<Account>({
  name: 'Account',
  tableName: 'accounts',
  columns: {
    id: { type: 'uuid', primary: true },
    memberNumber: { type: 'varchar', name: 'member_number' },
    email: { type: 'varchar' },
    emailVerified: { type: 'boolean', name: 'email_verified' },
    name: { type: 'varchar', nullable: true },
    locale: { type: 'varchar', nullable: true },
    phone: { type: 'varchar', nullable: true },
    phoneVerified: { type: 'boolean', name: 'phone_verified' },
    passwordHash: { type: 'text', name: 'password_hash', nullable: true },
    passwordEnabled: { type: 'boolean', name: 'password_enabled' },
    roles: { type: 'text', array: true },
    totpSecret: { type: 'text', name: 'totp_secret', nullable: true, select: false },
    totpLastStep: { type: 'bigint', name: 'totp_last_step', nullable: true, select: false, transformer: { to: (v: number | null) => v, from: (v: string | null) => (v === null ? null : Number(v)) } },
    disabledAt: { type: 'timestamptz', name: 'disabled_at', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at', createDate: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at', updateDate: true },
  },
});
