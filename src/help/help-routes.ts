import Router from '@koa/router';
import type { Renderer } from '../http/render.ts';
import { translator } from '../i18n/i18n.ts';

/** Where passkey error messages and the sign-in page send members who need help. */
export const passkeyHelpPath = '/help/passkeys';

/** The platforms the help page covers, in the order it shows them. */
export const helpPlatforms = ['iphone', 'android', 'windows', 'mac'] as const;

/** "Prepare your device" and the FAQ: a page whose script checks this browser. */
export function helpRoutes(deps: { renderer: Renderer }): Router {
  const router = new Router({ prefix: '/help' });
  router.get('/', (ctx) => { ctx.redirect(passkeyHelpPath); });
  router.get('/passkeys', (ctx) => {
    deps.renderer.page(ctx, 'help/passkeys', { title: translator(ctx.state.locale)('help.title'), platforms: helpPlatforms, wide: true });
  });
  return router;
}
