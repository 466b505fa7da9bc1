import { account } from './account.ts';
import { enroll } from './enroll.ts';
import { recovery } from './recovery.ts';
import { help } from './help.ts';
import { admin } from './admin.ts';
import { password } from './password.ts';
/**
 * Message sections kept beside the features that use them, each declared with
 * `defineMessages(en, ja)`. The key here is the section's top-level name in the catalog
 * (`t('account.title')` reads `account.en.title`). Add one line per new section.
 */
export const sections = {
  admin,
  account,
  enroll,
  recovery,
  help,
  password,
} satisfies Record<string, { en: Record<string, unknown>; ja: Record<string, unknown> }>;
