import { randomUUID } from 'node:crypto';
import type { AccountService } from '../accounts/account-service.ts';
import type { Account } from '../accounts/account.entity.ts';
import { verifyDummy, verifyPassword } from '../accounts/password-hash.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import type { KeyValueStore } from '../store/store.ts';
import type { CodeStore } from '../verification/code-store.ts';
import { maxCodeAttempts } from '../verification/code-store.ts';
import type { TotpService } from '../verification/totp.ts';
import { maskPhone, type SmsSender } from '../sms/sms-sender.ts';
import { translator, type Locale } from '../i18n/i18n.ts';
import { AppError } from '../http/errors.ts';

/** The second factor a legacy account signs in with after its password. */
export type SecondFactor = 'totp' | 'sms';

/** A password proven on one interaction, waiting for the second factor. */
interface PasswordProof { id: string; accountId: string; factor: SecondFactor; phone: string | null }

/** What a right password leads to. */
export interface PasswordCheck { account: Account; factor: SecondFactor | null }

/**
 * Default rate limits of password attempts (per 15 minutes): per identifier (in its canonical
 * form), so one account cannot be guessed at, and per IP address, so one client cannot try
 * passwords on many accounts. Counted before the password is checked, so parallel guesses get
 * no extra tries.
 */
export const passwordAttemptLimits = {
  perIdentifier: { points: 10, duration: 900 },
  perIp: { points: 100, duration: 900 },
} as const;

/**
 * Sign-in with a password imported from an older system, then the account's second factor:
 * an authenticator app (TOTP, preferred) or a code sent by SMS to the verified phone.
 */
export interface PasswordSignIn {
  /**
   * Checks a password. An unknown identifier, a wrong password, an account whose password is
   * turned off (it has a passkey) and an account without a password all get `password.invalid`,
   * in about the same time (a hash is verified in every case). The right password of a disabled
   * account gets `account.disabled`.
   */
  verify(identifier: string, password: string): Promise<PasswordCheck>;
  /** Records the proven password on `binding` until the second factor is given. */
  begin(binding: string, account: Account, factor: SecondFactor): Promise<void>;
  /** The second factor `binding` waits for (the phone for SMS), or null. */
  pending(binding: string): Promise<{ factor: SecondFactor; phone: string | null } | null>;
  /** Sends (or sends again, replacing the previous code) the SMS code; returns the masked number. */
  sendSms(binding: string, locale: Locale): Promise<{ sentTo: string }>;
  /**
   * Checks the second factor; returns the account once. TOTP: a code is accepted once, and after
   * {@link maxCodeAttempts} wrong codes the password must be given again. SMS: the code store's rules.
   */
  verifySecondFactor(binding: string, code: string): Promise<Account>;
}

/** An id no account has: the passkey lookup costs the same for an unknown identifier. */
const noAccount = '00000000-0000-0000-0000-000000000000';

/** Builds the password sign-in. */
export function createPasswordSignIn(deps: {
  accounts: AccountService; passkeys: PasskeyRepository; store: KeyValueStore; codes: CodeStore;
  totp: TotpService; sms: SmsSender; ttlSeconds: number;
}): PasswordSignIn {
  const { accounts, passkeys, store, codes, totp, sms, ttlSeconds } = deps;
  const proofKey = (binding: string) => `password:${binding}`;
  const attemptsKey = (binding: string, proof: PasswordProof) => `password:${binding}:attempts:${proof.id}`;

  async function proofOf(binding: string): Promise<PasswordProof | null> {
    const raw = await store.get(proofKey(binding));
    return raw ? JSON.parse(raw) as PasswordProof : null;
  }

  async function factorOf(account: Account): Promise<SecondFactor | null> {
    if (await totp.isEnabled(account.id)) return 'totp';
    return account.phone && account.phoneVerified ? 'sms' : null;
  }

  async function checkTotp(binding: string, proof: PasswordProof, code: string): Promise<void> {
    const attempts = await store.incr(attemptsKey(binding, proof), ttlSeconds);
    const accountId = proof.accountId;
    if (attempts > maxCodeAttempts) throw new AppError('code.too_many_attempts', { accountId });
    if (await totp.verify(accountId, code)) return;
    if (attempts >= maxCodeAttempts) {
      await store.del(proofKey(binding));
      throw new AppError('code.too_many_attempts', { accountId });
    }
    throw new AppError('code.invalid', { remaining: maxCodeAttempts - attempts, accountId });
  }

  async function checkSms(binding: string, proof: PasswordProof, code: string): Promise<void> {
    try {
      const { proofId } = await codes.verify<{ proofId: string }>('password_sms', binding, code);
      if (proofId !== proof.id) throw new AppError('code.expired');
    } catch (error) {
      if (error instanceof AppError) throw new AppError(error.code, { ...error.params, accountId: proof.accountId });
      throw error;
    }
  }

  return {
    async verify(identifier, password) {
      const account = await accounts.findByIdentifier(identifier);
      const [matched, keys] = await Promise.all([
        account?.passwordHash ? verifyPassword(password, account.passwordHash) : verifyDummy(password),
        passkeys.listByAccount(account?.id ?? noAccount),
      ]);
      // `accountId` is for the audit log only: the answer never carries it.
      if (!account || !matched || !account.passwordEnabled || keys.length > 0) throw new AppError('password.invalid', { accountId: account?.id });
      if (account.disabledAt) throw new AppError('account.disabled', { accountId: account.id });
      return { account, factor: await factorOf(account) };
    },

    async begin(binding, account, factor) {
      const proof: PasswordProof = { id: randomUUID(), accountId: account.id, factor, phone: factor === 'sms' ? account.phone : null };
      await store.set(proofKey(binding), JSON.stringify(proof), ttlSeconds);
    },

    async pending(binding) {
      const proof = await proofOf(binding);
      return proof ? { factor: proof.factor, phone: proof.phone } : null;
    },

    async sendSms(binding, locale) {
      const proof = await proofOf(binding);
      if (!proof || proof.factor !== 'sms' || !proof.phone) throw new AppError('interaction.wrong_step');
      const account = await accounts.findById(proof.accountId);
      const code = await codes.issue('password_sms', binding, { proofId: proof.id });
      const minutes = Math.round(ttlSeconds / 60);
      const text = translator((account?.locale as Locale | null) ?? locale)('password.sms.signin_code', { code, minutes });
      try {
        await sms.send({ to: proof.phone, text });
      } catch (error) {
        throw new AppError('service.unavailable', {}, error);
      }
      return { sentTo: maskPhone(proof.phone) };
    },

    async verifySecondFactor(binding, code) {
      const proof = await proofOf(binding);
      if (!proof) throw new AppError('interaction.wrong_step');
      if (proof.factor === 'totp') await checkTotp(binding, proof, code);
      else await checkSms(binding, proof, code);
      // Single use: of two right answers at once, only the one that takes the proof goes on.
      if (!(await store.getDel(proofKey(binding)))) throw new AppError('interaction.wrong_step');
      await store.del(attemptsKey(binding, proof));
      const account = await accounts.findById(proof.accountId);
      if (!account) throw new AppError('password.invalid');
      if (account.disabledAt) throw new AppError('account.disabled');
      return account;
    },
  };
}
