// Retention (issue 15): an ended call whose log is settled expires after
// DIALGATE_CALL_RETENTION_SEC with its listings, provider link and idempotency key; finished
// call-log jobs are removed; live calls and unsettled logs stay. With a short retention (15 s), N calls
// through a gateway on the test Redis leave the deployment's key count where it was. It also
// prints what a call costs in Redis (MEMORY USAGE of what it leaves before the purge, and the
// INFO used_memory delta), the README's figures.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { keysMatching, testRedisClient } from '../helpers/redis.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { FROZEN, getCall, installSim, must, putUser, uid } from '../calls/setup.js';

/** long enough that none of the N calls is purged before they are all counted, on a loaded machine too */
const RETENTION_SEC = 15;
const USERS = 10;
const CALLS_PER_USER = 10;
const N = USERS * CALLS_PER_USER;
const QUICK = { ringAfterMs: 5, answerAfterMs: 10, durationMs: 20 };

describe('retention: ended and logged calls leave nothing behind in Redis', () => {
  let gw: TestGateway;
  const crm = new WebhookCrmFake();
  const refusing = new WebhookCrmFake();
  let queuePrefix: string;
  before(async () => {
    await crm.start();
    await refusing.start();
    refusing.forceStatus = 503;
    gw = await startGateway({ store: 'redis', env: { DIALGATE_CALL_RETENTION_SEC: String(RETENTION_SEC), DIALGATE_RECONCILE_EVERY_SEC: '1' } });
    queuePrefix = `{tq${gw.keyPrefix.replace(/[^A-Za-z0-9]/g, '')}}`;
  });
  after(async () => {
    await gw.close();
    await crm.close();
    await refusing.close();
  });

  /** this deployment's keys (its key prefix and its queues); the time-bucketed figures (perf:*) expire on their own */
  async function deploymentKeys(): Promise<string[]> {
    const all = [...(await keysMatching(`${gw.keyPrefix}*`)), ...(await keysMatching(`${queuePrefix}*`))];
    // not per-call data: figures (kept by time window), and the housekeeping lock, which stands
    // while a round runs (every second here) and is gone between rounds
    return all.filter((k) => !/\}:perf:/.test(k) && !k.endsWith(':shared:housekeeping'));
  }

  test(`${N} calls: counted, logged once, then purged with their links, keys and jobs; a live call and an unsettled log stay`, async () => {
    const o = await gw.createOrg('retention ' + uid('o'));
    const users = Array.from({ length: USERS }, () => uid());
    for (const u of users) must(await putUser(gw, o.apiKey, u, { phone: '+14165550100' }), 201, 'user');
    await installSim(gw, o.apiKey, QUICK, users);
    must(await gw.req('PUT', '/v1/crm', { key: o.apiKey, body: crm.config() }), 200, 'crm');
    // a call that never progresses: live for the whole test
    const stuckUser = uid();
    must(await putUser(gw, o.apiKey, stuckUser, { phone: '+14165550100' }), 201, 'user');
    await installSim(gw, o.apiKey, FROZEN, [stuckUser]);
    const live = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: stuckUser, to: '+14165550199' } }), 201, 'live call').body.id as string;
    // another org whose CRM refuses every log: its ended call's log stays unsettled
    const o2 = await gw.createOrg('retention unsettled ' + uid('o'));
    const u2 = uid();
    must(await putUser(gw, o2.apiKey, u2, { phone: '+14165550100' }), 201, 'user');
    await installSim(gw, o2.apiKey, QUICK, [u2]);
    must(await gw.req('PUT', '/v1/crm', { key: o2.apiKey, body: refusing.config() }), 200, 'crm');
    const unsettled = must(await gw.req('POST', '/v1/calls', { key: o2.apiKey, body: { userId: u2, to: '+14165550199' } }), 201, 'unsettled').body.id as string;
    await eventually(async () => (await getCall(gw, o2.apiKey, unsettled)).crmLog?.attempts >= 1, 15_000, 'a refused log attempt');
    // one call first, so the queue's own keys (meta, id counter, events stream) exist in the baseline
    const warm = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: users[0], to: '+14165550199' } }), 201, 'warm-up');
    await eventually(async () => (await getCall(gw, o.apiKey, warm.body.id)).crmLog?.status === 'logged', 10_000, 'warm-up logged');
    await eventually(async () => (await gw.req('GET', `/v1/calls/${warm.body.id}`, { key: o.apiKey })).status === 404, (RETENTION_SEC + 10) * 1000, 'warm-up purged');
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
      // what one call leaves until its purge: the call hash, its listings, provider link, idempotency record
      const k = `${gw.keyPrefix}{org:${o.id}}:`;
      let bytes = 0;
      for (const id of ids.slice(-20)) bytes += Number(await redis.call('MEMORY', 'USAGE', `${k}c:${id}`, 'SAMPLES', '0'));
      const perHash = Math.round(bytes / 20);
      const memAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
      const perCall = Math.round((memAfter - memBefore) / N);
      const pcFields = Number(await redis.hlen(`${k}pc`));
      assert.ok(pcFields >= N, `a provider link per call until the purge (${pcFields}; the retention is ${RETENTION_SEC} s)`);
      assert.equal(crm.duplicates, 0);
      assert.equal(ids.filter((id) => crm.deliveries.has(id)).length, N, 'every call logged once');
      process.stdout.write(
        `# retention: ${N} calls; call hash ${perHash} B (MEMORY USAGE); used_memory delta ${perCall} B per call (indicative when other suites share the Redis); ` +
          `at 100 calls/s: ${((perCall * 100 * 3600) / 1e6).toFixed(0)} MB per hour of retention\n`,
      );

      // after the retention: every logged call purged, with its links, keys and jobs
      await eventually(async () => (await gw.req('GET', `/v1/calls/${ids[ids.length - 1]}`, { key: o.apiKey })).status === 404, (RETENTION_SEC + 10) * 1000, 'purged');
      for (const id of ids.slice(0, 5)) assert.equal((await gw.req('GET', `/v1/calls/${id}`, { key: o.apiKey })).status, 404);
      const after_ = await eventually(async () => {
        const now = await deploymentKeys();
        return now.length === before.length ? now : null;
      }, 15_000, 'the key count back where it was').catch(async () => deploymentKeys());
      assert.deepEqual(after_.filter((x) => !before.includes(x)), [], 'keys left behind');
      assert.equal(after_.length, before.length);
      assert.equal(Number(await redis.zcard(`${k}calls`)), 1, 'only the live call is listed');
      assert.equal(Number(await redis.hlen(`${k}idem`)), 0, 'no idempotency record left');
      // both ended (or were placed) well over the retention ago, and stay
      assert.equal((await getCall(gw, o.apiKey, live)).status, 'dialing', 'the live call stays');
      const u = await getCall(gw, o2.apiKey, unsettled);
      assert.equal(u.status, 'completed');
      assert.notEqual(u.crmLog?.status, 'logged', 'the unsettled log stays');
    } finally {
      redis.disconnect();
    }
  });
});
