// The trial run on its own (memory store, a real gateway's call service): a run resumed after a
// crash waits for the calls the previous run left open and writes off those that never end
// ("trial_abandoned"), then places only the remaining calls; an interrupted run hangs up its
// live calls and reports "interrupted" so the queue can hand it on.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FROZEN, must, randomDid, uid } from '../calls/setup.js';
import { MemoryPerfStore } from '../../src/store/perf/memory.js';
import { MemoryTrialStore } from '../../src/store/trials/memory.js';
import type { TrialMeta } from '../../src/store/trials/port.js';
import { runTrialPart, type TrialRunnerDeps } from '../../src/trials/trial-runner.js';
import { CallWaiters } from '../../src/trials/waiters.js';
import { createProvider } from '../perf/helpers.js';

describe('trial run (runTrialPart)', () => {
  let gw: TestGateway;
  let orgId: string;
  let providerId: string;
  let deps: TrialRunnerDeps;
  let trials: MemoryTrialStore;

  before(async () => {
    gw = await startGateway({ store: 'memory' });
    const org = await gw.createOrg('runner ' + uid('o'));
    orgId = org.id;
    must(await gw.req('PUT', `/v1/users/${uid()}`, { key: org.apiKey, body: { region: 'CA' } }), 201, 'user');
    // calls through it never ring nor end by themselves
    providerId = await createProvider(gw, org.apiKey, 'frozen', FROZEN);
    trials = new MemoryTrialStore();
    const { backend, configs, dispatcher, reconciler, callEvents } = gw.gw.parts;
    deps = { calls: backend.calls, configs, dispatcher, reconciler, events: callEvents, trials, perf: new MemoryPerfStore(), waiters: new CallWaiters(), logger: pino({ level: 'silent' }), abandonAfterMs: 300, pollMs: 50 };
  });
  after(async () => {
    await gw.close();
  });

  const meta = (calls: number): TrialMeta => ({
    id: 'trl_' + uid('t').replace(/-/g, ''),
    orgId,
    providerIds: [providerId],
    to: randomDid(),
    calls,
    concurrency: 1,
    hangUpAfterMs: 0,
    createdAt: new Date().toISOString(),
    actor: 'test',
  });

  test('a resumed run writes off a call left open by a crash, then places only the rest', async () => {
    const m = meta(2);
    await trials.create(m);
    const provider = (await gw.gw.parts.backend.directory.getProvider(orgId, providerId))!;
    // the crashed run had placed one call, which nobody will ever report on
    const orphan = await gw.gw.parts.dispatcher.placeTrialCall(orgId, provider, m.to, { trialId: m.id, hangUpAfterMs: 0, actor: 'test' });
    await trials.addPlaced(orgId, m.id, providerId, orphan.id);

    const r = await runTrialPart(deps, m.id, orgId, providerId, new AbortController().signal);
    assert.equal(r, 'done');
    const state = (await trials.get(orgId, m.id))!;
    assert.ok(state.completedAt);
    assert.deepEqual(state.parts, [{ providerId, placed: 2, finished: 2, done: true }]);
    const ended = (await gw.gw.parts.backend.calls.getCall(orgId, orphan.id))!;
    assert.equal(ended.status, 'failed');
    assert.equal(ended.history.at(-1)?.cause, 'trial_abandoned');
  });

  test('an interrupted run hangs up its live call and says so; the trial stays open', async () => {
    const m = meta(3);
    await trials.create(m);
    const ac = new AbortController();
    const run = runTrialPart({ ...deps, abandonAfterMs: 60_000 }, m.id, orgId, providerId, ac.signal);
    // wait for the first call to be live, then stop
    for (let i = 0; i < 200 && (await trials.placedCount(orgId, m.id, providerId)) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    assert.equal(await run, 'interrupted');
    const state = (await trials.get(orgId, m.id))!;
    assert.equal(state.completedAt, null);
    assert.deepEqual(state.parts, [{ providerId, placed: 1, finished: 1, done: false, outcomes: [{ talkSec: 0 }] }], 'hung up before it was answered: no talk time');
    const placed = (await gw.gw.parts.backend.calls.listCalls(orgId, { limit: 100 })).items.filter((c) => c.to === m.to);
    assert.deepEqual(placed.map((c) => c.status), ['canceled']);
  });
});
