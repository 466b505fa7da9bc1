import { CookieJar } from 'tough-cookie';

/** A response as the test sees it. */
export interface UaResponse { status: number; url: string; location: string | null; headers: Headers; text: string; json: any }

/**
 * A minimal browser for tests and the benchmark: a cookie jar (tough-cookie), manual redirects
 * (followed on request), JSON helpers. Each instance is one device with its own cookies.
 */
export interface UserAgent {
  jar: CookieJar;
  get(url: string, options?: { follow?: boolean; headers?: Record<string, string> }): Promise<UaResponse>;
  post(url: string, body: unknown, options?: { headers?: Record<string, string>; form?: boolean; follow?: boolean }): Promise<UaResponse>;
}

/** Creates a user agent; `origin` is sent as Origin on POSTs like a browser does. */
export function createUserAgent(options: { origin?: string; acceptLanguage?: string } = {}): UserAgent {
  const jar = new CookieJar();

  async function request(url: string, init: RequestInit & { follow?: boolean }, hops = 0): Promise<UaResponse> {
    const headers = new Headers(init.headers);
    const cookie = await jar.getCookieString(url);
    if (cookie) headers.set('cookie', cookie);
    if (options.acceptLanguage && !headers.has('accept-language')) headers.set('accept-language', options.acceptLanguage);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const setCookie of res.headers.getSetCookie()) await jar.setCookie(setCookie, url, { ignoreError: true });
    const location = res.headers.get('location') ? new URL(res.headers.get('location')!, url).href : null;
    if (init.follow && location && res.status >= 300 && res.status < 400 && hops < 20) {
      await res.arrayBuffer();
      return request(location, { method: 'GET', follow: true }, hops + 1);
    }
    const text = await res.text();
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, url, location, headers: res.headers, text, json };
  }

  return {
    jar,
    get: (url, o = {}) => request(url, { method: 'GET', headers: o.headers, follow: o.follow ?? false }),
    post(url, body, o = {}) {
      const headers: Record<string, string> = { accept: 'application/json', ...(o.headers ?? {}) };
      if (options.origin) headers.origin = options.origin;
      let payload: string;
      if (o.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        payload = new URLSearchParams(body as Record<string, string>).toString();
        headers.accept = 'text/html';
      } else {
        headers['content-type'] ??= 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      return request(url, { method: 'POST', headers, body: payload, follow: o.follow ?? false });
    },
  };
}

/** The data-config of a page (what its script works from). */
export function pageConfig(html: string): Record<string, any> {
  const raw = /data-config="([^"]*)"/.exec(html)![1]!;
  return JSON.parse(raw.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}
