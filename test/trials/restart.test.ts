// A trial outlives the gateway that runs it (BullMQ on Redis): stop the instance mid-trial, start
// another on the same deployment (same key prefix, so the same queue), and the trial resumes and
// completes with every call placed exactly once per slot. Calls the stopped instance had live
// are hung up at shutdown and counted; nothing is lost or placed twice.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { must, randomDid, uid } from '../calls/setup.js';
import { byId, createProvider } from '../perf/helpers.js';
import { waitTrial } from './helpers.js';
import { testBackend } from '../helpers/backend.js';

describe('trials across a gateway restart (redis)', () => {
  const running: TestGateway[] = [];
  after(async () => {
    for (const g of running) await g.close();
  });

  test('the trial resumes on the next instance and completes', async () => {
    const a = await startGateway({ store: 'redis' });
    running.push(a);
    const { id: orgId, apiKey: key } = await a.createOrg('restart ' + uid('o'));
    must(await a.req('PUT', `/v1/users/${uid()}`, { key, body: { region: 'CA' } }), 201, 'user');
    // each call lives ~450 ms: 10 calls two at a time take a couple of seconds
    const p = await createProvider(a, key, 'p', { ringAfterMs: 50, answerAfterMs: 100, apiLatencyMs: 5 });
    const id = must(await a.req('POST', '/v1/trials', { key, body: { providerIds: [p], to: randomDid(), calls: 10, concurrency: 2, hangUpAfterMs: 300 } }), 202, 'start').body.id;

    await eventually(async () => (await a.req('GET', `/v1/trials/${id}`, { key })).body.progress.finished >= 2, 15_000, 'some progress');
    await a.close();
    running.splice(running.indexOf(a), 1);

    // the stopped instance left the trial unfinished, its live calls ended (hung up): read in the
    // store before another instance starts, since that one takes the run up at once
    const store = await testBackend('redis', { keyPrefix: a.keyPrefix });
    const mid = await store.backend.trials.get(orgId, id).finally(() => store.close());
    assert.ok(mid, 'the trial is kept');
    const [part] = mid.parts;
    assert.ok(part.placed < 10, `placed ${part.placed} before the restart`);
    assert.equal(mid.completedAt, null);
    assert.equal(part.done, false);
    assert.equal(part.finished, part.placed, 'the calls live at shutdown were hung up and counted');

    const b = await startGateway({ store: 'redis', keyPrefix: a.keyPrefix });
    running.push(b);
    const t = await waitTrial(b, key, id, 40_000);
    assert.deepEqual(t.progress, { placed: 10, finished: 10, total: 10 });
    const row = byId(t.report, p);
    // every placed call is one attempt; each ended answered-and-hung-up or canceled
    assert.equal(row.attempts, 10);
    const failures = Object.values(row.failures as Record<string, number>).reduce((x, y) => x + y, 0);
    assert.ok(row.answered + failures >= 10, JSON.stringify(row));
    assert.deepEqual(Object.keys(row.failures).filter((k) => k !== 'canceled'), []);
  });
});
