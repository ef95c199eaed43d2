// HealthStore (src/store/health/port.ts): one circuit breaker per provider for every instance.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import { TRIAL_LEASE_MS, type BreakerPolicy, type BreakerView } from '../../../src/store/health/port.js';
import type { BackendFactory } from './backends.js';
import { rid, sleep } from './helpers.js';

const CLOSED: BreakerView = { state: 'closed', failures: 0, openUntil: 0, successes: 0, trialUntil: 0, retryAfterSec: 0 };

export function runHealthContract(f: BackendFactory): void {
  describe('health (circuit breaker)', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('closed and clean until failures reach the threshold; a success before that starts over', async () => {
      const h = b.health;
      const org = rid('org');
      const policy: BreakerPolicy = { threshold: 3, openMs: 10_000, closeAfter: 1 };
      assert.deepEqual(await h.get(org, 'p'), CLOSED);
      assert.deepEqual(await h.failure(org, 'p', policy), { ...CLOSED, failures: 1 });
      assert.deepEqual(await h.failure(org, 'p', policy), { ...CLOSED, failures: 2 });
      assert.deepEqual(await h.get(org, 'p'), { ...CLOSED, failures: 2 });
      assert.deepEqual(await h.success(org, 'p', policy), CLOSED);
      assert.deepEqual(await h.get(org, 'p'), CLOSED);
      assert.deepEqual(await h.claim(org, 'p'), { ok: true, trial: false, view: CLOSED });
    });

    test('open after `threshold` failures: no dial, and retryAfterSec is the real remaining wait', async () => {
      const h = b.health;
      const org = rid('org');
      const policy: BreakerPolicy = { threshold: 2, openMs: 4500, closeAfter: 1 };
      await h.failure(org, 'p', policy);
      const before = Date.now();
      const v = await h.failure(org, 'p', policy);
      assert.equal(v.state, 'open');
      assert.equal(v.failures, 2);
      assert.ok(v.openUntil >= before + 4500 && v.openUntil <= Date.now() + 4500, 'open for openMs');
      assert.equal(v.retryAfterSec, 5, '4.5 s, rounded up');
      const claim = await h.claim(org, 'p');
      assert.deepEqual([claim.ok, claim.trial, claim.view.state], [false, false, 'open']);
      const later = await h.get(org, 'p');
      assert.equal(later.retryAfterSec, Math.max(1, Math.ceil((later.openUntil - Date.now()) / 1000)));
      assert.equal((await h.get(org, 'other')).state, 'closed', 'per provider');
      assert.equal((await h.get(rid('org'), 'p')).state, 'closed', 'per org');
      // a success while it is still open does not shorten the wait
      const s = await h.success(org, 'p', policy);
      assert.equal(s.state, 'open');
      assert.equal(s.openUntil, v.openUntil);
    });

    test('half-open after openMs: one trial at a time, until it is given back or its lease ends', async () => {
      const h = b.health;
      const org = rid('org');
      await h.failure(org, 'p', { threshold: 1, openMs: 50, closeAfter: 1 });
      await sleep(80);
      const v = await h.get(org, 'p');
      assert.deepEqual([v.state, v.retryAfterSec, v.trialUntil], ['half-open', 0, 0]);
      const peers = await Promise.all([f.peer(b) ?? b, f.peer(b) ?? b]);
      const claims = await Promise.all(Array.from({ length: 9 }, (_, i) => [b, ...peers][i % 3].health.claim(org, 'p')));
      const won = claims.filter((c) => c.ok);
      assert.equal(won.length, 1, 'exactly one trial');
      assert.equal(won[0].trial, true);
      assert.ok(won[0].view.trialUntil > Date.now() && won[0].view.trialUntil <= Date.now() + TRIAL_LEASE_MS);
      const busy = await h.get(org, 'p');
      assert.equal(busy.state, 'half-open');
      assert.ok(busy.retryAfterSec > 25 && busy.retryAfterSec <= TRIAL_LEASE_MS / 1000, `the lease is the wait (${busy.retryAfterSec})`);
      await h.releaseTrial(org, 'p');
      assert.equal((await h.get(org, 'p')).trialUntil, 0);
      const again = await h.claim(org, 'p');
      assert.deepEqual([again.ok, again.trial], [true, true], 'a released trial may be claimed again');
      await h.releaseTrial(org, 'nobody'); // nothing to give back: fine
      await h.releaseTrial(rid('org'), 'p');
    });

    test('closeAfter trial successes close it; a failure while half-open opens it again for a full period', async () => {
      const h = b.health;
      const org = rid('org');
      const policy: BreakerPolicy = { threshold: 2, openMs: 50, closeAfter: 2 };
      await h.failure(org, 'p', policy);
      await h.failure(org, 'p', policy);
      await sleep(80);
      assert.equal((await h.claim(org, 'p')).trial, true);
      const one = await h.success(org, 'p', policy);
      assert.deepEqual([one.state, one.successes, one.trialUntil], ['half-open', 1, 0]);
      assert.equal((await h.claim(org, 'p')).trial, true);
      assert.deepEqual(await h.success(org, 'p', policy), CLOSED);
      assert.deepEqual(await h.get(org, 'p'), CLOSED);

      await h.failure(org, 'p', policy);
      await h.failure(org, 'p', policy);
      await sleep(80);
      assert.equal((await h.claim(org, 'p')).trial, true);
      await h.success(org, 'p', policy);
      const before = Date.now();
      const reopened = await h.failure(org, 'p', { ...policy, openMs: 3000 });
      assert.equal(reopened.state, 'open');
      assert.equal(reopened.successes, 0, 'the trial successes start over');
      assert.equal(reopened.trialUntil, 0);
      assert.ok(reopened.failures >= policy.threshold);
      assert.ok(reopened.openUntil >= before + 3000, 'open for a full period');
      assert.equal(reopened.retryAfterSec, 3);
    });

    test('reset closes it; all() lists the providers with a record', async () => {
      const h = b.health;
      const org = rid('org');
      const policy: BreakerPolicy = { threshold: 1, openMs: 60_000, closeAfter: 1 };
      await h.failure(org, 'a', policy);
      await h.failure(org, 'b', { ...policy, threshold: 5 });
      const all = await h.all(org);
      assert.deepEqual([...all.keys()].sort(), ['a', 'b']);
      assert.equal(all.get('a')?.state, 'open');
      assert.deepEqual(all.get('b'), { ...CLOSED, failures: 1 });
      await h.reset(org, 'a');
      assert.deepEqual(await h.get(org, 'a'), CLOSED);
      assert.deepEqual([...(await h.all(org)).keys()], ['b']);
      assert.deepEqual((await h.claim(org, 'a')).ok, true);
      assert.equal((await h.all(rid('org'))).size, 0);
      await h.reset(org, 'never-seen');
    });
  });
}
