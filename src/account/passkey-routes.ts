import type Router from '@koa/router';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../http/errors.ts';
import { consumeOrThrow } from '../http/rate-limit.ts';
import type { PasskeyService } from '../passkeys/passkey-service.ts';
import type { PasskeyRepository } from '../passkeys/passkey-repository.ts';
import { registrationResponseSchema } from '../passkeys/schemas.ts';
import { passkeyRegisteredMail } from '../passkeys/registered-mail.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { jsonBody, noStore, type AccountKit } from './account-kit.ts';
import type { AccountLimits } from './account-routes.ts';
import type { Member } from './account-session.ts';
import { accountClientId } from './notify.ts';
import { passkeyView, userHandleOf } from './passkey-view.ts';

const name = z.string().trim().min(1).max(100);
const bodies = {
  empty: z.object({}).strict(),
  registerVerify: z.object({ response: registrationResponseSchema, name: z.string().trim().max(100).optional() }).strict(),
  rename: z.object({ name }).strict(),
};

/** What the passkey routes use besides the kit. */
export interface PasskeyRouteDeps {
  passkeys: PasskeyService;
  passkeyRepository: PasskeyRepository;
  mailer: Mailer;
  audit: AuditLog;
  logger: Logger;
  /** The WebAuthn RP ID, for the browser's Signal API calls. */
  rpId: string;
  limits: AccountLimits;
}

/**
 * The registered devices list and its changes: register on this device, rename, remove. Every
 * change needs a step-up of this session; every change is audited and emailed.
 */
export function passkeyRoutes(router: Router, kit: AccountKit, deps: PasskeyRouteDeps): void {
  const { passkeys, passkeyRepository, mailer, audit } = deps;
  const binding = (member: Member) => `account:${member.session.id}`;

  /** The list and what the browser needs to tell password managers about it (Signal API). */
  async function listing(member: Member) {
    const keys = await passkeyRepository.listByAccount(member.account.id);
    return {
      passkeys: keys.map(passkeyView),
      signal: { rpId: deps.rpId, userId: userHandleOf(member.account.id), allAcceptedCredentialIds: keys.map((k) => k.credentialId) },
    };
  }

  router.get('/api/passkeys', async (ctx) => {
    const member = await kit.sessions.forApi(ctx);
    noStore(ctx);
    ctx.body = await listing(member);
  });

  router.post('/api/passkeys/register/options', async (ctx) => {
    bodies.empty.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    // Checked here, not again at verify: the authenticator has created the credential by then,
    // and refusing it would leave the member with a passkey Tobira does not know.
    await kit.requireStepUp(member, 'register');
    await consumeOrThrow(deps.limits.ceremonyPerIp, ctx.ip);
    noStore(ctx);
    ctx.body = await passkeys.registrationOptions(binding(member), member.account);
  });

  router.post('/api/passkeys/register/verify', async (ctx) => {
    const { response, name: chosen } = bodies.registerVerify.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    const meta = { ip: ctx.ip, userAgent: ctx.get('user-agent'), clientId: accountClientId };
    const passkey = await passkeys.verifyRegistration(binding(member), member.account, response, chosen, meta);
    await audit.record({
      type: 'passkey.registered', accountId: member.account.id, actorId: member.account.id, ...meta,
      data: { passkeyId: passkey.id, aaguid: passkey.aaguid, name: passkey.name, via: 'settings' },
    });
    mailer.send(passkeyRegisteredMail(member.account, passkey, ctx.state.locale))
      .catch((err) => (ctx.state.log ?? deps.logger).error({ err }, 'passkey-registered mail failed'));
    noStore(ctx);
    ctx.body = { passkey: passkeyView(passkey), passwordRetired: passkey.passwordRetired, ...(await listing(member)) };
  });

  router.post('/api/passkeys/:id/rename', async (ctx) => {
    const { name: newName } = bodies.rename.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    await kit.requireStepUp(member, 'manage');
    const before = (await passkeyRepository.listByAccount(member.account.id)).find((k) => k.id === ctx.params.id);
    const renamed = before ? await passkeyRepository.rename(member.account.id, before.id, newName) : null;
    if (!before || !renamed) throw new AppError('passkey.not_found');
    await kit.notifier.changed(ctx, member.account, {
      type: 'passkey.renamed', data: { passkeyId: renamed.id, from: before.name, to: renamed.name },
      mail: { template: 'passkey_renamed', params: { from: before.name, name: renamed.name } },
    });
    noStore(ctx);
    ctx.body = { passkey: passkeyView(renamed), ...(await listing(member)) };
  });

  router.post('/api/passkeys/:id/remove', async (ctx) => {
    bodies.empty.parse(jsonBody(ctx));
    const member = await kit.sessions.forApi(ctx);
    await kit.requireStepUp(member, 'manage');
    // The last passkey may go only when a way back in stays: a code to the verified email.
    const result = await passkeyRepository.remove(member.account.id, String(ctx.params.id), { allowLast: member.account.emailVerified });
    if (result.status === 'not_found') throw new AppError('passkey.not_found');
    if (result.status === 'last_refused') throw new AppError('passkey.last_without_recovery');
    const { passkey } = result;
    await kit.notifier.changed(ctx, member.account, {
      type: 'passkey.removed', data: { passkeyId: passkey.id, aaguid: passkey.aaguid, name: passkey.name, last: result.remaining.length === 0 },
      mail: { template: 'passkey_removed', params: { name: passkey.name } },
    });
    noStore(ctx);
    ctx.body = { removed: { id: passkey.id, credentialId: passkey.credentialId, name: passkey.name }, ...(await listing(member)) };
  });
}
