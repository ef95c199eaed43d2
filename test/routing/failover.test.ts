// Health-based routing end to end, on both stores: a provider whose API fails trips its circuit
// breaker after 5 consecutive failures; without failover the next click answers 503 with
// Retry-After at once (no dial); with failover the call goes through the next healthy provider
// (failedOverFrom set) and the agent is rung exactly once; a call whose agent leg was accepted
// never fails over; and GET /v1/routing/explain names the provider a real call then uses.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { providerKinds } from '../../adapters/registry.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { STORES, must, putUser, randomDid, uid } from '../calls/setup.js';
import { waitEnded } from '../perf/helpers.js';
import { countingSimKind, type DialTally } from './helpers.js';

const OK = { ringAfterMs: 20, answerAfterMs: 30, durationMs: 30 };
const BREAKER_THRESHOLD = 5;

for (const store of STORES) {
  describe(`failover and the circuit breaker (${store} store)`, () => {
    let gw: TestGateway;
    let tally: DialTally;
    let key: string;

    const install = async (name: string, config: Record<string, unknown>, userIds: string[] = [], priority = 0) =>
      must(
        await gw.req('POST', '/v1/providers', { key, body: { kind: 'countsim', name, config, priority, install: { scope: 'specific', userIds } } }),
        201,
        `install ${name}`,
      ).body.id as string;
    const click = (userId: string, to = randomDid()) => gw.req('POST', '/v1/calls', { key, body: { userId, to } });
    const explain = async (userId: string, to: string) => must(await gw.req('GET', `/v1/routing/explain?userId=${userId}&to=${encodeURIComponent(to)}`, { key }), 200, 'explain').body;
    const setFailover = async (enabled: boolean, order?: string[]) =>
      must(await gw.req('PUT', '/v1/routing/policy', { key, body: { failover: { enabled, ...(order ? { order } : {}) } } }), 200, 'routing policy');

    before(async () => {
      const counting = countingSimKind();
      tally = counting.tally;
      gw = await startGateway({ store, providerKinds: [...providerKinds, counting.def] });
    });
    after(async () => {
      await gw.close();
    });

    /** a fresh org where the per-user rate limit will not get in the way of a dozen clicks */
    async function freshOrg(): Promise<void> {
      key = (await gw.createOrg('routing ' + uid('o'))).apiKey;
      must(await gw.req('PUT', '/v1/dial-policy', { key, body: { limits: { perUserPerMinute: 1000, perDestinationPerHour: 1000 } } }), 200, 'dial policy');
    }

    test('a failing provider trips its breaker; without failover: 503 + Retry-After at once; with it: the other provider, agent rung once', async () => {
      await freshOrg();
      const user = uid();
      must(await putUser(gw, key, user, { phone: '+14165550100' }), 201, 'user');
      const a = await install('A', OK, [user]);
      const b = await install('B', OK);

      // healthy: explain and a real call agree on A
      const to0 = randomDid();
      const ex0 = await explain(user, to0);
      assert.deepEqual([ex0.providerId, ex0.wouldDial], [a, true]);
      const c0 = must(await click(user, to0), 201, 'healthy call');
      assert.equal(c0.body.providerId, ex0.providerId);
      await waitEnded(gw, key, c0.body.id);

      // A's API goes down: each click is refused by A itself until the breaker opens
      must(await gw.req('PATCH', `/v1/providers/${a}`, { key, body: { config: { ...OK, failDial: true } } }), 200, 'A down');
      for (let i = 0; i < BREAKER_THRESHOLD; i++) {
        const r = await click(user);
        assert.equal(r.status, 503, r.text);
        assert.equal(r.body.error.code, 'provider_unavailable');
      }
      assert.equal(tally.requestedBy(a), 1 + BREAKER_THRESHOLD);

      // open: refused at once, A is not asked again, and the client is told when to retry
      const t0 = performance.now();
      const refused = await click(user);
      const took = performance.now() - t0;
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.body.error.code, 'provider_unavailable');
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);
      assert.equal(tally.requestedBy(a), 1 + BREAKER_THRESHOLD, 'no dial while the breaker is open');
      assert.ok(took < 1000, `answered in ${took} ms`);
      const ex1 = await explain(user, randomDid());
      assert.equal(ex1.providerId, null);
      assert.equal(ex1.wouldDial, false);
      assert.ok(ex1.reasons.some((r: string) => r.includes(a) && /unhealthy|breaker/.test(r)), ex1.reasons.join(' | '));

      // the breaker shows on /metrics per provider (ids are bounded by the providers installed)
      const metrics = (await gw.req('GET', '/metrics')).text;
      assert.match(metrics, new RegExp(`dialgate_provider_breaker_open\\{provider_kind="countsim",provider_id="${a}"\\} 1`));

      // failover on: explain names B, and the real call goes to B, failed over from A
      await setFailover(true);
      const to2 = randomDid();
      const ex2 = await explain(user, to2);
      assert.equal(ex2.providerId, b);
      assert.equal(ex2.failover, true);
      const before = tally.requestedBy(b);
      const moved = must(await click(user, to2), 201, 'failed-over call');
      assert.equal(moved.body.providerId, ex2.providerId);
      assert.equal(moved.body.failedOverFrom, a);
      const done = await waitEnded(gw, key, moved.body.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.failedOverFrom, a);
      assert.equal(tally.requestedBy(a), 1 + BREAKER_THRESHOLD, 'A is skipped while its breaker is open');
      assert.equal(tally.requestedBy(b), before + 1);
      assert.deepEqual(tally.accepted.get(moved.body.id), [b], 'the agent was rung once, by B');

      // the live figures saw A's failures and B's success
      const perf = must(await gw.req('GET', '/v1/providers/performance?window=5m', { key }), 200, 'performance').body.items;
      const pa = perf.find((i: any) => i.providerId === a);
      assert.equal(pa.failures.provider_unavailable, BREAKER_THRESHOLD);
      assert.equal(perf.find((i: any) => i.providerId === b).answered, 1);
    });

    test('a dial refused synchronously fails over at once (breaker still closed); explain lists both candidates', async () => {
      await freshOrg();
      const user = uid();
      must(await putUser(gw, key, user, { phone: '+14165550101' }), 201, 'user');
      const c = await install('C', { ...OK, failDial: true }, [user]);
      const d = await install('D', OK);
      await setFailover(true, [d]);
      const to = randomDid();
      const ex = await explain(user, to);
      assert.deepEqual(ex.candidates, [c, d]);
      assert.equal(ex.providerId, c, 'C is still healthy as far as anyone knows');
      const r = must(await click(user, to), 201, 'call');
      assert.equal(r.body.providerId, d);
      assert.equal(r.body.failedOverFrom, c);
      assert.equal(tally.requestedBy(c), 1);
      assert.deepEqual(tally.accepted.get(r.body.id), [d]);
      await waitEnded(gw, key, r.body.id);
    });

    test("never fails over once the agent's leg was accepted: a call that then fails stays failed, rung once", async () => {
      await freshOrg();
      const user = uid();
      must(await putUser(gw, key, user, { phone: '+14165550102' }), 201, 'user');
      const e = await install('E', { ...OK, outcome: 'failed' }, [user]);
      const f = await install('F', OK);
      await setFailover(true);
      const r = must(await click(user), 201, 'call');
      assert.equal(r.body.providerId, e);
      const done = await waitEnded(gw, key, r.body.id);
      assert.equal(done.status, 'failed');
      assert.equal(done.failedOverFrom, undefined);
      assert.equal(tally.requestedBy(f), 0);
      assert.deepEqual(tally.accepted.get(r.body.id), [e]);
    });

    test('failover skips providers that do not serve the user region; with none left, 503', async () => {
      await freshOrg();
      const user = uid();
      must(await putUser(gw, key, user, { phone: '+14165550103' }), 201, 'user');
      const g = await install('G', { ...OK, failDial: true }, [user]);
      const h = must(
        await gw.req('POST', '/v1/providers', { key, body: { kind: 'countsim', name: 'H', config: OK, regions: { allow: ['GB'] }, install: { scope: 'specific', userIds: [] } } }),
        201,
        'install H',
      ).body.id;
      await setFailover(true);
      const ex = await explain(user, randomDid());
      assert.deepEqual(ex.candidates, [g]);
      assert.ok(ex.reasons.some((x: string) => x.includes(h) && x.includes('region')), ex.reasons.join(' | '));
      const r = await click(user);
      assert.equal(r.status, 503, r.text);
      assert.equal(tally.requestedBy(h), 0);
    });
  });
}
