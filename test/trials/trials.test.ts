// Trials end to end through the HTTP API, on both stores: three sim providers (fast, slow, and
// one whose calls are always busy) compared side by side; the report ranks them and matches the
// configured delays; concurrency is honoured; progress and status; input validation, the dial
// policy at POST time, org isolation and the audit entry.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { STORES, must, randomDid, uid } from '../calls/setup.js';
import { FAST_SIM, SLOW_SIM, TRIAL_HOLD_MS, byId, createProvider, matchesDelay } from '../perf/helpers.js';
import { waitTrial } from './helpers.js';

async function allCalls(gw: TestGateway, key: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const r = must(await gw.req('GET', `/v1/calls?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key }), 200, 'list calls');
    out.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

/** The most calls live at one instant, from their own history. */
function maxOverlap(calls: any[]): number {
  const edges = calls.flatMap((c) => [
    [Date.parse(c.createdAt), 1],
    [Date.parse(c.endedAt ?? c.updatedAt), -1],
  ]);
  // an end and a start at the same millisecond do not overlap
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (live += d));
  return max;
}

for (const store of STORES) {
  describe(`trials (${store} store)`, () => {
    let gw: TestGateway;
    let key: string;
    let fast: string;
    let slow: string;
    let busy: string;

    before(async () => {
      gw = await startGateway({ store });
      key = (await gw.createOrg('trials ' + uid('o'))).apiKey;
      // a CA user makes CA the org's default destination country
      must(await gw.req('PUT', `/v1/users/${uid()}`, { key, body: { region: 'CA' } }), 201, 'user');
      fast = await createProvider(gw, key, 'fast', FAST_SIM);
      slow = await createProvider(gw, key, 'slow', SLOW_SIM);
      busy = await createProvider(gw, key, 'busy', { ...FAST_SIM, outcome: 'busy' });
    });
    after(async () => {
      await gw.close();
    });

    test('three providers side by side: ranked, figures match the sims, concurrency honoured', async () => {
      const to = randomDid();
      const start = await gw.req('POST', '/v1/trials', { key, body: { providerIds: [fast, slow, busy], to, calls: 6, concurrency: 3, hangUpAfterMs: TRIAL_HOLD_MS } });
      assert.equal(start.status, 202, start.text);
      const id = start.body.id;
      assert.match(id, /^trl_/);

      const first = must(await gw.req('GET', `/v1/trials/${id}`, { key }), 200, 'trial').body;
      assert.equal(first.progress.total, 18);
      assert.ok(['running', 'completed'].includes(first.status));

      const t = await waitTrial(gw, key, id);
      assert.deepEqual(t.progress, { placed: 18, finished: 18, total: 18 });
      assert.ok(t.completedAt && Date.parse(t.completedAt) >= Date.parse(t.createdAt));
      assert.deepEqual([t.to, t.calls, t.concurrency, t.hangUpAfterMs], [to, 6, 3, TRIAL_HOLD_MS]);
      assert.deepEqual(t.report.map((r: any) => r.providerId), [fast, slow, busy]);

      const f = byId(t.report, fast);
      const s = byId(t.report, slow);
      const b = byId(t.report, busy);
      assert.deepEqual([f.placed, f.finished, f.attempts, f.answered, f.answerRatio, f.failures], [6, 6, 6, 6, 1, {}]);
      assert.deepEqual([s.attempts, s.answered, s.answerRatio], [6, 6, 1]);
      assert.deepEqual([b.attempts, b.answered, b.answerRatio, b.failures], [6, 0, 0, { busy: 6 }]);
      assert.deepEqual(b.setupToAnswer, { p50: null, p95: null });

      matchesDelay(f.setupToRinging.p50, 100, 'fast ringing p50');
      matchesDelay(f.setupToAnswer.p50, 300, 'fast answer p50');
      matchesDelay(f.apiLatency.p50, 10, 'fast API p50');
      matchesDelay(s.setupToRinging.p50, 600, 'slow ringing p50');
      matchesDelay(s.setupToAnswer.p50, 1100, 'slow answer p50');
      matchesDelay(s.apiLatency.p50, 250, 'slow API p50');
      matchesDelay(b.setupToRinging.p50, 100, 'busy ringing p50');

      // the comparison a buyer makes: fastest answered setup first, the never-answering one last
      const ranked = [...t.report].sort((x, y) => (y.answerRatio ?? 0) - (x.answerRatio ?? 0) || (x.setupToAnswer.p50 ?? Infinity) - (y.setupToAnswer.p50 ?? Infinity));
      assert.deepEqual(ranked.map((r) => r.providerId), [fast, slow, busy]);

      // trial calls are stored as such, without a user, and never more than 3 live per provider
      // (found by their destination, unique to this trial: the public call does not show trialId)
      const calls = (await allCalls(gw, key)).filter((c) => c.trial && c.to === to);
      assert.equal(calls.length, 18);
      for (const c of calls) {
        assert.equal(c.trial, true);
        assert.equal(c.userId, '');
        assert.equal(c.to, to);
      }
      for (const p of [fast, slow, busy]) {
        const mine = calls.filter((c) => c.providerId === p);
        const peak = maxOverlap(mine);
        assert.ok(peak <= 3, `${p}: ${peak} calls live at once`);
        assert.ok(peak >= 2, `${p}: the trial never ran calls side by side (peak ${peak})`);
      }

      // trial calls are provider evidence too: they count in the live figures
      const live = must(await gw.req('GET', '/v1/providers/performance?window=5m', { key }), 200, 'performance').body.items;
      assert.ok(byId(live, fast).attempts >= 6);
    });

    test('a provider whose API refuses every dial: its calls count as attempts failed by cause, and the trial completes', async () => {
      const down = await createProvider(gw, key, 'down', { ...FAST_SIM, failDial: true });
      const id = must(await gw.req('POST', '/v1/trials', { key, body: { providerIds: [down], to: randomDid(), calls: 3, concurrency: 1, hangUpAfterMs: 0 } }), 202, 'start').body.id;
      const t = await waitTrial(gw, key, id);
      const row = byId(t.report, down);
      assert.deepEqual([row.placed, row.finished, row.attempts, row.answered, row.failures], [3, 3, 3, 0, { provider_unavailable: 3 }]);
      assert.deepEqual(row.setupToRinging, { p50: null, p95: null });
      assert.ok(row.apiLatency.p50 !== null);
    });

    test('validation: unknown or foreign providers 404, bounds 400, a bad number 422, a refused destination 403', async () => {
      const to = randomDid();
      const post = (body: Record<string, unknown>) => gw.req('POST', '/v1/trials', { key, body: { providerIds: [fast], to, calls: 1, concurrency: 1, hangUpAfterMs: 0, ...body } });
      const codes = async (body: Record<string, unknown>) => {
        const r = await post(body);
        return [r.status, r.body?.error?.code];
      };
      assert.deepEqual(await codes({ providerIds: ['prv_nope'] }), [404, 'provider_not_found']);
      const other = await gw.createOrg('other ' + uid('o'));
      const foreign = await createProvider(gw, other.apiKey, 'theirs', FAST_SIM);
      assert.deepEqual(await codes({ providerIds: [fast, foreign] }), [404, 'provider_not_found']);
      assert.deepEqual(await codes({ providerIds: [] }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ calls: 0 }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ calls: 1001 }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ concurrency: 0 }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ concurrency: 51 }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ calls: 2.5 }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ extra: true }), [400, 'validation_failed']);
      assert.deepEqual(await codes({ to: 'not a number' }), [422, 'invalid_number']);
      // E.164 only: a national form has no country to read it by
      assert.deepEqual(await codes({ to: '(416) 967-1111' }), [422, 'invalid_number']);

      const emergency = await post({ to: '911' });
      assert.deepEqual([emergency.status, emergency.body.error.code, emergency.body.error.rule], [403, 'destination_not_allowed', 'emergency']);
      // GB is not a country of the org's users: refused by the default policy
      const abroad = await post({ to: '+442079460000' });
      assert.deepEqual([abroad.status, abroad.body.error.code], [403, 'destination_not_allowed']);
      assert.ok(abroad.body.error.rule);
      // a provider's own narrowing applies too
      must(await gw.req('PATCH', `/v1/providers/${busy}`, { key, body: { dialPolicy: { prefixes: { deny: ['+1416'] } } } }), 200, 'narrow busy');
      try {
        const narrowed = await post({ providerIds: [fast, busy] });
        assert.deepEqual([narrowed.status, narrowed.body.error.code], [403, 'destination_not_allowed']);
      } finally {
        must(await gw.req('PATCH', `/v1/providers/${busy}`, { key, body: { dialPolicy: null } }), 200, 'unnarrow busy');
      }
      // nothing was started by any refused request
      const audit = must(await gw.req('GET', '/v1/audit?limit=100', { key }), 200, 'audit').body.items;
      assert.equal(audit.filter((e: any) => e.action === 'trial.start' && e.after?.to === to).length, 0);
    });

    test('audited with the key id; unknown and foreign trials 404; no key 401', async () => {
      const org = await gw.createOrg('audit ' + uid('o'));
      must(await gw.req('PUT', `/v1/users/${uid()}`, { key: org.apiKey, body: { region: 'CA' } }), 201, 'user');
      const p = await createProvider(gw, org.apiKey, 'p', FAST_SIM);
      const to = randomDid();
      const id = must(await gw.req('POST', '/v1/trials', { key: org.apiKey, body: { providerIds: [p], to, calls: 2, concurrency: 2, hangUpAfterMs: 10 } }), 202, 'start').body.id;
      const entry = must(await gw.req('GET', '/v1/audit?limit=10', { key: org.apiKey }), 200, 'audit').body.items.find((e: any) => e.action === 'trial.start');
      assert.ok(entry, 'trial.start audited');
      // the actor is the key id (dgk_<keyId>_<secret>), never the key
      assert.equal(entry.actor, org.apiKey.split('_')[1]);
      assert.deepEqual(entry.target, { type: 'trial', id });
      assert.deepEqual(entry.after, { providerIds: [p], to, calls: 2, concurrency: 2, hangUpAfterMs: 10, createdAt: entry.after.createdAt });

      assert.equal((await gw.req('GET', `/v1/trials/${id}`, { key })).status, 404, "another org's trial");
      const unknown = await gw.req('GET', '/v1/trials/trl_nope', { key });
      assert.deepEqual([unknown.status, unknown.body.error.code], [404, 'not_found']);
      assert.equal((await gw.req('GET', `/v1/trials/${id}`)).status, 401);
      assert.equal((await gw.req('POST', '/v1/trials', { body: { providerIds: [p], to } })).status, 401);
      await waitTrial(gw, org.apiKey, id);
    });
  });
}
