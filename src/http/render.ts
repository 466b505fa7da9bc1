import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { Eta } from 'eta';
import { translator, type Locale } from '../i18n/i18n.ts';
import { authorizationLocale } from './locale.ts';
import { appRoot } from '../config/app-root.ts';
import type { AppError } from './errors.ts';

/** The views directory (page and email templates). */
export const viewsDir = resolve(appRoot, 'views');

/** Creates the template engine over views/ (autoescaping on, templates cached in production). */
export function createViews(cache: boolean): Eta {
  return new Eta({ views: viewsDir, autoEscape: true, cache, autoTrim: false });
}

/** Renders pages with the data every page needs (language, switch links, request id). */
export interface Renderer {
  /** `url`: the page's own address, for its language links (by default the request's). */
  page(ctx: Context, view: string, data: Record<string, unknown>, status?: number, url?: string): void;
  /**
   * A page whose only request-specific parts are a few short `values` (an interaction's uid, in
   * its data and its URL; a WebAuthn challenge): rendered once for everything else (language,
   * client, options) and kept as bytes, then served with the values filled in. `data` builds
   * the page's data for given values. The view must use nothing else of the request (no request
   * id). Values that are not plain base64url get a page rendered the usual way. `url` is the
   * page's own address (its language links), by default the request's.
   */
  pageWithValues<K extends string>(ctx: Context, view: string, values: Record<K, string>, data: (values: Record<K, string>) => Record<string, unknown>, url?: string): void;
  errorPage(ctx: Context, error: AppError): void;
  /** oidc-provider hooks: they get the provider's own context. */
  logout(ctx: KoaContextWithOIDC, form: string): void;
  loggedOut(ctx: KoaContextWithOIDC): void;
  oidcError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, error: unknown): void;
}

function langLinks(url: string, host: string) {
  const target = new URL(url, `http://${host || 'localhost'}`);
  return (['en', 'ja'] as const).map((lang) => {
    target.searchParams.set('lang', lang);
    return { lang, href: target.pathname + target.search };
  });
}

/** How many value-independent pages {@link Renderer.pageWithValues} keeps (it starts over when full). */
const pagesKept = 500;

/** Builds the renderer. */
export function createRenderer(views: Eta): Renderer {
  function html(ctx: Context | KoaContextWithOIDC, locale: Locale, view: string, data: Record<string, unknown>, url = ctx.url): string {
    const requestId = (ctx.req as unknown as { tobira?: { requestId: string } }).tobira?.requestId;
    return views.render(view, {
      t: translator(locale), locale, langs: langLinks(url, ctx.host), requestId, ...data,
    });
  }

  // Pages rendered with a stand-in for each value (letters and digits: no escaping changes
  // them), kept split around them: bytes, and between them the name of the value that goes there.
  const standInTag = randomBytes(12).toString('hex');
  const standInOf = (name: string) => `tobira${name.replace(/[^A-Za-z0-9]/g, '')}${standInTag}`;
  const pages = new Map<string, (Buffer | string)[] | null>();
  function partsFor(ctx: Context, view: string, values: Record<string, string>, data: (values: Record<string, string>) => Record<string, unknown>, pageUrl: string): (Buffer | string)[] | null {
    const names = Object.keys(values);
    const standIns = Object.fromEntries(names.map((name) => [name, standInOf(name)]));
    let url = pageUrl;
    for (const name of names) url = url.split(values[name]!).join(standIns[name]);
    const standInData = data(standIns);
    const key = JSON.stringify([view, ctx.state.locale, ctx.host, url, standInData]);
    let parts = pages.get(key);
    if (parts === undefined) {
      const nameOf = new Map(names.map((name) => [standIns[name]!, name]));
      // Split with the stand-ins captured: text, a stand-in, text, … (odd places are stand-ins).
      const split = html(ctx, ctx.state.locale, view, standInData, url).split(new RegExp(`(${[...nameOf.keys()].join('|')})`));
      // A view that changed a value (or never showed one) is rendered per request instead.
      parts = split.length > 1 ? split.map((s, i) => (i % 2 ? nameOf.get(s)! : Buffer.from(s))) : null;
      if (pages.size >= pagesKept) pages.clear();
      pages.set(key, parts);
    }
    return parts;
  }
  const localeOf = (ctx: KoaContextWithOIDC) => authorizationLocale(ctx.req, ctx.oidc?.params);

  return {
    page(ctx, view, data, status = 200, url = ctx.url) {
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = html(ctx, ctx.state.locale, view, data, url);
    },
    pageWithValues(ctx, view, values, data, url = ctx.url) {
      const plain = Object.values<string>(values).every((value) => /^[A-Za-z0-9_-]{1,128}$/.test(value));
      // In development, templates are read afresh on every render, and so are these pages.
      const parts = views.config.cache && plain ? partsFor(ctx, view, values, data as never, url) : null;
      if (!parts) { this.page(ctx, view, data(values), 200, url); return; }
      const filled = parts.map((part) => (typeof part === 'string' ? Buffer.from((values as Record<string, string>)[part]!) : part));
      ctx.status = 200;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = Buffer.concat(filled);
    },
    errorPage(ctx, error) {
      const t = translator(ctx.state.locale);
      this.page(ctx, 'error', { title: t('error.title'), message: t(`errors.${error.code}`, error.params), code: error.code }, error.status);
    },
    logout(ctx, form) {
      const locale = localeOf(ctx);
      ctx.type = 'html';
      ctx.body = html(ctx, locale, 'logout', { title: translator(locale)('logout.title'), form, client: ctx.oidc.client?.clientName });
    },
    loggedOut(ctx) {
      const locale = localeOf(ctx);
      ctx.type = 'html';
      ctx.body = html(ctx, locale, 'logged-out', { title: translator(locale)('logout.done_title'), client: ctx.oidc.client?.clientName });
    },
    oidcError(ctx, out) {
      const locale = localeOf(ctx);
      const t = translator(locale);
      ctx.type = 'html';
      const message = out.error === 'invalid_request' && /interaction/i.test(out.error_description ?? '')
        ? t('errors.interaction.not_found')
        : `${t('errors.oidc', { error: out.error })}${out.error_description ? ` ${out.error_description}` : ''}`;
      ctx.body = html(ctx, locale, 'error', { title: t('error.title'), message, code: out.error });
    },
  };
}
