import type { StepUpMethod } from './step-up.ts';

/**
 * Step-up methods a session has completed, each with the time (ms since the epoch) until which
 * it counts. Kept in the session's own data, so another session never inherits them.
 */
export type StepUpMarks = Partial<Record<StepUpMethod, number>>;

/** Reads the marks from a session's free data (anything malformed counts as none). */
export function marksOf(data: Record<string, unknown>): StepUpMarks {
  const raw = data.stepUp;
  if (!raw || typeof raw !== 'object') return {};
  const marks: StepUpMarks = {};
  for (const method of ['passkey', 'totp', 'sms', 'email'] as const) {
    const until = (raw as Record<string, unknown>)[method];
    if (typeof until === 'number') marks[method] = until;
  }
  return marks;
}

/** Records that `method` was completed now; it counts for `validSeconds`. */
export function withMark(data: Record<string, unknown>, method: StepUpMethod, validSeconds: number, now = Date.now()): Record<string, unknown> {
  return { ...data, stepUp: { ...marksOf(data), [method]: now + validSeconds * 1000 } };
}

/** The methods of `required` this session still has to complete (in order). */
export function pendingMethods(required: StepUpMethod[], marks: StepUpMarks, now = Date.now()): StepUpMethod[] {
  return required.filter((method) => !((marks[method] ?? 0) > now));
}

/** When the step-up for `required` stops counting (the earliest of its marks), or null when it does not hold now. */
export function validUntil(required: StepUpMethod[], marks: StepUpMarks, now = Date.now()): number | null {
  if (pendingMethods(required, marks, now).length > 0) return null;
  return Math.min(...required.map((m) => marks[m]!));
}
