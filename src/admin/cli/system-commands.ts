import { migrate } from '../../db/migrate.ts';
import { rotateSigningKeys, signingAlgs } from '../../oidc/signing-keys.ts';
import type { Command } from './command.ts';
import { table } from './format.ts';

const migrateCommand: Command = {
  path: ['migrate'],
  summary: 'apply pending database migrations',
  notes: [
    'Tobira also migrates on start (under a lock, so several instances can start together); run this when you want the schema change as a separate deployment step.',
  ],
  examples: ['tobira migrate', 'DATABASE_URL=postgres://tobira@db/tobira tobira migrate --format json'],
  async run(_input, ctx) {
    const applied = await migrate(await ctx.database());
    ctx.print({ applied }, () => (applied.length
      ? [`Applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:`, ...applied.map((m) => `  ${m}`)].join('\n')
      : 'The database is up to date: no migration to apply.'));
  },
};

const rotateKeys: Command = {
  path: ['keys', 'rotate'],
  summary: 'add new token signing keys (ES256 and RS256)',
  notes: [
    'Running instances start signing with the new keys when they restart; until then they keep signing with the previous ones. Restart every instance after a rotation.',
    'Tokens signed with older keys keep verifying: the three newest keys of each algorithm stay published in the JWKS.',
  ],
  examples: ['tobira keys rotate', 'tobira keys rotate --format json'],
  async run(_input, ctx) {
    const { ds, box } = await ctx.services();
    const kids = await rotateSigningKeys(ds, box);
    const keys = kids.map((kid, i) => ({ kid, alg: signingAlgs[i] }));
    ctx.print({ keys }, () => [
      'New signing keys:',
      '',
      table(['ALG', 'KID'], keys.map((k) => [k.alg, k.kid])),
      '',
      'Restart running instances to sign with them; tokens signed with older keys keep verifying.',
    ].join('\n'));
  },
};

/** `tobira migrate` and `tobira keys rotate`: operations on the deployment itself. */
export const systemCommands: Command[] = [migrateCommand, rotateKeys];
