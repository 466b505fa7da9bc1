import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * The directory that holds `views/`, `static/`, `config/` and `node_modules/`: the repository
 * (or the image's `/app`). The same whether Node runs the TypeScript sources (`src/`) or the
 * compiled copy that `npm run build` writes to `dist/src/`.
 */
export const appRoot = appRootFrom(resolve(import.meta.dirname, '../..'));

/** `dir`, or its parent when `dir` is the build's `dist/` (which has no `views/`). */
export function appRootFrom(dir: string): string {
  return basename(dir) === 'dist' && !existsSync(join(dir, 'views')) ? dirname(dir) : dir;
}
