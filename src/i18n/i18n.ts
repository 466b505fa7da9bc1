import i18next, { type TFunction } from 'i18next';
import { en } from './en.ts';
import { ja } from './ja.ts';
import { sections } from './sections/index.ts';

/** Languages every page and email exists in. */
export const locales = ['en', 'ja'] as const;
export type Locale = (typeof locales)[number];

type Section = { en: Record<string, unknown>; ja: Record<string, unknown> };
const sectionList = Object.entries(sections as Record<string, Section>);

/** The full catalogs: the main one plus every section, by language. */
export const catalogs = {
  en: { ...en, ...Object.fromEntries(sectionList.map(([name, s]) => [name, s.en])) },
  ja: { ...ja, ...Object.fromEntries(sectionList.map(([name, s]) => [name, s.ja])) },
};

const instance = i18next.createInstance();
await instance.init({
  resources: { en: { translation: catalogs.en }, ja: { translation: catalogs.ja } },
  lng: 'en',
  fallbackLng: 'en',
  interpolation: { escapeValue: false },
  returnNull: false,
  initAsync: false,
  showSupportNotice: false,
} as Parameters<typeof instance.init>[0]);

/** A translation function bound to one locale. */
export type Translate = TFunction;

/** The memo key of a call: the key, plus its options when they are plain values; undefined when not memoizable. */
function memoKey(key: unknown, options: Record<string, unknown> | undefined): string | undefined {
  if (typeof key !== 'string') return undefined;
  if (options === undefined) return key;
  if (typeof options !== 'object' || options === null || 'returnObjects' in options) return undefined;
  for (const value of Object.values(options)) {
    if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return undefined;
  }
  return `${key}\u0000${JSON.stringify(options)}`;
}

/**
 * One translation function per locale, made once. A key asked for without options, or with plain
 * values to interpolate (most of a page's strings), is looked up in i18next once and then answered
 * from a map: catalogs do not change while the process runs.
 */
function memoizedTranslator(locale: Locale): Translate {
  const fixed = instance.getFixedT(locale);
  const plain = new Map<string, unknown>();
  const translate = fixed as unknown as (k: unknown, o?: unknown) => unknown;
  return ((key: string | string[], options?: Record<string, unknown>) => {
    const memo = memoKey(key, options);
    if (memo === undefined) return translate(key, options);
    let value = plain.get(memo);
    if (value === undefined) {
      // Bounded: interpolated values (a client's name) vary; start over rather than grow.
      if (plain.size >= 10_000) plain.clear();
      plain.set(memo, (value = translate(key, options)));
    }
    return value;
  }) as unknown as Translate;
}

const translators = { en: memoizedTranslator('en'), ja: memoizedTranslator('ja') } satisfies Record<Locale, Translate>;

/** Returns the translation function of `locale`. */
export function translator(locale: Locale): Translate {
  return translators[locale] ?? translators.en;
}

/** True when `value` is a supported locale. */
export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (locales as readonly string[]).includes(value);
}

/** Picks the first supported locale from a space-separated `ui_locales` value (e.g. "ja-JP en"). */
export function fromUiLocales(uiLocales: string | undefined): Locale | undefined {
  for (const tag of (uiLocales ?? '').split(/\s+/)) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLocale(base)) return base;
  }
  return undefined;
}
