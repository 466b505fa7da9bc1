import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import { appRoot } from '../config/app-root.ts';

const root = appRoot;

/** Files served under /static, read once at start. */
const files: Record<string, { path: string; type: string }> = {
  '/static/app.css': { path: 'static/app.css', type: 'text/css; charset=utf-8' },
  '/static/api.js': { path: 'static/api.js', type: 'text/javascript; charset=utf-8' },
  '/static/signin.js': { path: 'static/signin.js', type: 'text/javascript; charset=utf-8' },
  '/static/webauthn.js': { path: 'node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js', type: 'text/javascript; charset=utf-8' },
  '/static/logo.svg': { path: 'static/logo.svg', type: 'image/svg+xml' },
  '/static/account.js': { path: 'static/account.js', type: 'text/javascript; charset=utf-8' },
  '/static/account.css': { path: 'static/account.css', type: 'text/css; charset=utf-8' },
  '/static/step-up.js': { path: 'static/step-up.js', type: 'text/javascript; charset=utf-8' },
  '/static/icons/apple.svg': { path: 'static/icons/apple.svg', type: 'image/svg+xml' },
  '/static/icons/google.svg': { path: 'static/icons/google.svg', type: 'image/svg+xml' },
  '/static/icons/windows.svg': { path: 'static/icons/windows.svg', type: 'image/svg+xml' },
  '/static/icons/1password.svg': { path: 'static/icons/1password.svg', type: 'image/svg+xml' },
  '/static/icons/security-key.svg': { path: 'static/icons/security-key.svg', type: 'image/svg+xml' },
  '/static/icons/passkey.svg': { path: 'static/icons/passkey.svg', type: 'image/svg+xml' },
  '/static/enroll.js': { path: 'static/enroll.js', type: 'text/javascript; charset=utf-8' },
  '/static/recover.js': { path: 'static/recover.js', type: 'text/javascript; charset=utf-8' },
  '/static/help.js': { path: 'static/help.js', type: 'text/javascript; charset=utf-8' },
  '/static/admin.js': { path: 'static/admin.js', type: 'text/javascript; charset=utf-8' },
  '/static/admin.css': { path: 'static/admin.css', type: 'text/css; charset=utf-8' },
};

/** Serves the stylesheet and the small browser scripts, with ETags. */
export function staticFiles() {
  const loaded = new Map(Object.entries(files).map(([url, f]) => {
    const body = readFileSync(resolve(root, f.path));
    return [url, { body, type: f.type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` }];
  }));
  return async (ctx: Context, next: Next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? loaded.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.set('ETag', file.etag);
    ctx.set('Cache-Control', 'public, max-age=300');
    if (ctx.get('if-none-match') === file.etag) { ctx.status = 304; return; }
    ctx.type = file.type;
    ctx.body = file.body;
  };
}
