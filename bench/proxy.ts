/**
 * A small reverse proxy for `--instances N`: it listens on the issuer's port and sends each
 * request to one of N Tobira processes. The load generator numbers the requests of a flow
 * (`x-bench-hop: 0, 1, 2...`), and the proxy picks instance `hop mod N`, so consecutive
 * requests of the same flow always land on different instances. Requests without the header
 * go round robin. The chosen instance is returned in `x-bench-instance` so the flow can check.
 *
 * Run as a child process: `node bench/proxy.ts`, with PORT and UPSTREAMS (comma-separated ports).
 *
 * @packageDocumentation
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

/** Starts the proxy on `port` in front of `upstreams` (ports on localhost). */
export async function startProxy(port: number, upstreams: number[]): Promise<{ close(): Promise<void> }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let next = 0;

  const pick = (req: IncomingMessage): number => {
    const hop = Number(req.headers['x-bench-hop']);
    return Number.isInteger(hop) && hop >= 0 ? hop % upstreams.length : next++ % upstreams.length;
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const index = pick(req);
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const upstream = request({
      host: '127.0.0.1', port: upstreams[index], method: req.method, path: req.url, agent,
      headers: { ...req.headers, 'x-forwarded-for': forwardedFor },
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-bench-instance': String(index) });
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', 'x-bench-instance': String(index) });
      res.end(`proxy: ${error.message}`);
    });
    req.pipe(upstream);
  };

  const server = createServer(forward);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject).listen(port));
  return {
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); agent.destroy(); server.close(() => resolve()); }),
  };
}

if (import.meta.main) {
  const upstreams = (process.env.UPSTREAMS ?? '').split(',').map(Number).filter((p) => p > 0);
  const proxy = await startProxy(Number(process.env.PORT), upstreams);
  const stop = () => void proxy.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
