import Router from '@koa/router';
import type { DataSource } from 'typeorm';
import type { KeyValueStore } from '../store/store.ts';

/** `/healthz`: the process answers. `/readyz`: Postgres and the store answer too (503 otherwise). */
export function healthRoutes(deps: { ds: DataSource; store: KeyValueStore }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => { ctx.body = { status: 'ok' }; });
  router.get('/readyz', async (ctx) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
        return 'ok';
      } catch {
        return 'unavailable';
      }
    };
    const [database, store] = await Promise.all([check(() => deps.ds.query('SELECT 1')), check(() => deps.store.ping())]);
    ctx.status = database === 'ok' && store === 'ok' ? 200 : 503;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: ctx.status === 200 ? 'ok' : 'unavailable', database, store };
  });
  return router;
}
