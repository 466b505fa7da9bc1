/**
 * The one error type of Tobira. `code` is stable (clients may switch on it), `status` is the
 * HTTP status it maps to, and the message shown to people is the `errors.<code>` entry of the
 * request's locale catalog. The error handler in `error-handler.ts` is the only place that
 * turns these into responses. `params.details` (an object) is added to the JSON answer for the
 * few codes whose fields `error-handler.ts` lists (e.g. the `credentialId` of
 * `passkey.unknown_credential`, so the page can tell the browser to forget that passkey).
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly params: Record<string, unknown>;
  readonly expose = true;

  constructor(code: ErrorCode, params: Record<string, unknown> = {}, cause?: unknown) {
    super(code, { cause });
    this.code = code;
    this.status = statusOf[code];
    this.params = params;
  }
}

const statusOf = {
  'request.invalid': 400,
  'request.too_large': 413,
  'request.unsupported_media_type': 415,
  'request.cross_site': 403,
  'not_found': 404,
  'interaction.not_found': 404,
  'interaction.wrong_step': 409,
  'passkey.challenge_expired': 400,
  'passkey.verification_failed': 400,
  'passkey.unknown_credential': 400,
  'passkey.already_registered': 409,
  'passkey.counter_regression': 400,
  'code.invalid': 400,
  'code.expired': 400,
  'code.too_many_attempts': 429,
  'rate_limited': 429,
  'account.disabled': 403,
  'acr.not_satisfied': 403,
  'session.required': 401,
  'step_up.required': 403,
  'step_up.wrong_method': 409,
  'passkey.not_found': 404,
  'passkey.last_without_recovery': 409,
  'totp.not_started': 409,
  'totp.not_enabled': 409,
  'phone.not_started': 409,
  'admin.unauthenticated': 401,
  'admin.forbidden': 403,
  'admin.reauth_required': 401,
  'admin.csrf': 403,
  'enroll.link_invalid': 410,
  'enroll.session_expired': 410,
  'enroll.wrong_step': 409,
  'recovery.session_expired': 410,
  'recovery.wrong_step': 409,
  'password.invalid': 400,
  'service.unavailable': 503,
  'internal': 500,
} as const satisfies Record<string, number>;

/** Every stable error code Tobira answers with. */
export type ErrorCode = keyof typeof statusOf;

/** Throws an {@link AppError} with `code` unless `condition` holds. */
export function assertThat(condition: unknown, code: ErrorCode, params?: Record<string, unknown>): asserts condition {
  if (!condition) throw new AppError(code, params);
}
