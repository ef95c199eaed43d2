// CostStore (src/store/costs/port.ts): rate tables per provider and the cost ledger, whose
// record also sets the call's cost in the same step.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { CostEntry } from '../../../src/store/costs/port.js';
import type { BackendFactory } from './backends.js';
import { baseCall, rid, t } from './helpers.js';

const entry = (callId: string, endedAtMs: number, over: Partial<CostEntry> = {}): CostEntry => ({
  callId,
  providerId: 'p1',
  to: '+12125550123',
  country: 'US',
  endedAtMs,
  talkSec: 42,
  billedSec: 60,
  cost: { amount: 0.015, currency: 'USD', source: 'rates' },
  ...over,
});

export function runCostsContract(f: BackendFactory): void {
  describe('costs', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('rate tables: put replaces, get, all by provider, delete; copies; orgs apart', async () => {
      const s = b.costs;
      const org = rid('org');
      const t1 = { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.01 }, { prefix: '+44', perMinute: 0.02, increment: 6, minimum: 30, connectFee: 0.001 }] };
      assert.equal(await s.getRates(org, 'p1'), null);
      await s.putRates(org, 'p1', t1);
      await s.putRates(org, 'p2', { currency: 'EUR', rates: [] });
      assert.deepEqual(await s.getRates(org, 'p1'), t1);
      const got = await s.getRates(org, 'p1');
      got!.rates.pop();
      assert.deepEqual(await s.getRates(org, 'p1'), t1, 'a copy');
      assert.deepEqual(await s.allRates(org), { p1: t1, p2: { currency: 'EUR', rates: [] } });
      await s.putRates(org, 'p1', { currency: 'GBP', rates: [{ prefix: '+44', perMinute: 1 }] });
      assert.equal((await s.getRates(org, 'p1'))!.currency, 'GBP', 'replaced');
      await s.delRates(org, 'p2');
      assert.deepEqual(Object.keys(await s.allRates(org)), ['p1']);
      assert.deepEqual(await s.allRates(rid('org')), {});
    });

    test('record: the cost on the call and in the ledger (replacing an earlier record); window reads; old entries leave', async () => {
      const s = b.costs;
      const org = rid('org');
      await b.calls.createCall(baseCall(org, 'c1', { status: 'completed' }));
      await s.record(org, entry('c1', 1000), 0);
      assert.deepEqual((await b.calls.getCall(org, 'c1'))!.cost, { amount: 0.015, currency: 'USD', source: 'rates' });
      await s.record(org, entry('c1', 1000, { cost: { amount: 0.02, currency: 'USD', source: 'provider' } }), 0);
      assert.deepEqual((await b.calls.getCall(org, 'c1'))!.cost, { amount: 0.02, currency: 'USD', source: 'provider' }, 'replaced');
      await s.record(org, entry('gone', 2000, { cost: null }), 0); // a call already purged: the ledger still has it
      await s.record(org, entry('c3', 3000), 0);
      assert.deepEqual((await s.ledger(org, 0, 10_000, 100)).map((e) => e.callId), ['c1', 'gone', 'c3'], 'oldest first');
      assert.deepEqual(await s.ledger(org, 1500, 3000, 100), [entry('gone', 2000, { cost: null }), entry('c3', 3000)]);
      assert.equal((await s.ledger(org, 0, 10_000, 1)).length, 1);
      assert.equal((await s.ledger(org, 0, 10_000, 100)).filter((e) => e.callId === 'c1').length, 1, 'one entry per call');
      await s.record(org, entry('c4', 4000), 2500);
      assert.deepEqual((await s.ledger(org, 0, 10_000, 100)).map((e) => e.callId), ['c3', 'c4'], 'entries that ended before the cutoff left');
      assert.deepEqual(await s.ledger(rid('org'), 0, 10_000, 100), []);
    });

    test("a provider's reported price rides on the terminal transition (and on a late report) as providerPrice", async () => {
      const org = rid('org');
      await b.calls.createCall(baseCall(org, 'c1', { status: 'answered', answeredAt: t(1), history: [{ status: 'answered', at: t(1) }] }));
      const tr = await b.calls.transition(org, 'c1', { status: 'completed', at: t(60), durationSec: 59, providerPrice: { amount: -0.013, currency: 'USD' } });
      assert.deepEqual(tr?.call.providerPrice, { amount: -0.013, currency: 'USD' });
      assert.deepEqual((await b.calls.getCall(org, 'c1'))!.providerPrice, { amount: -0.013, currency: 'USD' });
      await b.calls.transition(org, 'c1', { status: 'completed', at: t(61), providerPrice: { amount: -0.02, currency: 'USD' } });
      assert.deepEqual((await b.calls.getCall(org, 'c1'))!.providerPrice, { amount: -0.02, currency: 'USD' }, 'a late report still lands');
    });
  });
}
