import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { fromUiLocales, isLocale, type Locale } from '../i18n/i18n.ts';

/** The cookie that remembers the member's language choice for a year. */
export const localeCookie = 'tobira_lang';

/** Picks en or ja from an Accept-Language header, honouring q-values. */
export function fromAcceptLanguage(header: string | undefined): Locale | undefined {
  const ranked = (header ?? '').split(',').map((part) => {
    const [tag, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return { base: tag.toLowerCase().split('-')[0], q: q ? Number(q.slice(2)) : 1 };
  }).filter((r) => r.q > 0).sort((a, b) => b.q - a.q);
  return ranked.map((r) => r.base).find(isLocale);
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const match = (req.headers.cookie ?? '').split(';').map((c) => c.trim().split('=')).find(([k]) => k === name);
  return match?.[1];
}

/**
 * The language of a request: the member's remembered choice, then `uiLocales` (from the RP),
 * then Accept-Language, then English.
 */
export function resolveLocale(req: IncomingMessage, uiLocales?: Locale): Locale {
  const chosen = cookieOf(req, localeCookie);
  if (isLocale(chosen)) return chosen;
  return uiLocales ?? fromAcceptLanguage(req.headers['accept-language']) ?? 'en';
}

/** The language of a request of an authorization: {@link resolveLocale} with the RP's `ui_locales`. */
export function authorizationLocale(req: IncomingMessage, params: { ui_locales?: unknown } | undefined): Locale {
  return resolveLocale(req, fromUiLocales(params?.ui_locales as string | undefined));
}

/**
 * Sets `ctx.state.locale`. `?lang=ja` on any page switches the language and remembers it.
 */
export function localeMiddleware() {
  return async (ctx: Context, next: Next) => {
    const requested = ctx.querystring.includes('lang=') ? ctx.query.lang : undefined;
    if (isLocale(requested)) {
      ctx.cookies.set(localeCookie, requested, { maxAge: 365 * 24 * 3600 * 1000, sameSite: 'lax', httpOnly: false, signed: false, overwrite: true });
      ctx.request.headers.cookie = `${localeCookie}=${requested}; ${ctx.request.headers.cookie ?? ''}`;
    }
    // Worked out on first use: token, userinfo and discovery answers never need it.
    let locale: Locale | undefined;
    Object.defineProperty(ctx.state, 'locale', {
      get: () => (locale ??= resolveLocale(ctx.req)),
      set: (value: Locale) => { locale = value; },
      enumerable: true, configurable: true,
    });
    await next();
  };
}
