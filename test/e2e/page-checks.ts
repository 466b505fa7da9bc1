/**
 * Checks run on every hosted page the browser tests reach: a small automated accessibility and
 * layout audit at phone and desktop size, and optional screenshots for a person to look at.
 *
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { VIEWPORT_DESKTOP, VIEWPORT_MOBILE } from '../helpers/browser.ts';

/** Where {@link checkPage} saves screenshots when set (e.g. `TOBIRA_SCREENSHOTS=/tmp/shots`). */
const screenshotDir = process.env.TOBIRA_SCREENSHOTS;

/**
 * Problems the audit finds on the current page (empty when none), checked in the page:
 * `<html lang>` is the locale; exactly one visible h1; every visible field has a label; every
 * visible button and link has a name; ids are unique; images have alt; the language switch is a
 * nav whose current language has aria-current; nothing is wider than the viewport.
 */
export async function pageProblems(page: Page, locale: 'en' | 'ja'): Promise<string[]> {
  return page.evaluate((expectedLang) => {
    const problems: string[] = [];
    const visible = (el: Element) => (el as HTMLElement).offsetParent !== null || getComputedStyle(el).position === 'fixed';
    const describe = (el: Element) => `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}>`;
    const nameOf = (el: Element) => {
      const labelledBy = el.getAttribute('aria-labelledby');
      if (labelledBy) return labelledBy.split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ').trim();
      return (el.getAttribute('aria-label') ?? (el as HTMLElement).innerText ?? '').trim();
    };

    if (document.documentElement.lang !== expectedLang) problems.push(`html lang is "${document.documentElement.lang}"`);
    if (!document.title.trim()) problems.push('no <title>');

    const h1s = Array.from(document.querySelectorAll('h1')).filter(visible);
    if (h1s.length !== 1) problems.push(`${h1s.length} visible h1 elements`);

    for (const field of Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))) {
      if (!visible(field)) continue;
      const labels = (field as HTMLInputElement).labels;
      const labelled = (labels && Array.from(labels).some((l) => l.textContent?.trim())) || nameOf(field);
      if (!labelled) problems.push(`${describe(field)} has no label`);
    }
    for (const control of Array.from(document.querySelectorAll('button, a[href]'))) {
      if (visible(control) && !nameOf(control)) problems.push(`${describe(control)} has no accessible name`);
    }
    for (const img of Array.from(document.querySelectorAll('img'))) {
      if (!img.hasAttribute('alt')) problems.push(`${describe(img)} has no alt`);
    }
    const ids = Array.from(document.querySelectorAll('[id]')).map((el) => el.id);
    for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`duplicate id "${id}"`);

    const nav = document.querySelector('nav.lang');
    if (!nav?.getAttribute('aria-label')) problems.push('language switch is not a labelled nav');
    const current = nav ? Array.from(nav.querySelectorAll('a[aria-current]')) : [];
    if (current.length !== 1 || current[0].getAttribute('lang') !== expectedLang) problems.push('language switch does not mark the current language');

    const overflow = document.documentElement.scrollWidth - window.innerWidth;
    if (overflow > 0) problems.push(`page is ${overflow}px wider than the ${window.innerWidth}px viewport`);
    for (const el of Array.from(document.querySelectorAll('main *'))) {
      if (!visible(el) || el.closest('pre')) continue;
      const rect = el.getBoundingClientRect();
      if (rect.right > window.innerWidth + 0.5) problems.push(`${describe(el)} sticks out of the viewport`);
    }
    return problems;
  }, locale);
}

/**
 * Audits the current page at phone and desktop size (see {@link pageProblems}), saving
 * screenshots as `<name>-<locale>-<width>.png` when TOBIRA_SCREENSHOTS is set; restores the
 * viewport it found.
 */
export async function checkPage(page: Page, locale: 'en' | 'ja', name: string): Promise<void> {
  const original = page.viewportSize();
  try {
    for (const viewport of [VIEWPORT_MOBILE, VIEWPORT_DESKTOP]) {
      await page.setViewportSize(viewport);
      expect(await pageProblems(page, locale), `${name} (${locale}, ${viewport.width}px)`).to.deep.equal([]);
      if (screenshotDir) {
        mkdirSync(screenshotDir, { recursive: true });
        await page.screenshot({ path: join(screenshotDir, `${name}-${locale}-${viewport.width}.png`), fullPage: true });
      }
    }
  } finally {
    if (original) await page.setViewportSize(original);
  }
}

/**
 * The focus indicator of the focused element: true when it draws an outline of at least 2px
 * (what `:focus-visible` gives keyboard users on Tobira's pages).
 */
export async function focusIsVisible(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return false;
    const style = getComputedStyle(el);
    return el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  });
}
