import { expect } from 'chai';
import { catalogs, translator } from '../../src/i18n/i18n.ts';
import type { ErrorCode } from '../../src/http/errors.ts';

type Tree = { [key: string]: string | string[] | Tree };

/** Every leaf of a catalog as "path" -> text (array entries as "path.0", "path.1"...). */
function leaves(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.set(path, value);
    else if (Array.isArray(value)) value.forEach((v, i) => out.set(`${path}.${i}`, v));
    else for (const [k, v] of leaves(value, path)) out.set(k, v);
  }
  return out;
}

const placeholders = (text: string) => [...text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]).sort();

describe('i18n catalogs', () => {
  // The merged catalogs: the main one and every section (src/i18n/sections/).
  const enLeaves = leaves(catalogs.en as unknown as Tree);
  const jaLeaves = leaves(catalogs.ja as unknown as Tree);

  it('have the same keys in English and Japanese, both ways', () => {
    expect([...jaLeaves.keys()].filter((k) => !enLeaves.has(k)), 'only in ja').to.deep.equal([]);
    expect([...enLeaves.keys()].filter((k) => !jaLeaves.has(k)), 'only in en').to.deep.equal([]);
    expect(enLeaves.size).to.be.greaterThan(50);
  });

  it('have no empty texts', () => {
    for (const [name, catalog] of [['en', enLeaves], ['ja', jaLeaves]] as const) {
      for (const [key, text] of catalog) expect(text.trim(), `${name} ${key}`).to.not.equal('');
    }
  });

  it('use the same interpolation placeholders in both languages', () => {
    for (const [key, text] of enLeaves) expect(placeholders(jaLeaves.get(key) ?? ''), key).to.deep.equal(placeholders(text));
  });

  it('has a Japanese text that is not English for every error code', () => {
    const codes: ErrorCode[] = [
      'request.invalid', 'request.too_large', 'request.unsupported_media_type', 'request.cross_site', 'not_found',
      'interaction.not_found', 'interaction.wrong_step', 'passkey.challenge_expired', 'passkey.verification_failed',
      'passkey.unknown_credential', 'passkey.already_registered', 'passkey.counter_regression', 'code.invalid', 'code.expired',
      'code.too_many_attempts', 'rate_limited', 'account.disabled', 'acr.not_satisfied', 'service.unavailable', 'internal',
    ];
    for (const code of codes) {
      const text = translator('ja')(`errors.${code}`, { remaining: 3, seconds: 30, detail: 'x' });
      expect(text, code).to.match(/[\u3040-\u30ff\u4e00-\u9fff]/);
      expect(text, code).to.not.equal(translator('en')(`errors.${code}`, { remaining: 3, seconds: 30, detail: 'x' }));
    }
  });

  it('fills placeholders in both languages', () => {
    for (const locale of ['en', 'ja'] as const) {
      expect(translator(locale)('errors.code.invalid', { remaining: 3 })).to.contain('3').and.not.contain('{{');
      expect(translator(locale)('mail.welcome.subject', { memberNumber: '1234567897' })).to.contain('1234567897');
    }
  });
});
