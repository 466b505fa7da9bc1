import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { CookieSigner } from '../../src/http/cookie-signer.ts';

/** What the `keygrip` package (the default of Koa's `cookies`) computes, written out. */
function keygripSign(data: string, key: string): string {
  return createHmac('sha1', key).update(data).digest('base64')
    .replace(/\/|\+|=/g, (x) => ({ '/': '_', '+': '-', '=': '' })[x]!);
}

describe('CookieSigner: the cookie signatures of Koa and oidc-provider', () => {
  const newest = 'n'.repeat(40);
  const older = 'o'.repeat(40);
  const data = '_session=Fv2dL2rK9uQmXyZ01abc';

  it('signs exactly as keygrip does, so cookies set before an upgrade stay valid', () => {
    const signer = new CookieSigner([newest, older]);
    for (const value of [data, '', 'ä', '_interaction=x; path=/'.repeat(20)]) {
      expect(signer.sign(value)).to.equal(keygripSign(value, newest));
    }
  });

  it('verifies a signature of any configured key and says which key made it', () => {
    const signer = new CookieSigner([newest, older]);
    expect(signer.index(data, keygripSign(data, newest))).to.equal(0);
    expect(signer.index(data, keygripSign(data, older))).to.equal(1);
    expect(signer.verify(data, keygripSign(data, older))).to.equal(true);
  });

  it('rejects a signature of another key, of other data, tampered, truncated, padded or not a string', () => {
    const signer = new CookieSigner([newest]);
    const good = signer.sign(data);
    const bad: unknown[] = [
      keygripSign(data, 'x'.repeat(40)),
      signer.sign(`${data}!`),
      `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`,
      good.slice(0, -2),
      `${good}=`,
      `${good}AA`,
      good.replace(/./, '+'),
      '',
      undefined,
      null,
    ];
    for (const signature of bad) {
      expect(signer.index(data, signature as string), String(signature)).to.equal(-1);
      expect(signer.verify(data, signature as string)).to.equal(false);
    }
  });

  it('needs at least one key', () => {
    expect(() => new CookieSigner([])).to.throw(/at least one key/);
  });
});
