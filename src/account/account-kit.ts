import type { Context } from 'koa';
import { AppError } from '../http/errors.ts';
import type { InternalRp } from '../http/internal-rp.ts';
import type { AccountSessions, Member } from './account-session.ts';
import type { StepUpMethod, StepUpPurpose, StepUpService } from './step-up.ts';
import { marksOf, pendingMethods, validUntil, withMark } from './step-up-marks.ts';
import type { Notifier } from './notify.ts';

/**
 * What every part of the account area shares (and "Register on another device" uses too):
 * sessions, step-up checks, notifications.
 */
export interface AccountKit {
  sessions: AccountSessions;
  rp: InternalRp;
  stepUp: StepUpService;
  notifier: Notifier;
  /** The step-up methods this member's session still has to complete for `purpose`. */
  pending(member: Member, purpose: StepUpPurpose): Promise<StepUpMethod[]>;
  /** When this session's step-up for `purpose` stops counting (ms since the epoch), or null. */
  validUntil(member: Member, purpose: StepUpPurpose): Promise<number | null>;
  /** Throws step_up.required (403) unless this session has a valid step-up for `purpose`. */
  requireStepUp(member: Member, purpose: StepUpPurpose): Promise<void>;
  /** Records that this session completed `method` now (valid `stepUp.validSeconds`). */
  markStepUp(member: Member, method: StepUpMethod): Promise<void>;
}

/** Builds the kit. `stepUpSeconds` is read on each mark, so the configured value applies at once. */
export function createAccountKit(deps: {
  sessions: AccountSessions; stepUp: StepUpService; notifier: Notifier; stepUpSeconds: () => number;
}): AccountKit {
  const { sessions, stepUp } = deps;
  const kit: AccountKit = {
    sessions, rp: sessions.rp, stepUp, notifier: deps.notifier,
    async pending(member, purpose) {
      return pendingMethods(await stepUp.required(member.account, purpose), marksOf(member.session.data));
    },
    async validUntil(member, purpose) {
      return validUntil(await stepUp.required(member.account, purpose), marksOf(member.session.data));
    },
    async requireStepUp(member, purpose) {
      if ((await kit.pending(member, purpose)).length > 0) throw new AppError('step_up.required');
    },
    async markStepUp(member, method) {
      member.session.data = withMark(member.session.data, method, deps.stepUpSeconds());
      await sessions.rp.save(member.session);
    },
  };
  return kit;
}

/** The JSON body of a POST (anything else is refused with 415). */
export function jsonBody(ctx: Context): unknown {
  if (!ctx.is('application/json')) throw new AppError('request.unsupported_media_type');
  return ctx.request.body ?? {};
}

/** Marks an API answer as not cacheable. */
export function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
}
