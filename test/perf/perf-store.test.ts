// The perf figures' codec on its own (resolution, percentiles, the answer ratio), and what only the
// Redis backends show of the perf store: where its keys live and how long, and that a failed write
// is logged, never thrown. The PerfStore contract itself (windows, trials, orgs apart) runs on all
// three backends in test/store/contract/perf.ts.

import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { BUCKETS_PER_DOUBLING, bucketOf, bucketValue, figuresOf, type Counters } from '../../src/perf/codec.js';
import { createBackend } from '../../src/store/backend.js';
import { HOUR_TTL_SEC, MINUTE_TTL_SEC, TRIAL_TTL_SEC } from '../../src/store/perf/port.js';
import { freePort } from '../helpers/net.js';
import { backendFactory, rnd } from '../store/contract/backends.js';
import { keysByPrefix } from '../store/redis-keys.js';

const RESOLUTION = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1; // ±4.4 %

function close(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null, `${what} is null`);
  const rel = Math.abs(actual - expected) / expected;
  assert.ok(rel <= RESOLUTION + 1e-9, `${what}: ${actual} vs ${expected} (off by ${(rel * 100).toFixed(2)} %)`);
}

describe('perf codec', () => {
  test('every duration from 2 ms to 1 h is reported within ±4.4 % of itself', () => {
    for (let s = 0.002; s < 3600; s *= 1.37) close(bucketValue(bucketOf(s)), s, `${s}s`);
  });

  test('nearest-rank p50 / p95 and the answer ratio', () => {
    const c: Counters = new Map();
    const add = (f: string, n = 1) => c.set(f, (c.get(f) ?? 0) + n);
    // 100 ringing times: 1..100 × 10 ms
    for (let i = 1; i <= 100; i++) add(`r:${bucketOf(i / 100)}`);
    add('att', 40);
    add('ans', 30);
    add('f:busy', 6);
    add('f:provider_unavailable', 4);
    const f = figuresOf(c);
    close(f.setupToRinging.p50, 0.5, 'p50');
    close(f.setupToRinging.p95, 0.95, 'p95');
    assert.equal(f.answerRatio, 0.75);
    assert.deepEqual(f.failures, { busy: 6, provider_unavailable: 4 });
    assert.deepEqual(f.setupToAnswer, { p50: null, p95: null });
  });

  test('no data: zeros and nulls', () => {
    const f = figuresOf(undefined);
    assert.deepEqual(f, {
      attempts: 0,
      answered: 0,
      answerRatio: null,
      setupToRinging: { p50: null, p95: null },
      setupToAnswer: { p50: null, p95: null },
      apiLatency: { p50: null, p95: null },
      failures: {},
      probes: { ok: 0, failed: 0 },
    });
  });
});

for (const kind of ['redis', 'cluster'] as const) {
  describe(`perf store on ${kind}: keys and failures`, () => {
    const f = backendFactory(kind);
    after(() => f.closeAll());

    test("every key is under the org's hash tag and expires (minutes 2 h, hours 25 h, trials 7 d)", async () => {
      const b = await f.create();
      const org = `o${rnd(4)}`;
      b.perf.record(org, 'p', { attempt: true }, 'trl_x');
      await b.perf.flush();
      const admin = (await f.admin())!;
      const prefix = f.prefixes(b).keyPrefix;
      const keys = (await keysByPrefix(admin, prefix)).map((k) => k.key);
      assert.equal(keys.length, 3, keys.join(' '));
      for (const k of keys) {
        assert.ok(k.startsWith(`${prefix}{org:${org}}:`), k);
        const ttl = await admin.ttl(k);
        const expected = k.includes(':perf:m:') ? MINUTE_TTL_SEC : k.includes(':perf:h:') ? HOUR_TTL_SEC : TRIAL_TTL_SEC;
        assert.ok(ttl > expected - 60 && ttl <= expected, `${k} ttl ${ttl}`);
      }
    });

    test('a failed write is logged, never thrown at the caller', async () => {
      const port = await freePort(); // nobody listens there
      const logged: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          logged.push((JSON.parse(String(chunk)) as { msg: string }).msg);
          done();
        },
      });
      const dead = await createBackend(
        {
          redis: kind === 'redis' ? { url: `redis://127.0.0.1:${port}` } : { clusterNodes: [{ host: '127.0.0.1', port }] },
          queuePrefix: '{dgt-dead}',
          queueShards: 1,
          callRetentionSec: 60,
        },
        { logger: pino({ level: 'warn' }, sink), keyPrefix: `dgtest:${rnd()}:` },
      );
      try {
        assert.doesNotThrow(() => dead.perf.record('o', 'p', { attempt: true }));
        await dead.perf.flush();
        assert.ok(logged.includes('perf figures write failed'), logged.join(' / '));
      } finally {
        await dead.close();
      }
    });
  });
}
