// The pipeline's cheap paths give the same answers as the plain ones: the one-round-trip read
// (RedisStore.loadCallLogContext), the conditional "pending" mark at enqueue, and no phone-match
// cache traffic for a CRM that cannot search.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { BullCallLogQueue, LocalCallLogQueue, type CallLogQueue } from '../../src/jobs/call-log-queue.js';
import { callLogProcessor, matchCaller, processCallLog, type CallLogDeps, type CallLogStore } from '../../src/jobs/call-log-worker.js';
import { pendingMarker } from '../../src/jobs/worker-main.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import type { SharedState } from '../../src/store/store.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { testRedisUrl } from '../helpers/redis.js';
import { finishedCall, memoryStore, redisStore, rid, setupOrg, silentLogger, waitFor, type TestStore } from './helpers.js';

describe('call-log fast paths', () => {
  let hook: WebhookCrmFake;
  let rs: TestStore;
  let ms: TestStore;
  before(async () => {
    hook = await new WebhookCrmFake().start();
    rs = redisStore();
    ms = memoryStore();
  });
  after(async () => {
    await hook.close();
    await rs.close();
    await ms.close();
  });
  const redis = () => rs.store as RedisStore;

  test('loadCallLogContext reads what getCall, getUser and getCrmConfig read', async () => {
    const { orgId, userId } = await setupOrg(rs.store, hook.config(), { crmUserId: 'crm-7' });
    const call = await finishedCall(rs.store, orgId, userId, { crmRecord: { module: 'Contacts', id: 'r1' } });
    await rs.store.setCrmLog(orgId, call.id, { status: 'pending', attempts: 1, lastError: 'x' });
    const ctx = await redis().loadCallLogContext(orgId, call.id);
    assert.deepEqual(ctx.call, await rs.store.getCall(orgId, call.id));
    assert.deepEqual(ctx.user, await rs.store.getUser(orgId, userId));
    assert.deepEqual(ctx.crmConfig, await rs.store.getCrmConfig(orgId));
    assert.deepEqual(JSON.parse(ctx.crmConfigJson!), ctx.crmConfig);
  });

  test('loadCallLogContext: no call, no CRM, a deleted user, a call without a user', async () => {
    const { orgId, userId } = await setupOrg(rs.store, null);
    assert.deepEqual(await redis().loadCallLogContext(orgId, 'no-such-call'), { call: null, user: null, crmConfig: null, crmConfigJson: null });
    const call = await finishedCall(rs.store, orgId, userId);
    assert.equal((await redis().loadCallLogContext(orgId, call.id)).crmConfig, null);
    await rs.store.deleteUser(orgId, userId);
    const gone = await redis().loadCallLogContext(orgId, call.id);
    assert.equal(gone.user, null);
    assert.deepEqual(gone.call, await rs.store.getCall(orgId, call.id));
    const trial = await finishedCall(rs.store, orgId, '');
    const t = await redis().loadCallLogContext(orgId, trial.id);
    assert.equal(t.user, null);
    assert.equal(t.call?.id, trial.id);
  });

  test('initCrmLog sets crmLog only on an existing call that has none', async () => {
    const { orgId, userId } = await setupOrg(rs.store, null);
    const call = await finishedCall(rs.store, orgId, userId);
    assert.equal(await redis().initCrmLog(orgId, call.id, { status: 'pending', attempts: 0 }), true);
    assert.deepEqual((await rs.store.getCall(orgId, call.id))?.crmLog, { status: 'pending', attempts: 0 });
    await rs.store.setCrmLog(orgId, call.id, { status: 'logged', attempts: 1 });
    assert.equal(await redis().initCrmLog(orgId, call.id, { status: 'pending', attempts: 0 }), false);
    assert.deepEqual((await rs.store.getCall(orgId, call.id))?.crmLog, { status: 'logged', attempts: 1 });
    assert.equal(await redis().initCrmLog(orgId, 'no-such-call', { status: 'pending', attempts: 0 }), false);
    assert.equal(await rs.store.getCall(orgId, 'no-such-call'), null, 'no phantom call');
  });

  for (const kind of ['bull', 'local'] as const) {
    test(`${kind} queue: an enqueued call shows crmLog pending (attempts 0) before a worker runs; a re-enqueue never overwrites the outcome`, async () => {
      const ts = kind === 'bull' ? rs : ms;
      const { orgId, userId } = await setupOrg(ts.store, hook.config());
      const call = await finishedCall(ts.store, orgId, userId);
      const processor = callLogProcessor({ store: ts.store, crmKinds: [webhookCrmKind], logger: silentLogger });
      const markPending = pendingMarker(ts.store, kind === 'bull');
      const q: CallLogQueue =
        kind === 'bull'
          ? new BullCallLogQueue({ connection: testRedisUrl(), processor, prefix: `{dgt-${rid()}}`, markPending })
          : new LocalCallLogQueue({ processor, markPending });
      try {
        await q.enqueue(orgId, call.id);
        assert.deepEqual((await ts.store.getCall(orgId, call.id))?.crmLog, { status: 'pending', attempts: 0 });
        q.startWorker(1);
        await waitFor(async () => (await ts.store.getCall(orgId, call.id))?.crmLog?.status === 'logged', 'logged', 30_000);
        await q.enqueue(orgId, call.id);
        assert.deepEqual((await ts.store.getCall(orgId, call.id))?.crmLog, { status: 'logged', attempts: 1 });
        assert.equal(hook.deliveries.has(call.id), true);
      } finally {
        await q.close();
      }
    });
  }

  test('the memory store is never marked from a BullMQ enqueue (no conditional write there)', () => {
    assert.equal(pendingMarker(ms.store, true), undefined);
    assert.equal(typeof pendingMarker(ms.store, false), 'function');
    assert.equal(typeof pendingMarker(rs.store, true), 'function');
  });

  test('a CRM that cannot search (webhook) costs no phone-match cache traffic', async () => {
    const { orgId, userId } = await setupOrg(rs.store, hook.config());
    const call = await finishedCall(rs.store, orgId, userId, { customer: '+14155550177' });
    let touched = 0;
    const shared: SharedState = new Proxy(rs.store.shared, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (typeof v !== 'function') return v;
        return (...a: unknown[]) => {
          touched++;
          return (v as (...x: unknown[]) => unknown).apply(target, a);
        };
      },
    });
    const store: CallLogStore = Object.assign(Object.create(rs.store) as CallLogStore, { shared });
    const deps: CallLogDeps = { store, crmKinds: [webhookCrmKind], logger: silentLogger };
    assert.equal(await processCallLog(deps, orgId, call.id), 'logged');
    assert.equal(await matchCaller(deps, orgId, '+14155550177', 5000), null);
    assert.equal(touched, 0);
    assert.equal(hook.deliveries.get(call.id)?.body.record, null);
  });
});
