import { randomInt } from 'node:crypto';

/** Luhn check digit of a string of digits. */
function luhnDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * A new member number: 10 digits, the first never 0, the last a Luhn check digit so that a
 * mistyped number is caught before any lookup.
 */
export function generateMemberNumber(): string {
  const body = String(randomInt(1, 10)) + String(randomInt(0, 100_000_000)).padStart(8, '0');
  return body + luhnDigit(body);
}

/** Normalizes what a member typed ("1234-5678 90") to digits, or null when it is not a valid member number. */
export function parseMemberNumber(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '');
  if (!/^[1-9]\d{9}$/.test(digits)) return null;
  return luhnDigit(digits.slice(0, 9)) === Number(digits[9]) ? digits : null;
}
