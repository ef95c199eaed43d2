// Rate tables and the billing rule (src/costs/rates.ts), calling hours (src/policy/calling-hours.ts)
// and the local-presence choice (src/routing/caller-id.ts): pure functions, time injected.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/domain/errors.js';
import { billedSeconds, parseRateCsv, parseRateJson, priceCall, rateCsv, rateFor } from '../../src/costs/rates.js';
import { costOf } from '../../src/costs/cost-service.js';
import { checkCallingHours, checkWindow, timeZonesOf } from '../../src/policy/calling-hours.js';
import { bestOfPool } from '../../src/routing/caller-id.js';
import type { Call } from '../../src/domain/types.js';

const err = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DomainError);
    assert.equal(e.code, 'validation_failed');
    return e.message;
  }
  assert.fail('expected validation_failed');
};

describe('rate tables', () => {
  test('the longest prefix wins; talk rounded up to the increment, at least the minimum, plus the connect fee; unanswered costs nothing', () => {
    const t = parseRateJson({ currency: 'EUR', rates: [{ prefix: '+44', perMinute: 0.02 }, { prefix: '+447', perMinute: 0.1, increment: 6, minimum: 30, connectFee: 0.005 }] });
    assert.equal(rateFor(t, '+442071234567')!.prefix, '+44');
    assert.equal(rateFor(t, '+447700900123')!.prefix, '+447');
    assert.equal(rateFor(t, '+15145550100'), undefined);
    assert.deepEqual(priceCall(t, '+442071234567', 61), { money: { amount: 0.04, currency: 'EUR' }, billedSec: 120 });
    assert.deepEqual(priceCall(t, '+447700900123', 7), { money: { amount: 0.055, currency: 'EUR' }, billedSec: 30 }, 'minimum 30 s + fee');
    assert.deepEqual(priceCall(t, '+447700900123', 31), { money: { amount: 0.065, currency: 'EUR' }, billedSec: 36 });
    assert.deepEqual(priceCall(t, '+447700900123', 0), { money: { amount: 0, currency: 'EUR' }, billedSec: 0 });
    assert.equal(billedSeconds({ prefix: '+1', perMinute: 1 }, 0.2), 60, 'default increment 60 s');
  });

  test('CSV: header, optional columns, blank lines; round-trips', () => {
    const t = parseRateCsv('prefix,perMinute,increment\r\n+1,0.01,\r\n\r\n+1212, 0.015 ,6\r\n', 'USD');
    assert.deepEqual(t, { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.01 }, { prefix: '+1212', perMinute: 0.015, increment: 6 }] });
    assert.deepEqual(parseRateCsv(rateCsv(t), 'USD'), t);
  });

  test('bad rows name their line; bad currencies are refused', () => {
    assert.match(err(() => parseRateCsv('prefix,perMinute\n+1,0.01\n+44,-1\n', 'USD')), /^line 3: perMinute -1 must be at least 0/);
    assert.match(err(() => parseRateCsv('prefix,perMinute\n+1,abc\n', 'USD')), /^line 2: perMinute "abc" is not a number/);
    assert.match(err(() => parseRateCsv('prefix,perMinute\n1,0.1\n', 'USD')), /^line 2: prefix "1"/);
    assert.match(err(() => parseRateCsv('prefix,perMinute\n+1,0.1\n+1,0.2\n', 'USD')), /^line 3: prefix \+1 is listed twice/);
    assert.match(err(() => parseRateCsv('prefix,perMinute\n+1,0.1,6\n', 'USD')), /^line 2: 3 columns/);
    assert.match(err(() => parseRateCsv('perMinute,prefix\n', 'USD')), /^line 1: the header/);
    assert.match(err(() => parseRateJson({ currency: 'USD', rates: [{ prefix: '+1', perMinute: 1, increment: 1.5 }] })), /^line 1: increment 1.5 must be whole seconds/);
    assert.match(err(() => parseRateJson({ currency: 'usd', rates: [] })), /ISO 4217/);
    assert.match(err(() => parseRateJson({ currency: 'ABC', rates: [] })), /ISO 4217/);
    assert.match(err(() => parseRateCsv('prefix,perMinute\n', undefined)), /ISO 4217/);
  });

  test("a provider's reported price replaces the table's; no table and no price: no cost", () => {
    const call = { to: '+12125550123', durationSec: 42, direction: 'outbound' } as Call;
    const t = parseRateJson({ currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.01 }] });
    assert.deepEqual(costOf(call, t), { cost: { amount: 0.01, currency: 'USD', source: 'rates' }, billedSec: 60 });
    assert.deepEqual(costOf({ ...call, providerPrice: { amount: -0.0085, currency: 'USD' } }, t).cost, { amount: 0.0085, currency: 'USD', source: 'provider' });
    assert.equal(costOf(call, null).cost, null);
  });
});

describe('calling hours', () => {
  const MON = (hhmmZ: string) => Date.parse(`2026-01-05T${hhmmZ}:00Z`); // a Monday (winter: New York UTC-5, London UTC)

  test('time zones come from the number; several for a non-geographic range', () => {
    assert.deepEqual(timeZonesOf('+12125550123'), ['America/New_York']);
    assert.deepEqual(timeZonesOf('+442071234567'), ['Europe/London']);
    assert.ok(timeZonesOf('+18005550100').length > 10);
  });

  test('inside and outside the window, retryAt the next start in the callee zone, weekdays', () => {
    const w = [{ start: '09:00', end: '17:00', days: [1, 2, 3, 4, 5] }];
    assert.equal(checkCallingHours(w, '+12125550123', MON('15:00')).allowed, true);
    const night = checkCallingHours(w, '+12125550123', MON('03:00'));
    assert.deepEqual([night.allowed, night.retryAt], [false, '2026-01-05T14:00:00.000Z']);
    const fri = checkCallingHours(w, '+442071234567', Date.parse('2026-01-09T17:00:00Z'));
    assert.deepEqual([fri.allowed, fri.retryAt], [false, '2026-01-12T09:00:00.000Z'], 'Friday 17:00 → Monday 09:00');
    assert.equal(checkCallingHours(w, '+442071234567', Date.parse('2026-01-09T16:59:00Z')).allowed, true);
  });

  test('across midnight: the days name the day the window starts', () => {
    const w = [{ start: '22:00', end: '02:00', days: [5] }]; // Friday night into Saturday
    assert.equal(checkCallingHours(w, '+442071234567', Date.parse('2026-01-09T23:00:00Z')).allowed, true);
    assert.equal(checkCallingHours(w, '+442071234567', Date.parse('2026-01-10T01:59:00Z')).allowed, true, 'Saturday 01:59 is Friday night');
    const sat = checkCallingHours(w, '+442071234567', Date.parse('2026-01-10T02:00:00Z'));
    assert.deepEqual([sat.allowed, sat.retryAt], [false, '2026-01-16T22:00:00.000Z']);
    assert.equal(checkCallingHours(w, '+442071234567', Date.parse('2026-01-08T01:00:00Z')).allowed, false, 'Thursday 01:00 is Wednesday night');
    assert.match(checkWindow({ start: '09:00', end: '09:00' })!, /across midnight/);
    assert.equal(checkWindow({ start: '00:00', end: '24:00' }), null);
  });

  test('several zones: allowed only when every one is inside; retryAt when they all are', () => {
    // the US 800 range spans Guam to Newfoundland: no common 09:00-17:00 moment
    const v = checkCallingHours([{ start: '09:00', end: '17:00' }], '+18005550100', MON('15:00'));
    assert.equal(v.allowed, false);
    assert.equal(v.retryAt, undefined);
    // 00:00-24:00 every day holds everywhere
    assert.equal(checkCallingHours([{ start: '00:00', end: '24:00' }], '+18005550100', MON('15:00')).allowed, true);
    // London and Guernsey, Isle of Man, Jersey share the clock: a UK mobile behaves like London
    const uk = checkCallingHours([{ start: '09:00', end: '17:00' }], '+447700900123', MON('08:30'));
    assert.deepEqual([uk.allowed, uk.retryAt], [false, '2026-01-05T09:00:00.000Z']);
  });

  test('a daylight-saving change: retryAt is the local start on the new offset', () => {
    // New York moves to UTC-4 on Sunday 2026-03-08: Monday 09:00 is 13:00Z, not 14:00Z
    const v = checkCallingHours([{ start: '09:00', end: '17:00' }], '+12125550123', Date.parse('2026-03-08T06:00:00Z'));
    assert.equal(v.retryAt, '2026-03-08T13:00:00.000Z');
  });
});

describe('local presence', () => {
  const pool = ['+13105550100', '+12125550100', '+12125550120', '+442071234567', '+447700900100'];
  test('same country first, then the longest common prefix (the area code)', () => {
    assert.equal(bestOfPool(pool, '+12125550123').callerId, '+12125550120');
    assert.equal(bestOfPool(pool, '+13105551234').callerId, '+13105550100');
    assert.equal(bestOfPool(pool, '+442079460123').callerId, '+442071234567');
    assert.equal(bestOfPool(pool, '+447700900999').callerId, '+447700900100');
    assert.equal(bestOfPool(['+12125550100'], '+442079460123').callerId, '+12125550100', 'no number of its country: the pool still answers');
    // +1 416 (Canada) shares +1 with the US numbers but not the country
    assert.match(bestOfPool(pool, '+14165550100').reason, /no pool number in CA/);
  });
  test('equally good numbers are spread over destinations, each destination always on the same one', () => {
    const twins = ['+12125550100', '+12125550200', '+12125550300'];
    const picks = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const to = `+1212777${String(1000 + i)}`;
      const a = bestOfPool(twins, to).callerId;
      assert.equal(bestOfPool(twins, to).callerId, a);
      picks.add(a);
    }
    assert.ok(picks.size > 1, 'spread');
  });
});
