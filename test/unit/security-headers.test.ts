import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import helmet, { type HelmetOptions } from 'helmet';
import { securityHeaders, staticSecurityHeaders } from '../../src/http/security.ts';

/** Response headers of one GET, without the ones that change per response. */
async function headersOf(server: ReturnType<typeof createServer>): Promise<[string, string][]> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await res.text();
    const headers: [string, string][] = [];
    res.headers.forEach((value, name) => { if (name !== 'date') headers.push([name, value]); });
    return headers.sort();
  } finally {
    server.close();
  }
}

/** What Helmet itself sends for `options`, run as its authors intend (per request). */
function helmetServer(options: HelmetOptions) {
  const run = helmet(options);
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('X-Powered-By', 'test');
    run(req, res, () => { res.setHeader('Content-Type', 'text/plain; charset=utf-8'); res.end('x'); });
  });
}

/** The same through Koa and the precomputed list. */
function listServer(middleware: Koa.Middleware) {
  const app = new Koa();
  app.use(async (ctx, next) => { ctx.res.setHeader('X-Powered-By', 'test'); await next(); });
  app.use(middleware);
  app.use((ctx) => { ctx.body = 'x'; });
  return createServer(app.callback());
}

describe('security headers', () => {
  it('sends exactly what Helmet sends, for the provider routes (no CSP, no HSTS)', async () => {
    const options = { contentSecurityPolicy: false, strictTransportSecurity: false } as const;
    expect(await headersOf(listServer(staticSecurityHeaders(options)))).to.deep.equal(await headersOf(helmetServer(options)));
  });

  it("sends Tobira's page policy: scripts and styles from this origin only, no framing, no X-Powered-By", async () => {
    const headers = new Map(await headersOf(listServer(securityHeaders())));
    expect(headers.get('content-security-policy')).to.include("script-src 'self'").and.include("style-src 'self'")
      .and.include("frame-ancestors 'self'").and.include("object-src 'none'").and.not.include('form-action');
    expect(headers.get('x-frame-options')).to.equal('SAMEORIGIN');
    expect(headers.get('x-content-type-options')).to.equal('nosniff');
    expect(headers.get('referrer-policy')).to.equal('no-referrer');
    expect(headers.has('strict-transport-security')).to.equal(false);
    expect(headers.has('x-powered-by')).to.equal(false);
  });
});
