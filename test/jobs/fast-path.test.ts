// The pipeline's cheap paths give the same answers as the plain ones, on Redis and in memory: the
// one-round-trip read (CallStore.callLogContext), the hand-off made by the terminal transition
// itself (crmLog pending + outbox, settled by setCrmLog; the queue never writes the call), and no
// phone-match cache traffic for a CRM that cannot search.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { CRM_SETTING } from '../../src/crm/connectors.js';
import { processCallLog, type CallLogDeps, type CallLogOutcome } from '../../src/jobs/call-log-worker.js';
import { callLogQueue } from '../../src/jobs/pipeline.js';
import type { SharedState } from '../../src/store/state/port.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { backendFor, connectors, finishedCall, rid, setupOrg, silentLogger, waitFor, type TestStore } from './helpers.js';

const KINDS = ['redis', 'memory'] as const;

describe('call-log fast paths', () => {
  let hook: WebhookCrmFake;
  const backends = new Map<(typeof KINDS)[number], TestStore>();
  before(async () => {
    hook = await new WebhookCrmFake().start();
    for (const kind of KINDS) backends.set(kind, await backendFor(kind));
  });
  after(async () => {
    await hook.close();
    for (const ts of backends.values()) await ts.close();
  });

  for (const kind of KINDS) {
    describe(`${kind} backend`, () => {
      const be = () => backends.get(kind)!.backend;
      /** ids of the calls in the outbox (handed off, not settled) */
      const outbox = async (orgId: string) => new Set(await be().calls.outboxDue(orgId, Date.now() + 60_000, 1000));

      test('callLogContext reads what getCall, getUser and the crm setting read', async () => {
        const b = be();
        const { orgId, userId } = await setupOrg(b, hook.config(), { crmUserId: 'crm-7' });
        const call = await finishedCall(b, orgId, userId, { crmRecord: { module: 'Contacts', id: 'r1' } });
        await b.calls.setCrmLog(orgId, call.id, { status: 'pending', attempts: 1, lastError: 'x' });
        const ctx = await b.calls.callLogContext(orgId, call.id);
        assert.deepEqual(ctx.call, await b.calls.getCall(orgId, call.id));
        assert.deepEqual(ctx.call?.crmLog, { status: 'pending', attempts: 1, lastError: 'x' });
        assert.deepEqual(ctx.user, await b.directory.getUser(orgId, userId));
        assert.equal(ctx.user?.crmUserId, 'crm-7');
        assert.deepEqual(ctx.crmConfig, await b.settings.get(orgId, CRM_SETTING));
        assert.deepEqual(ctx.crmConfig, hook.config());
        assert.deepEqual(JSON.parse(ctx.crmConfigJson!), ctx.crmConfig);
      });

      test('callLogContext: no call, no CRM, a deleted user, a call without a user', async () => {
        const b = be();
        const { orgId, userId } = await setupOrg(b, null);
        assert.deepEqual(await b.calls.callLogContext(orgId, 'no-such-call'), { call: null, user: null, crmConfig: null, crmConfigJson: null });
        const call = await finishedCall(b, orgId, userId);
        const noCrm = await b.calls.callLogContext(orgId, call.id);
        assert.equal(noCrm.crmConfig, null);
        assert.equal(noCrm.crmConfigJson, null);
        assert.equal(noCrm.user?.id, userId);
        await b.directory.deleteUser(orgId, userId);
        const gone = await b.calls.callLogContext(orgId, call.id);
        assert.equal(gone.user, null);
        assert.deepEqual(gone.call, await b.calls.getCall(orgId, call.id));
        const trial = await finishedCall(b, orgId, '');
        const t = await b.calls.callLogContext(orgId, trial.id);
        assert.equal(t.user, null);
        assert.equal(t.call?.id, trial.id);
      });

      test('the terminal transition hands the call off (crmLog pending, attempts 0, in the outbox) until setCrmLog settles it; nothing else resets it', async () => {
        const b = be();
        const { orgId, userId } = await setupOrg(b, null);
        // a live call is not handed off
        const at = new Date().toISOString();
        const liveId = rid('call_');
        await b.calls.createCall({
          id: liveId, orgId, userId, providerId: 'prov_test', providerKind: 'sim', direction: 'outbound', from: '+14155559999', to: '+14155550100',
          status: 'queued', createdAt: at, updatedAt: at, history: [{ status: 'queued', at }],
        });
        const live = (await b.calls.transition(orgId, liveId, { status: 'dialing', at }))!.call;
        assert.equal(live.crmLog, undefined);
        assert.equal((await outbox(orgId)).has(live.id), false);

        const call = await finishedCall(b, orgId, userId);
        assert.deepEqual(call.crmLog, { status: 'pending', attempts: 0 }, 'the transition result carries it');
        assert.deepEqual((await b.calls.getCall(orgId, call.id))?.crmLog, { status: 'pending', attempts: 0 });
        assert.ok((await outbox(orgId)).has(call.id), 'in the outbox');

        // a retry on the way is not settled: still in the outbox
        await b.calls.setCrmLog(orgId, call.id, { status: 'pending', attempts: 1, lastError: '503' });
        assert.ok((await outbox(orgId)).has(call.id), 'a pending log stays in the outbox');
        await b.calls.setCrmLog(orgId, call.id, { status: 'logged', attempts: 2, recordId: 'rec-1' });
        assert.equal((await outbox(orgId)).has(call.id), false, 'a logged call leaves the outbox');

        // a late duplicate of the terminal event neither resets the log nor hands the call off again
        const again = await b.calls.transition(orgId, call.id, { status: 'completed', at: new Date().toISOString() });
        assert.deepEqual([again?.applied, again?.becameTerminal], [false, false]);
        assert.deepEqual((await b.calls.getCall(orgId, call.id))?.crmLog, { status: 'logged', attempts: 2, recordId: 'rec-1' });
        assert.equal((await outbox(orgId)).has(call.id), false);

        // skipped settles as well
        const noCrm = await finishedCall(b, orgId, userId);
        await b.calls.setCrmLog(orgId, noCrm.id, { status: 'skipped', attempts: 0 });
        assert.equal((await outbox(orgId)).has(noCrm.id), false, 'a skipped call leaves the outbox');

        // a provider trial's call is never handed to the call log
        const trial = await finishedCall(b, orgId, '', { trial: true });
        assert.equal(trial.crmLog, undefined);
        assert.equal((await b.calls.getCall(orgId, trial.id))?.crmLog, undefined);
        assert.equal((await outbox(orgId)).has(trial.id), false);

        // no call: an error, and no phantom call
        await assert.rejects(b.calls.setCrmLog(orgId, 'no-such-call', { status: 'pending', attempts: 0 }), (e: Error & { code?: string }) => e.code === 'call_not_found');
        assert.equal(await b.calls.getCall(orgId, 'no-such-call'), null, 'no phantom call');
      });

      test('the queue shows crmLog pending (attempts 0) before a worker runs; a duplicate enqueue of the logged call writes nothing', async () => {
        const b = be();
        const { orgId, userId } = await setupOrg(b, hook.config());
        const call = await finishedCall(b, orgId, userId);
        const crm = connectors(b, [webhookCrmKind]);
        const deps: CallLogDeps = { calls: b.calls, crm, logger: silentLogger };
        const outcomes: CallLogOutcome[] = [];
        const q = callLogQueue(b, { logger: silentLogger, registry: new Registry(), retry: { baseDelayMs: 20, maxDelayMs: 200 } });
        try {
          await q.enqueue(orgId, call.id);
          assert.deepEqual((await b.calls.getCall(orgId, call.id))?.crmLog, { status: 'pending', attempts: 0 });
          const requests = hook.requests;
          q.startWorker(async (job) => void outcomes.push(await processCallLog(deps, job)), 1);
          await waitFor(async () => (await b.calls.getCall(orgId, call.id))?.crmLog?.status === 'logged', 'logged', 30_000);
          assert.deepEqual((await b.calls.getCall(orgId, call.id))?.crmLog, { status: 'logged', attempts: 1 });
          assert.equal((await outbox(orgId)).has(call.id), false, 'settled: out of the outbox');
          await waitFor(async () => (await q.depth()) === 0, 'the job finished', 10_000);

          await q.enqueue(orgId, call.id);
          await waitFor(async () => (await q.depth()) === 0, 'the duplicate finished', 10_000);
          // both queues drop a finished job at once, so the duplicate runs and finds the log done
          assert.deepEqual(outcomes, ['logged', 'done_before']);
          assert.deepEqual((await b.calls.getCall(orgId, call.id))?.crmLog, { status: 'logged', attempts: 1 });
          assert.equal(hook.deliveries.has(call.id), true);
          assert.equal(hook.requests - requests, 1, 'one request to the CRM, none for the duplicate');
          assert.deepEqual(await q.listFailed(orgId), []);
        } finally {
          await q.close();
        }
      });

      test('enqueue itself never writes the call: the state a worker left stays, and an unknown call gets no phantom', async () => {
        const b = be();
        const { orgId, userId } = await setupOrg(b, hook.config());
        const call = await finishedCall(b, orgId, userId);
        const failed = { status: 'failed' as const, attempts: 3, lastError: 'webhook: 400' };
        await b.calls.setCrmLog(orgId, call.id, failed);
        const q = callLogQueue(b, { logger: silentLogger, registry: new Registry() });
        try {
          await q.enqueue(orgId, call.id);
          await q.enqueue(orgId, 'no-such-call');
          assert.equal(await q.depth(), 2, 'both wait (no worker)');
          assert.deepEqual((await b.calls.getCall(orgId, call.id))?.crmLog, failed);
          assert.equal(await b.calls.getCall(orgId, 'no-such-call'), null, 'no phantom call');
        } finally {
          await q.close();
        }
      });

      test('a CRM that cannot search (webhook) costs no phone-match cache traffic', async () => {
        const b = be();
        const { orgId, userId } = await setupOrg(b, hook.config());
        const call = await finishedCall(b, orgId, userId, { customer: '+14155550177' });
        let touched = 0;
        const shared: SharedState = new Proxy(b.shared, {
          get(target, prop, recv) {
            const v = Reflect.get(target, prop, recv);
            if (typeof v !== 'function') return v;
            return (...a: unknown[]) => {
              touched++;
              return (v as (...x: unknown[]) => unknown).apply(target, a);
            };
          },
        });
        const crm = connectors(b, [webhookCrmKind], shared);
        const deps: CallLogDeps = { calls: b.calls, crm, logger: silentLogger };
        assert.equal(await processCallLog(deps, { orgId, callId: call.id, attempt: 1, maxAttempts: 1 }), 'logged');
        assert.equal(await crm.match(orgId, '+14155550177', 5000), null);
        assert.equal(touched, 0);
        assert.equal(hook.deliveries.get(call.id)?.body.record, null);
      });
    });
  }
});
