import { expect } from 'chai';
import { acrValues, requiredAcr, satisfies, signInMethods } from '../../src/oidc/acr.ts';

describe('acr: what an RP\'s acr_values require and what a sign-in satisfies', () => {
  describe('requiredAcr', () => {
    const cases: [unknown, string | null][] = [
      [undefined, null],
      [null, null],
      [42, null],
      ['', null],
      ['   ', null],
      ['phr', 'phr'],
      ['mfa', 'mfa'],
      ['sfa', 'sfa'],
      // acr_values lists the values the RP accepts: the weakest one listed is enough.
      ['phr mfa', 'mfa'],
      ['mfa phr', 'mfa'],
      ['phr sfa mfa', 'sfa'],
      ['  phr   mfa  ', 'mfa'],
      ['urn:example:unknown', null],
      ['urn:example:unknown phr', 'phr'],
      ['PHR', null],
      // Names on Object.prototype are not acr values.
      ['toString', null],
      ['constructor __proto__ hasOwnProperty', null],
      ['toString phr', 'phr'],
    ];
    for (const [input, expected] of cases) {
      it(`${JSON.stringify(input)} requires ${expected ?? 'nothing'}`, () => {
        expect(requiredAcr(input)).to.equal(expected);
      });
    }
  });

  describe('satisfies', () => {
    it('accepts any sign-in, even none, when nothing is required', () => {
      expect(satisfies(undefined, null)).to.equal(true);
      expect(satisfies('sfa', null)).to.equal(true);
      expect(satisfies('something-else', null)).to.equal(true);
    });

    it('orders phr > mfa > sfa', () => {
      const table: [string, 'phr' | 'mfa' | 'sfa', boolean][] = [
        ['phr', 'phr', true], ['phr', 'mfa', true], ['phr', 'sfa', true],
        ['mfa', 'phr', false], ['mfa', 'mfa', true], ['mfa', 'sfa', true],
        ['sfa', 'phr', false], ['sfa', 'mfa', false], ['sfa', 'sfa', true],
      ];
      for (const [actual, required, expected] of table) {
        expect(satisfies(actual, required), `${actual} meets ${required}`).to.equal(expected);
      }
    });

    it('refuses no sign-in or an unknown acr when something is required', () => {
      expect(satisfies(undefined, 'sfa')).to.equal(false);
      expect(satisfies('urn:example:gold', 'sfa')).to.equal(false);
      expect(satisfies('toString', 'sfa')).to.equal(false);
      expect(satisfies('__proto__', 'sfa')).to.equal(false);
    });
  });

  describe('sign-in methods', () => {
    it('only a passkey reaches phr; password plus a one-time code reaches mfa; an email code alone is sfa', () => {
      expect(signInMethods.passkey.acr).to.equal('phr');
      expect(signInMethods.password_otp.acr).to.equal('mfa');
      expect(signInMethods.email_code.acr).to.equal('sfa');
      expect(signInMethods.password.acr).to.equal('sfa');
      for (const method of Object.values(signInMethods)) expect(acrValues).to.include(method.acr);
      expect(satisfies(signInMethods.email_code.acr, requiredAcr('phr'))).to.equal(false);
      expect(satisfies(signInMethods.passkey.acr, requiredAcr('mfa'))).to.equal(true);
    });

    it('says in amr (RFC 8176) how the member signed in', () => {
      expect(signInMethods.passkey.amr).to.deep.equal(['pop', 'mfa']);
      expect(signInMethods.email_code.amr).to.deep.equal(['otp']);
      expect(signInMethods.password.amr).to.deep.equal(['pwd']);
      expect(signInMethods.password_otp.amr).to.include.members(['pwd', 'otp', 'mfa']);
    });
  });
});
