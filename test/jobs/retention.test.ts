// Retention (issue 15): an ended call whose log is settled expires after
// DIALGATE_CALL_RETENTION_SEC with its listings, provider link and idempotency key; finished
// call-log jobs are removed; live calls and unsettled logs stay. With a short retention, N calls
// through a gateway on the test Redis leave the deployment's key count where it was. It also
// prints what a call costs in Redis (MEMORY USAGE of what it leaves before the purge, and the
// INFO used_memory delta), the README's figures.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { keysMatching, testRedisClient } from '../helpers/redis.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { FROZEN, getCall, installSim, must, putUser, uid } from '../calls/setup.js';

const RETENTION_SEC = 3;
const USERS = 10;
const CALLS_PER_USER = 10;
const N = USERS * CALLS_PER_USER;
const QUICK = { ringAfterMs: 5, answerAfterMs: 10, durationMs: 20 };

describe('retention: ended and logged calls leave nothing behind in Redis', () => {
  let gw: TestGateway;
  const crm = new WebhookCrmFake();
  let queuePrefix: string;
  before(async () => {
    await crm.start();
    gw = await startGateway({ store: 'redis', env: { DIALGATE_CALL_RETENTION_SEC: String(RETENTION_SEC), DIALGATE_RECONCILE_EVERY_SEC: '1' } });
    queuePrefix = `{tq${gw.keyPrefix.replace(/[^A-Za-z0-9]/g, '')}}`;
  });
  after(async () => {
    await gw.close();
    await crm.close();
  });

  /** this deployment's keys (its key prefix and its queues); the time-bucketed figures (perf:*) expire on their own */
  async function deploymentKeys(): Promise<string[]> {
    const all = [...(await keysMatching(`${gw.keyPrefix}*`)), ...(await keysMatching(`${queuePrefix}*`))];
    return all.filter((k) => !/\}:perf:/.test(k));
  }

  test(`${N} calls: counted, logged once, then purged with their links, keys and jobs; a live call stays`, async () => {
    const o = await gw.createOrg('retention ' + uid('o'));
    const users = Array.from({ length: USERS }, () => uid());
    for (const u of users) must(await putUser(gw, o.apiKey, u, { phone: '+14165550100' }), 201, 'user');
    await installSim(gw, o.apiKey, QUICK, users);
    must(await gw.req('PUT', '/v1/crm', { key: o.apiKey, body: crm.config() }), 200, 'crm');
    // a user whose calls never progress: the live call that must stay
    const stuckUser = uid();
    must(await putUser(gw, o.apiKey, stuckUser, { phone: '+14165550100' }), 201, 'user');
    await installSim(gw, o.apiKey, FROZEN, [stuckUser]);
    // one call first, so the queue's own keys (meta, id counter, events stream) exist in the baseline
    const warm = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: users[0], to: '+14165550199' } }), 201, 'warm-up');
    await eventually(async () => (await getCall(gw, o.apiKey, warm.body.id)).crmLog?.status === 'logged', 10_000, 'warm-up logged');
    await eventually(async () => (await gw.req('GET', `/v1/calls/${warm.body.id}`, { key: o.apiKey })).status === 404, 10_000, 'warm-up purged');
    const before = await deploymentKeys();

    const redis = testRedisClient();
    try {
      const memBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
      const ids: string[] = [];
      for (let round = 0; round < CALLS_PER_USER; round++) {
        const made = await Promise.all(users.map((u) => gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: u, to: '+14165550199' }, headers: { 'idempotency-key': uid('idem') } })));
        for (const r of made) ids.push(must(r, 201, 'click').body.id);
        // each user's next call once this one ended (one live call per user)
        await eventually(async () => {
          const calls = await Promise.all(made.map((r) => getCall(gw, o.apiKey, r.body.id)));
          return calls.every((c) => c.crmLog?.status === 'logged');
        }, 20_000, `round ${round} ended and logged`);
      }
      // what one call leaves until its purge: the call hash, its provider link, its idempotency record
      const k = `${gw.keyPrefix}{org:${o.id}}:`;
      let bytes = 0;
      for (const id of ids.slice(0, 20)) bytes += Number(await redis.call('MEMORY', 'USAGE', `${k}c:${id}`, 'SAMPLES', '0'));
      const perHash = Math.round(bytes / 20);
      const memAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
      const perCall = Math.round((memAfter - memBefore) / N);
      const pcFields = Number(await redis.hlen(`${k}pc`));
      assert.ok(pcFields >= N, `a provider link per call until the purge (${pcFields})`);
      assert.equal(crm.duplicates, 0);
      assert.equal(ids.filter((id) => crm.deliveries.has(id)).length, N, 'every call logged once');
      process.stdout.write(
        `# retention: ${N} calls; call hash ${perHash} B (MEMORY USAGE); used_memory delta ${perCall} B per call (shared test Redis: indicative); ` +
          `at 100 calls/s: ${((perCall * 100 * 3600) / 1e6).toFixed(0)} MB per hour of retention\n`,
      );

      // a live call and an unsettled log are never purged
      const liveCall = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: stuckUser, to: '+14165550199' } }), 201, 'live call');
      crm.forceStatus = 503;
      const unsettledUser = users[0];
      const unsettled = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: unsettledUser, to: '+14165550199' } }), 201, 'unsettled');
      await eventually(async () => ['completed'].includes((await getCall(gw, o.apiKey, unsettled.body.id)).status), 10_000, 'ended');

      // after the retention: every logged call purged, with its links, keys and jobs
      await eventually(async () => (await gw.req('GET', `/v1/calls/${ids[ids.length - 1]}`, { key: o.apiKey })).status === 404, (RETENTION_SEC + 10) * 1000, 'purged');
      for (const id of ids.slice(0, 5)) assert.equal((await gw.req('GET', `/v1/calls/${id}`, { key: o.apiKey })).status, 404);
      await new Promise((r) => setTimeout(r, (RETENTION_SEC + 2) * 1000));
      assert.equal((await getCall(gw, o.apiKey, liveCall.body.id)).status, 'dialing', 'the live call stays');
      const u = await getCall(gw, o.apiKey, unsettled.body.id);
      assert.notEqual(u.crmLog?.status, 'logged', 'the unsettled log stays');
      crm.forceStatus = null;
      must(await gw.req('POST', `/v1/calls/${liveCall.body.id}/end`, { key: o.apiKey }), 200, 'end the live call');
      await eventually(async () => (await gw.req('GET', `/v1/calls/${unsettled.body.id}`, { key: o.apiKey })).status === 404, 60_000, 'the unsettled call, once logged, purged');
      await eventually(async () => (await gw.req('GET', `/v1/calls/${liveCall.body.id}`, { key: o.apiKey })).status === 404, 30_000, 'the ended live call purged');

      const after_ = await eventually(async () => {
        const now = await deploymentKeys();
        return now.length === before.length ? now : null;
      }, 15_000, 'the key count back where it was').catch(async () => deploymentKeys());
      const added = after_.filter((x) => !before.includes(x));
      assert.deepEqual(added, [], 'keys left behind');
      assert.equal(after_.length, before.length);
      assert.equal(Number(await redis.hlen(`${k}pc`)), 0, 'no provider link left');
      assert.equal(Number(await redis.hlen(`${k}idem`)), 0, 'no idempotency record left');
      assert.equal(Number(await redis.zcard(`${k}calls`)), 0, 'no listing left');
    } finally {
      redis.disconnect();
    }
  });
});
