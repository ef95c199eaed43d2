// The perf store contract, on both implementations: samples land in the windows that cover their
// time and in no other, hourly rollups carry the 24 h window, trials are kept apart, figures
// (counts, ratio, failures, p50/p95 within the stated bucket resolution) come out right, and
// orgs never see each other's numbers. Plus the codec's resolution on its own.

import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BUCKETS_PER_DOUBLING, bucketOf, bucketValue, figuresOf, type Counters } from '../../src/perf/codec.js';
import { MemoryPerfStore, RedisPerfStore, type PerfStore } from '../../src/perf/perf-store.js';
import { testRedisClient } from '../helpers/redis.js';

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
    });
  });
});

const redis = testRedisClient();
after(() => redis.quit());

const impls: Array<[string, () => PerfStore]> = [
  ['memory', () => new MemoryPerfStore()],
  ['redis', () => new RedisPerfStore(redis, `tp${randomBytes(4).toString('hex')}:`)],
];

const MIN = 60_000;
const HOUR = 3_600_000;

for (const [name, make] of impls) {
  describe(`perf store contract (${name})`, () => {
    const org = () => 'o' + randomBytes(4).toString('hex');
    // a fixed instant half-way through an hour, so window edges are where the test puts them
    const now = Math.floor(Date.now() / HOUR) * HOUR + 30 * MIN + 30_000;

    test('samples merge per provider; figures come out of the merged counters', async () => {
      const s = make();
      const o = org();
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
      const b = figuresOf(w.get('pB'));
      assert.deepEqual([b.attempts, b.answered, b.answerRatio, b.failures], [1, 0, 0, { provider_unavailable: 1 }]);
      close(b.apiLatency.p50, 2, 'B api p50');
    });

    test('windows: 5m holds the last five minute buckets, 1h the last sixty, 24h the hourly rollups', async () => {
      const s = make();
      const o = org();
      const at = (ago: number) => s.record(o, 'p', { attempt: true }, undefined, now - ago);
      at(0); // this minute
      at(4 * MIN); // 4 minutes ago: in 5m
      at(6 * MIN); // outside 5m, inside 1h
      at(59 * MIN); // inside 1h
      at(61 * MIN); // outside 1h, inside 24h
      at(23 * HOUR); // inside 24h
      at(25 * HOUR); // outside every window
      await s.flush();
      const count = async (w: '5m' | '1h' | '24h') => figuresOf((await s.window(o, w, now)).get('p')).attempts;
      assert.equal(await count('5m'), 2);
      assert.equal(await count('1h'), 4);
      // the 25 h sample is gone; in Redis its hour key would also have expired (TTL 25 h)
      assert.equal(await count('24h'), 6);
    });

    test('trial figures are kept per trial, and also count in the live windows', async () => {
      const s = make();
      const o = org();
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

    test('orgs are isolated', async () => {
      const s = make();
      const [o1, o2] = [org(), org()];
      s.record(o1, 'p', { attempt: true }, 't', now);
      await s.flush();
      assert.equal((await s.window(o2, '1h', now)).size, 0);
      assert.equal((await s.trial(o2, 't')).size, 0);
      assert.equal(figuresOf((await s.window(o1, '1h', now)).get('p')).attempts, 1);
    });
  });
}

describe('perf store on Redis: keys', () => {
  test("every key is under the org's hash tag and expires (minutes 2 h, hours 25 h, trials 7 d)", async () => {
    const prefix = `tk${randomBytes(4).toString('hex')}:`;
    const s = new RedisPerfStore(redis, prefix);
    s.record('o1', 'p', { attempt: true }, 'trl_x');
    await s.flush();
    const keys = await redis.keys(`${prefix}*`);
    assert.equal(keys.length, 3, keys.join(' '));
    for (const k of keys) {
      assert.ok(k.startsWith(`${prefix}{org:o1}:`), k);
      const ttl = await redis.ttl(k);
      const expected = k.includes(':m:') ? 7200 : k.includes(':h:') ? 25 * 3600 : 7 * 86400;
      assert.ok(ttl > expected - 60 && ttl <= expected, `${k} ttl ${ttl}`);
    }
  });

  test('a failed write is logged, never thrown at the caller', async () => {
    const { Redis } = await import('ioredis');
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const logged: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => logged.push(msg) } as any;
    const s = new RedisPerfStore(dead, 'x:', logger);
    assert.doesNotThrow(() => s.record('o', 'p', { attempt: true }));
    await s.flush();
    assert.deepEqual(logged, ['perf figures write failed']);
    dead.disconnect();
  });
});
