import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { cachedParses, numberTypeOf, parsePhone } from '../../src/domain/phone.js';

// parsePhone validates through getType() and keeps the type; it must agree with the library's
// own isValid() and getType() on valid and invalid input alike
const CASES: [string, string | undefined][] = [
  ['+14165550123', undefined], // fictional 555: invalid
  ['+14162345678', undefined],
  ['416 234 5678', 'CA'],
  ['+19005551234', undefined], // premium rate
  ['+18005551234', undefined], // toll free
  ['+447911123456', undefined], // GB mobile
  ['+442079460000', undefined],
  ['+44 909 8790000', undefined], // GB premium
  ['+33612345678', undefined],
  ['+3361234', undefined], // too short
  ['+999123456', undefined], // no such country
  ['0612345678', 'FR'],
  ['12345', 'US'],
  ['not a number', 'US'],
  ['+61 2 9876 5432', undefined],
];

test('parsePhone: valid exactly when libphonenumber says so, with the same number type', () => {
  for (const [raw, region] of CASES) {
    const ref = parsePhoneNumberFromString(raw, region as CountryCode | undefined);
    const p = parsePhone(raw, region);
    assert.equal(p !== undefined, ref?.isValid() ?? false, `${raw} validity`);
    if (p && ref) {
      assert.equal(p.number, ref.number);
      assert.equal(numberTypeOf(p), ref.getType() ?? 'UNKNOWN', `${raw} type`);
    }
  }
  // a PhoneNumber parsed elsewhere still gets its type
  const other = parsePhoneNumberFromString('+19005551234')!;
  assert.equal(numberTypeOf(other), other.getType() ?? 'UNKNOWN');
});

test('parsePhone keeps its parses, valid or not, in a bounded map', () => {
  const a = parsePhone('+14162345678');
  assert.ok(a);
  assert.equal(parsePhone('+14162345678'), a, 'a number parsed again is the kept parse');
  assert.equal(parsePhone('+14162345678', 'CA'), a, 'an international form is one entry whatever the region');
  const national = parsePhone('(416) 234-5679', 'CA');
  assert.equal(parsePhone('+14162345679'), national, 'a national form is kept under its E.164 form too');
  // the region is part of the key: the same digits mean different numbers in different regions
  assert.equal(parsePhone('0612345678', 'FR')?.number, '+33612345678');
  assert.equal(parsePhone('0612345678', 'US'), undefined);
  assert.equal(parsePhone('0612345678', 'FR')?.number, '+33612345678');
  for (let i = 0; i < 12_000; i++) parsePhone(`+1416${String(2_000_000 + i)}`);
  assert.ok(cachedParses() <= 10_000, `at most 10,000 kept (${cachedParses()})`);
  // the oldest went first; parsing it again still gives the same number
  assert.equal(parsePhone('+14162345678')?.number, '+14162345678');
});
