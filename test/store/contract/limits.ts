// LimitStore (src/store/limits/port.ts): token buckets outside the click; a refusal consumes
// nothing; sweep drops buckets that are full again.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { BackendFactory } from './backends.js';
import { bucket, rid, sleep } from './helpers.js';

export function runLimitsContract(f: BackendFactory): void {
  describe('limits', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('takes one token of every bucket; a refusal names the first empty bucket, with the real wait, and takes nothing', async () => {
      const org = rid('org');
      const a = bucket('perProviderPerSecond', 'p:prov', 3);
      const one = { name: 'perDestination', id: 'd:+15145550100', capacity: 1, refillPerMs: 1 / 1000 };
      assert.deepEqual(await b.limits.take(org, [a, one]), { ok: true });
      const refused = await b.limits.take(org, [a, one]);
      assert.equal(refused.ok, false);
      assert.equal(!refused.ok && refused.limit, 'perDestination');
      const wait = !refused.ok ? refused.retryAfterMs : -1;
      assert.ok(wait > 900 && wait <= 1000, `about a second until the next token (${wait})`);
      // `a` gave nothing to the refused request: two of its three tokens are left
      assert.deepEqual(await b.limits.take(org, [a]), { ok: true });
      assert.deepEqual(await b.limits.take(org, [a]), { ok: true });
      const empty = await b.limits.take(org, [a]);
      assert.equal(!empty.ok && empty.limit, 'perProviderPerSecond');
      // another org has its own buckets under the same ids
      assert.deepEqual(await b.limits.take(rid('org'), [a, one]), { ok: true });
      assert.deepEqual(await b.limits.take(org, []), { ok: true }, 'no bucket: nothing to refuse');
    });

    test('tokens come back with time, never beyond the capacity', async () => {
      const org = rid('org');
      const fast = { name: 'fast', id: 'p:fast', capacity: 2, refillPerMs: 1 / 40 };
      assert.equal((await b.limits.take(org, [fast])).ok, true);
      assert.equal((await b.limits.take(org, [fast])).ok, true);
      assert.equal((await b.limits.take(org, [fast])).ok, false);
      await sleep(200); // five tokens' worth, but the bucket holds two
      assert.equal((await b.limits.take(org, [fast])).ok, true);
      assert.equal((await b.limits.take(org, [fast])).ok, true);
      assert.equal((await b.limits.take(org, [fast])).ok, false);
    });

    test('concurrent takes never hand out more tokens than the bucket holds', async () => {
      const org = rid('org');
      const peers = await Promise.all([f.peer(b) ?? b, f.peer(b) ?? b]);
      const bk = bucket('perOrg', 'org', 7);
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => [b, ...peers][i % 3].limits.take(org, [bk])));
      assert.equal(results.filter((r) => r.ok).length, 7);
    });

    test('sweep drops the buckets that are full again, and only those', async () => {
      const org = rid('org');
      const refills = { name: 'r', id: 'p:refills', capacity: 1, refillPerMs: 1 / 150 };
      const slow = bucket('s', 'p:slow', 5);
      await b.limits.take(org, [refills, slow]);
      assert.equal(await b.limits.sweep(org), 0, 'right after the take neither is full');
      await sleep(200);
      assert.equal(await b.limits.sweep(org), 1, 'the refilled one goes');
      assert.equal(await b.limits.sweep(org), 0);
      for (let i = 0; i < 4; i++) assert.equal((await b.limits.take(org, [slow])).ok, true, `slow token ${i}`);
      assert.equal((await b.limits.take(org, [slow])).ok, false, 'the slow bucket was kept as it was');
      assert.equal(await b.limits.sweep(rid('org')), 0, 'an org without buckets');
    });

    test('sweep goes through many buckets', async () => {
      const org = rid('org');
      const many = Array.from({ length: 1200 }, (_, i) => ({ name: 'd', id: `d:+1514555${String(i).padStart(4, '0')}`, capacity: 1, refillPerMs: 1 / 5 }));
      for (let i = 0; i < many.length; i += 100) await b.limits.take(org, many.slice(i, i + 100));
      await sleep(20);
      assert.equal(await b.limits.sweep(org), 1200);
    });
  });
}
