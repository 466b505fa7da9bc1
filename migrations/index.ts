import { InitialSchema1763800000000 } from './1763800000000-initial-schema.ts';
import { SecondFactorsAndAuditIndexes1763900000000 } from './1763900000000-second-factors-and-audit-indexes.ts';
import { ChangeNotifications1764000000000 } from './1764000000000-change-notifications.ts';
import { PayloadUidModelIndex1764100000000 } from './1764100000000-payload-uid-model-index.ts';

/** Every migration, oldest first. Add new ones at the end; never edit one that has landed. */
export const migrations = [InitialSchema1763800000000, SecondFactorsAndAuditIndexes1763900000000, ChangeNotifications1764000000000,
  PayloadUidModelIndex1764100000000];
