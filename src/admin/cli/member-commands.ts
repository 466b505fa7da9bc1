import { adminRole, type MemberRecord } from '../member-admin.ts';
import { type Command, type CommandContext } from './command.ts';
import { fields, when } from './format.ts';
import { importCommand } from './members-import.ts';

function describe(m: MemberRecord): string {
  const passkeys = m.passkeys.map((p) =>
    `${p.name} (${[p.provider ?? 'unknown provider', p.synced ? 'synced' : 'this device only'].join(', ')}; added ${when(p.created_at)}, last used ${when(p.last_used_at)})`);
  return fields([
    ['member number', m.member_number],
    ['email', `${m.email}${m.email_verified ? ' (verified)' : ' (not verified)'}`],
    ['name', m.name],
    ['locale', m.locale],
    ['roles', m.roles],
    ['status', m.disabled ? 'disabled' : 'active'],
    ['sub', m.sub],
    ['created', when(m.created_at)],
    ['passkeys', passkeys.length ? passkeys : 'none'],
  ]);
}

function printMember(ctx: CommandContext, m: MemberRecord, heading?: string): void {
  ctx.print(m, () => (heading ? `${heading}\n\n` : '') + describe(m));
}

async function audit(ctx: CommandContext, m: MemberRecord, data: Record<string, unknown>): Promise<void> {
  await (await ctx.services()).audit({ type: 'admin.member_changed', accountId: m.sub, data });
}

const memberArg = 'MEMBER';
const memberNote = 'MEMBER is a member number (spaces and dashes allowed) or an email address.';

const create: Command = {
  path: ['members', 'create'],
  summary: 'create a member with a new member number',
  options: {
    email: { type: 'string', value: 'EMAIL', required: true, description: 'the member\'s email (counted as verified: the member signs in with a code sent to it, then adds a passkey)' },
    name: { type: 'string', value: 'NAME', description: 'display name' },
    locale: { type: 'string', value: 'en|ja', description: 'language of pages and emails (default: en)' },
  },
  notes: ['No email is sent. To bootstrap the first admin: create the member, then `tobira admins grant`.'],
  examples: [
    'tobira members create --email hanako@example.com --name "Hanako Yamada" --locale ja',
    'tobira members create --email ops@example.com --format json',
  ],
  async run({ values }, ctx) {
    const input = { email: values.email as string, name: values.name as string | undefined, locale: values.locale as 'en' | 'ja' | undefined };
    const member = await (await ctx.services()).members.create(input);
    await audit(ctx, member, { action: 'create' });
    printMember(ctx, member, `Created member ${member.member_number}.`);
  },
};

const find: Command = {
  path: ['members', 'find'],
  summary: 'show a member by member number or email, with their passkeys',
  args: [memberArg],
  notes: [memberNote],
  examples: ['tobira members find 1234567890', 'tobira members find hanako@example.com --format json'],
  async run({ args: [member] }, ctx) {
    printMember(ctx, await (await ctx.services()).members.find(member));
  },
};

function toggle(action: 'disable' | 'enable'): Command {
  return {
    path: ['members', action],
    summary: action === 'disable'
      ? 'disable a member: sign-in is refused and their tokens stop working at the next refresh or userinfo call'
      : 'let a disabled member sign in again',
    args: [memberArg],
    notes: [memberNote],
    examples: [`tobira members ${action} 1234567890`],
    async run({ args: [member] }, ctx) {
      const record = await (await ctx.services()).members.setDisabled(member, action === 'disable');
      await audit(ctx, record, { action });
      printMember(ctx, record, `${action === 'disable' ? 'Disabled' : 'Enabled'} member ${record.member_number}.`);
    },
  };
}

function adminRoleCommand(action: 'grant' | 'revoke'): Command {
  return {
    path: ['admins', action],
    summary: action === 'grant' ? 'give a member the admin role (the admin console)' : 'take the admin role away',
    args: [memberArg],
    notes: [memberNote],
    examples: [`tobira admins ${action} ops@example.com`],
    async run({ args: [member] }, ctx) {
      const { members } = await ctx.services();
      const record = action === 'grant' ? await members.grantRole(member, adminRole) : await members.revokeRole(member, adminRole);
      await audit(ctx, record, { action: `${action}_role`, role: adminRole });
      printMember(ctx, record, `${record.member_number} is ${action === 'grant' ? 'now' : 'no longer'} an admin.`);
    },
  };
}

/** `tobira members ...`: look up and manage members. */
export const memberCommands: Command[] = [create, importCommand, find, toggle('disable'), toggle('enable')];

/** `tobira admins ...`: who may use the admin console. */
export const adminCommands: Command[] = [adminRoleCommand('grant'), adminRoleCommand('revoke')];
