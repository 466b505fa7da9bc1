import { expect } from 'chai';
import { generateMemberNumber, parseMemberNumber } from '../../src/accounts/member-number.ts';

/** An independent Luhn check of a whole number (check digit included). */
function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

describe('member numbers', () => {
  const samples = Array.from({ length: 200 }, () => generateMemberNumber());

  it('are 10 digits, never start with 0, and end in a Luhn check digit', () => {
    for (const n of samples) {
      expect(n).to.match(/^[1-9]\d{9}$/);
      expect(luhnValid(n), n).to.equal(true);
    }
    expect(new Set(samples).size).to.be.greaterThan(195);
  });

  it('agree with the textbook Luhn example', () => {
    expect(luhnValid('79927398713'), 'the checker itself').to.equal(true);
    // 799273987 takes check digit 5 (the same rule, on our 10 digits).
    expect(parseMemberNumber('7992739875')).to.equal('7992739875');
    expect(parseMemberNumber('7992739871')).to.equal(null);
  });

  it('parse what members type, with spaces or dashes', () => {
    const n = samples[0];
    for (const typed of [n, `${n.slice(0, 4)} ${n.slice(4, 8)} ${n.slice(8)}`, `${n.slice(0, 4)}-${n.slice(4, 8)}-${n.slice(8)}`, ` ${n} `, `${n.slice(0, 5)}\t${n.slice(5)}`]) {
      expect(parseMemberNumber(typed), JSON.stringify(typed)).to.equal(n);
    }
  });

  it('reject every single-digit typo', () => {
    for (const n of samples.slice(0, 20)) {
      for (let i = 0; i < n.length; i++) {
        for (let d = 0; d <= 9; d++) {
          if (String(d) === n[i]) continue;
          const typo = n.slice(0, i) + d + n.slice(i + 1);
          expect(parseMemberNumber(typo), `${n} -> ${typo}`).to.equal(null);
        }
      }
    }
  });

  it('reject swapped neighbouring digits (except the 0/9 pair Luhn cannot see)', () => {
    for (const n of samples.slice(0, 50)) {
      for (let i = 0; i < n.length - 1; i++) {
        const [a, b] = [n[i], n[i + 1]];
        if (a === b || (a + b === '09' || a + b === '90')) continue;
        const swapped = n.slice(0, i) + b + a + n.slice(i + 2);
        expect(parseMemberNumber(swapped), `${n} -> ${swapped}`).to.equal(null);
      }
    }
  });

  it('reject what is not a member number', () => {
    for (const input of ['', '123', '12345678901', `0${samples[0].slice(1)}`, 'abcdefghij', `${samples[0].slice(0, 9)}x`, 'member@example.com', '１２３４５６７８９０']) {
      expect(parseMemberNumber(input), input).to.equal(null);
    }
  });
});
