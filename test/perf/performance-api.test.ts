// GET /v1/providers/performance end to end, on both stores: two sim providers with different
// latency and failure rate, driven by real click-to-calls; the API ranks them correctly and each
// figure matches what its sim was configured to do. Also: every window, providers without data,
// org isolation, validation, the route not shadowed by /v1/providers/:id, and the Prometheus side.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { STORES, must, putUser, uid } from '../calls/setup.js';
import { FAST_SIM, SLOW_SIM, byId, callAndWait, createProvider, matchesDelay } from './helpers.js';

for (const store of STORES) {
  describe(`performance API (${store} store)`, () => {
    let gw: TestGateway;
    let key: string;
    let fast: string;
    let slow: string;
    let idle: string;

    before(async () => {
      gw = await startGateway({ store });
      key = (await gw.createOrg('perf ' + uid('o'))).apiKey;
      const fastUsers = [uid(), uid(), uid(), uid()];
      const slowUsers = [uid(), uid(), uid(), uid()];
      for (const u of [...fastUsers, ...slowUsers]) must(await putUser(gw, key, u), 201, 'put user');
      fast = await createProvider(gw, key, 'fast', FAST_SIM, fastUsers);
      slow = await createProvider(gw, key, 'slow', SLOW_SIM, slowUsers);
      idle = await createProvider(gw, key, 'idle', FAST_SIM);

      // fast: 8 calls, all answered; slow: 4 answered, then 4 busy (a 50 % answer ratio)
      await Promise.all(fastUsers.map(async (u) => (await callAndWait(gw, key, u), await callAndWait(gw, key, u))));
      await Promise.all(slowUsers.map((u) => callAndWait(gw, key, u)));
      must(await gw.req('PATCH', `/v1/providers/${slow}`, { key, body: { config: { ...SLOW_SIM, outcome: 'busy' } } }), 200, 'slow → busy');
      const busy = await Promise.all(slowUsers.map((u) => callAndWait(gw, key, u)));
      assert.deepEqual(busy.map((c) => c.status), ['busy', 'busy', 'busy', 'busy']);
    });
    after(async () => {
      await gw.close();
    });

    test('ranks the fast provider first and matches each figure to its sim config', async () => {
      const r = must(await gw.req('GET', '/v1/providers/performance?window=5m', { key }), 200, 'performance');
      assert.equal(r.body.window, '5m');
      const f = byId(r.body.items, fast);
      const s = byId(r.body.items, slow);
      assert.equal(f.kind, 'sim');
      assert.equal(f.name, 'fast');

      assert.deepEqual([f.attempts, f.answered, f.answerRatio, f.failures], [8, 8, 1, {}]);
      assert.deepEqual([s.attempts, s.answered, s.answerRatio, s.failures], [8, 4, 0.5, { busy: 4 }]);

      matchesDelay(f.setupToRinging.p50, 100, 'fast ringing p50');
      matchesDelay(f.setupToAnswer.p50, 300, 'fast answer p50');
      matchesDelay(f.apiLatency.p50, 10, 'fast API p50');
      matchesDelay(s.setupToRinging.p50, 600, 'slow ringing p50');
      matchesDelay(s.setupToAnswer.p50, 1100, 'slow answer p50');
      matchesDelay(s.apiLatency.p50, 250, 'slow API p50');
      // p95 of a handful of samples is their maximum: still near the configuration
      matchesDelay(s.setupToAnswer.p95, 1100, 'slow answer p95', 600);
      assert.ok(f.setupToAnswer.p95 >= f.setupToAnswer.p50);

      // ranked by setup time and by answer ratio alike, fast comes first
      const bySetup = [...r.body.items].filter((i) => i.setupToAnswer.p50 !== null).sort((a, b) => a.setupToAnswer.p50 - b.setupToAnswer.p50);
      assert.deepEqual(bySetup.map((i) => i.providerId), [fast, slow]);
      assert.ok(f.answerRatio > s.answerRatio);
      assert.ok(f.apiLatency.p50 < s.apiLatency.p50);
    });

    test('a provider without calls is listed with zeros and nulls', async () => {
      const r = must(await gw.req('GET', '/v1/providers/performance?window=5m', { key }), 200, 'performance');
      // the gateway's own housekeeping round may have probed it (healthy) already
      const { probes, ...figures } = byId(r.body.items, idle);
      assert.equal(probes.failed, 0);
      assert.deepEqual(figures, {
        providerId: idle,
        kind: 'sim',
        name: 'idle',
        attempts: 0,
        answered: 0,
        answerRatio: null,
        setupToRinging: { p50: null, p95: null },
        setupToAnswer: { p50: null, p95: null },
        apiLatency: { p50: null, p95: null },
        failures: {},
      });
    });

    test('1h and 24h (the default is 1h) hold the same recent calls', async () => {
      for (const q of ['?window=1h', '?window=24h', '']) {
        const r = must(await gw.req('GET', `/v1/providers/performance${q}`, { key }), 200, `performance${q}`);
        assert.equal(r.body.window, q ? q.slice(8) : '1h');
        assert.equal(byId(r.body.items, fast).attempts, 8, q);
        assert.equal(byId(r.body.items, slow).answered, 4, q);
      }
    });

    test('not shadowed by GET /v1/providers/:id, which still answers for a real id', async () => {
      const perf = must(await gw.req('GET', '/v1/providers/performance', { key }), 200, 'performance');
      assert.ok(Array.isArray(perf.body.items));
      assert.equal(perf.body.id, undefined);
      const one = must(await gw.req('GET', `/v1/providers/${fast}`, { key }), 200, 'provider');
      assert.equal(one.body.id, fast);
    });

    test('another org sees only its own providers; no key is 401; a bad window is 400', async () => {
      const other = await gw.createOrg('other ' + uid('o'));
      const r = must(await gw.req('GET', '/v1/providers/performance', { key: other.apiKey }), 200, 'other org');
      assert.deepEqual(r.body.items, []);
      assert.equal((await gw.req('GET', '/v1/providers/performance')).status, 401);
      const bad = await gw.req('GET', '/v1/providers/performance?window=2h', { key });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'validation_failed');
    });

    test('the same figures as Prometheus series: attempts, answers and failures by provider and cause, setup histogram, breaker gauge', async () => {
      const text = (await gw.req('GET', '/metrics')).text;
      /** the sum of a metric's series whose labels include these */
      const value = (name: string, labels: Record<string, string>) => {
        let sum = NaN;
        for (const line of text.split('\n')) {
          const m = /^([a-z_:]+)\{(.*)\} (\S+)$/.exec(line);
          if (!m || m[1] !== name) continue;
          const have = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
          if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (Number.isNaN(sum) ? 0 : sum) + Number(m[3]);
        }
        return sum;
      };
      const sim = { provider_kind: 'sim' };
      // each gateway has its own registry, so the numbers are this suite's calls exactly
      assert.equal(value('dialgate_call_attempts_total', sim), 16);
      assert.equal(value('dialgate_call_attempts_total', { ...sim, provider_id: fast }), 8, 'per provider');
      assert.equal(value('dialgate_calls_answered_total', sim), 12);
      assert.equal(value('dialgate_call_failures_total', { ...sim, cause: 'busy' }), 4);
      assert.equal(value('dialgate_provider_breaker_open', { ...sim, provider_id: fast }), 0);
      assert.equal(value('dialgate_call_setup_seconds_count', { ...sim, stage: 'answered' }), 12);
      assert.ok(value('dialgate_provider_request_duration_seconds_count', { ...sim, operation: 'dial', outcome: 'ok' }) >= 16);
    });
  });
}
