/** The shape of a translated catalog: the same keys as the English one, strings or string lists. */
export type Catalog<T> = { [K in keyof T]: T[K] extends string ? string : T[K] extends readonly string[] ? string[] : Catalog<T[K]> };

/**
 * Declares one section of messages (e.g. `account`) in both languages. The Japanese side is
 * type-checked against the English one, so a missing key fails `tsc`.
 */
export function defineMessages<const T extends Record<string, unknown>>(en: T, ja: Catalog<T>): { en: T; ja: Catalog<T> } {
  return { en, ja };
}
