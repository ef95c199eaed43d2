// PerfStore (src/store/perf/port.ts), ported from test/perf/perf-store.test.ts: samples land in the
// windows that cover their time and in no other, hourly rollups carry the 24 h window, trials are
// kept apart, figures come out right, orgs never see each other's numbers, and on Redis another
// instance reads the same figures.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BUCKETS_PER_DOUBLING, figuresOf } from '../../../src/perf/codec.js';
import type { Backend } from '../../../src/store/backend.js';
import { HOUR, MINUTE } from '../../../src/store/perf/port.js';
import type { BackendFactory } from './backends.js';
import { rid } from './helpers.js';

const RESOLUTION = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1; // ±4.4 %

function close(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  const rel = Math.abs(actual - expected) / expected;
  assert.ok(rel <= RESOLUTION + 1e-9, `${what}: ${actual} vs ${expected} (off by ${(rel * 100).toFixed(2)} %)`);
}

export function runPerfContract(f: BackendFactory): void {
  describe('perf figures', () => {
    let b: Backend;
    // a fixed instant half-way through an hour, so window edges are where the test puts them
    const now = Math.floor(Date.now() / HOUR) * HOUR + 30 * MINUTE + 30_000;
    before(async () => {
      b = await f.create();
    });

    test('samples merge per provider; figures come out of the merged counters', async () => {
      const s = b.perf;
      const o = rid('org');
      for (let i = 0; i < 20; i++) {
        s.record(o, 'pA', { attempt: true, apiLatency: 0.05 }, undefined, now - i * 1000);
        if (i < 15) s.record(o, 'pA', { answered: true, setupToAnswer: 1.2 }, undefined, now - i * 1000);
        else s.record(o, 'pA', { failure: 'no-answer' }, undefined, now - i * 1000);
        s.record(o, 'pA', { setupToRinging: 0.3 }, undefined, now - i * 1000);
      }
      s.record(o, 'pB', { attempt: true, failure: 'provider_unavailable', apiLatency: 2 }, undefined, now);
      await s.flush();
      const w = await s.window(o, '5m', now);
      const a = figuresOf(w.get('pA'));
      assert.equal(a.attempts, 20);
      assert.equal(a.answered, 15);
      assert.equal(a.answerRatio, 0.75);
      assert.deepEqual(a.failures, { 'no-answer': 5 });
      close(a.setupToRinging.p95, 0.3, 'ringing p95');
      close(a.setupToAnswer.p50, 1.2, 'answer p50');
      close(a.apiLatency.p50, 0.05, 'api p50');
      const bb = figuresOf(w.get('pB'));
      assert.deepEqual([bb.attempts, bb.answered, bb.answerRatio, bb.failures], [1, 0, 0, { provider_unavailable: 1 }]);
      close(bb.apiLatency.p50, 2, 'B api p50');
    });

    test('windows: 5m holds the last five minute buckets, 1h the last sixty, 24h the hourly rollups', async () => {
      const s = b.perf;
      const o = rid('org');
      const at = (ago: number) => s.record(o, 'p', { attempt: true }, undefined, now - ago);
      at(0); // this minute
      at(4 * MINUTE); // 4 minutes ago: in 5m
      at(6 * MINUTE); // outside 5m, inside 1h
      at(59 * MINUTE); // inside 1h
      at(61 * MINUTE); // outside 1h, inside 24h
      at(23 * HOUR); // inside 24h
      at(25 * HOUR); // outside every window
      await s.flush();
      const count = async (w: '5m' | '1h' | '24h') => figuresOf((await s.window(o, w, now)).get('p')).attempts;
      assert.equal(await count('5m'), 2);
      assert.equal(await count('1h'), 4);
      assert.equal(await count('24h'), 6);
    });

    test('trial figures are kept per trial, and also count in the live windows', async () => {
      const s = b.perf;
      const o = rid('org');
      s.record(o, 'p', { attempt: true }, 'trl_1', now);
      s.record(o, 'p', { attempt: true }, 'trl_1', now);
      s.record(o, 'p', { attempt: true }, 'trl_2', now);
      s.record(o, 'p', { attempt: true }, undefined, now);
      await s.flush();
      assert.equal(figuresOf((await s.trial(o, 'trl_1')).get('p')).attempts, 2);
      assert.equal(figuresOf((await s.trial(o, 'trl_2')).get('p')).attempts, 1);
      assert.equal((await s.trial(o, 'trl_none')).size, 0);
      assert.equal(figuresOf((await s.window(o, '5m', now)).get('p')).attempts, 4);
    });

    test('orgs are isolated; a sample with nothing to count records nothing', async () => {
      const s = b.perf;
      const [o1, o2] = [rid('org'), rid('org')];
      s.record(o1, 'p', { attempt: true }, 't', now);
      s.record(o2, 'q', {}, 't', now);
      await s.flush();
      assert.equal((await s.window(o2, '1h', now)).size, 0);
      assert.equal((await s.trial(o2, 't')).size, 0);
      assert.equal(figuresOf((await s.window(o1, '1h', now)).get('p')).attempts, 1);
    });

    test('reads see this instance\'s latest samples without an explicit flush, and (Redis) another instance\'s after its flush', async () => {
      const o = rid('org');
      b.perf.record(o, 'p', { attempt: true }, 'trl_x', now);
      assert.equal(figuresOf((await b.perf.window(o, '5m', now)).get('p')).attempts, 1, 'own samples');
      assert.equal(figuresOf((await b.perf.trial(o, 'trl_x')).get('p')).attempts, 1);
      const peer = f.peer(b);
      if (!peer) return; // memory: one process, nothing else to read from
      const other = await peer;
      other.perf.record(o, 'p', { attempt: true }, 'trl_x', now);
      await other.perf.flush();
      assert.equal(figuresOf((await b.perf.window(o, '5m', now)).get('p')).attempts, 2);
      assert.equal(figuresOf((await b.perf.trial(o, 'trl_x')).get('p')).attempts, 2);
    });
  });
}
