/**
 * Authentication context classes Tobira issues, strongest first. An RP that sends
 * `acr_values=phr` only accepts a passkey sign-in; `mfa` accepts passkey or password plus a
 * second factor; `sfa` accepts anything (email code, password).
 */
export const acrValues = ['phr', 'mfa', 'sfa'] as const;
export type Acr = (typeof acrValues)[number];

/** How a member signed in, and what that means for `acr` and `amr` (RFC 8176 values). */
export const signInMethods = {
  passkey: { acr: 'phr', amr: ['pop', 'mfa'] },
  email_code: { acr: 'sfa', amr: ['otp'] },
  password: { acr: 'sfa', amr: ['pwd'] },
  password_otp: { acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] },
} as const satisfies Record<string, { acr: Acr; amr: readonly string[] }>;

export type SignInMethod = keyof typeof signInMethods;

const rank: Record<Acr, number> = { phr: 3, mfa: 2, sfa: 1 };

/** True for the acr values Tobira knows (own keys only: `toString` is not an acr). */
function isAcr(value: unknown): value is Acr {
  return typeof value === 'string' && Object.hasOwn(rank, value);
}

/**
 * The weakest acr that satisfies the RP's `acr_values` (space separated), or null when it asks
 * for none Tobira knows (then any sign-in will do).
 */
export function requiredAcr(acrValuesParam: unknown): Acr | null {
  if (typeof acrValuesParam !== 'string') return null;
  const known = acrValuesParam.split(/\s+/).filter(isAcr);
  if (!known.length) return null;
  return known.reduce((a, b) => (rank[a] <= rank[b] ? a : b));
}

/** True when a sign-in at `actual` meets `required`. */
export function satisfies(actual: string | undefined, required: Acr | null): boolean {
  if (!required) return true;
  return isAcr(actual) && rank[actual] >= rank[required];
}
