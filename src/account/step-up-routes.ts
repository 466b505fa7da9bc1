import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import { authenticationResponseSchema } from '../passkeys/schemas.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { jsonBody, noStore, type AccountKit } from './account-kit.ts';
import type { AccountLimits } from './account-routes.ts';
import type { Member } from './account-session.ts';
import { accountClientId } from './notify.ts';

const purpose = z.enum(['register', 'manage']);
const code = z.string().trim().regex(/^\d{6}$/, 'must be 6 digits');
const bodies = {
  start: z.object({ purpose }).strict(),
  verify: z.union([
    z.object({ purpose, method: z.literal('passkey'), response: authenticationResponseSchema }).strict(),
    z.object({ purpose, method: z.enum(['totp', 'sms', 'email']), code }).strict(),
  ]),
};

/**
 * Step-up in the account area: `start` names the next method this session must complete for
 * the purpose and starts it (passkey options, or a code sent); `verify` completes it. Once every
 * required method is done the answer says `satisfied` and until when.
 */
export function stepUpRoutes(router: Router, kit: AccountKit, audit: AuditLog, limits: AccountLimits): void {
  const { stepUp, sessions } = kit;

  async function state(member: Member, p: z.infer<typeof purpose>) {
    const pending = await kit.pending(member, p);
    return pending.length === 0
      ? { satisfied: true as const, validUntil: new Date((await kit.validUntil(member, p))!).toISOString(), pending }
      : { satisfied: false as const, pending };
  }

  const record = (ctx: Context, member: Member, ok: boolean, data: Record<string, unknown>) => audit.record({
    type: ok ? 'step_up.success' : 'step_up.failure', accountId: member.account.id, actorId: member.account.id,
    clientId: accountClientId, ip: ctx.ip, userAgent: ctx.get('user-agent'), data,
  });

  router.post('/api/step-up/start', async (ctx) => {
    const { purpose: p } = bodies.start.parse(jsonBody(ctx));
    const member = await sessions.forApi(ctx);
    noStore(ctx);
    const current = await state(member, p);
    if (current.satisfied) { ctx.body = current; return; }
    const method = current.pending[0];
    if (method === 'sms' || method === 'email') await consumeOrThrow(limits.codeSendPerIp, ctx.ip);
    if (method === 'passkey') await consumeOrThrow(limits.ceremonyPerIp, ctx.ip);
    const started = await stepUp.start(member.session.id, member.account, method, ctx.state.locale);
    ctx.body = { ...current, ...started };
  });

  router.post('/api/step-up/verify', async (ctx) => {
    const input = bodies.verify.parse(jsonBody(ctx));
    const member = await sessions.forApi(ctx);
    noStore(ctx);
    const pending = await kit.pending(member, input.purpose);
    if (pending.length === 0) { ctx.body = await state(member, input.purpose); return; }
    // In order, none skipped: the SMS policy's code comes before the account's own method.
    if (pending[0] !== input.method) throw new AppError('step_up.wrong_method');
    try {
      await stepUp.verify(member.session.id, member.account, input.method, input);
    } catch (error) {
      if (error instanceof AppError) await record(ctx, member, false, { method: input.method, code: error.code });
      throw error;
    }
    await kit.markStepUp(member, input.method);
    await record(ctx, member, true, { method: input.method, purpose: input.purpose });
    ctx.body = await state(member, input.purpose);
  });
}
