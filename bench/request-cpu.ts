/**
 * Per-request CPU of an HTTP server, for finding which request of a flow costs what. Preloaded
 * into the servers of a benchmark run (`NODE_OPTIONS=--import=…`), it starts counting at the
 * first SIGUSR2 and prints its table at the second; docs/performance.md ("Keeping it so") has
 * the commands.
 *
 * Each request is charged the process's CPU (`process.cpuUsage()`, every thread) from its arrival
 * to the end of its response. Run it at concurrency 1, where requests do not overlap; work done
 * after a response (a background write, garbage collection) lands in the next request.
 * @packageDocumentation
 */
import http from 'node:http';

const totals = new Map<string, { requests: number; micros: number }>();
let counting = false;

/** `GET /interaction/abc/passkey/options?x` → `GET /interaction/:uid/passkey/options`. */
function routeOf(method: string | undefined, url: string | undefined): string {
  const path = (url ?? '').split('?')[0]!.replace(/^\/(interaction|auth)\/[^/]+/, '/$1/:uid');
  return `${method} ${path}`;
}

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
  if (event === 'request' && counting) {
    const [req, res] = args as [http.IncomingMessage, http.ServerResponse];
    const started = process.cpuUsage();
    const route = routeOf(req.method, req.url);
    res.once('finish', () => {
      const used = process.cpuUsage(started);
      const total = totals.get(route) ?? { requests: 0, micros: 0 };
      total.requests += 1;
      total.micros += used.user + used.system;
      totals.set(route, total);
    });
  }
  return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
} as typeof emit;

process.on('SIGUSR2', () => {
  counting = !counting;
  if (counting) { totals.clear(); return; }
  const rows = [...totals].sort((a, b) => b[1].micros - a[1].micros)
    .map(([route, t]) => `| ${route} | ${t.requests} | ${(t.micros / t.requests / 1000).toFixed(3)} |`);
  console.error([`CPU per request, process ${process.pid}`, '| request | count | ms |', '|---|---|---|', ...rows].join('\n'));
});
