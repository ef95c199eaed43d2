// The hand-off of an ended call to the call log survives Redis blinking: a failed enqueue is
// tried again in the background within seconds (not left for the next housekeeping round), and
// housekeeping re-drives a hand-off lost with its process after a short grace (and sweeps expired
// sticky caller ids). The same holds for a CRM update after the log (a wrap-up note): its enqueue
// lost, housekeeping finds it in the update outbox and it reaches the CRM once.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CallEvents } from '../../src/calls/call-events.js';
import { Housekeeper } from '../../src/housekeeping/housekeeper.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { CallUpdates } from '../../src/calls/call-updates.js';
import { callLogProcessor } from '../../src/jobs/call-log-worker.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import type { CallLogQueue, LogUpdateRef } from '../../src/store/queues/port.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { backendFor, connectors, finishedCall, rid, setupOrg, silentLogger, waitFor } from './helpers.js';

/** A call-log queue that refuses the first `failures` enqueues, as while a Redis master is away. */
function blinkingQueue(failures: number) {
  const enqueued: string[] = [];
  let refused = 0;
  const queue = {
    async enqueue(_orgId: string, callId: string) {
      if (refused < failures) {
        refused++;
        throw new Error('Command timed out');
      }
      enqueued.push(callId);
    },
  } as unknown as CallLogQueue;
  return { queue, enqueued, refused: () => refused };
}

describe('call-log hand-off', () => {
  test('a failed enqueue is tried again in the background until it goes through', async () => {
    const t = await backendFor('memory');
    try {
      const { orgId, userId } = await setupOrg(t.backend, null);
      const q = blinkingQueue(3);
      const events = new CallEvents({ calls: t.backend.calls, directory: t.backend.directory, events: t.backend.events, metrics: new Metrics(), logger: silentLogger, callLog: q.queue });
      const id = rid('call_');
      const now = new Date().toISOString();
      await t.backend.calls.createCall({
        id, orgId, userId, providerId: 'prov_test', providerKind: 'sim', direction: 'outbound', from: '+14155559999', to: '+14155550100',
        status: 'queued', createdAt: now, updatedAt: now, history: [{ status: 'queued', at: now }],
      });
      const tr = await events.apply(orgId, id, { status: 'failed', at: now, cause: 'test' });
      assert.equal(tr?.becameTerminal, true);
      assert.deepEqual(q.enqueued, [], 'the first enqueue failed');
      // three refusals, then retries after 250 + 500 + 1000 ms: through well within 3 s
      await waitFor(() => q.enqueued.length === 1, 'the retried enqueue', 3000);
      assert.deepEqual(q.enqueued, [id]);
      assert.equal(q.refused(), 3);
    } finally {
      await t.close();
    }
  });

  test('housekeeping enqueues a hand-off nobody queued after 15 s, not a minute', async () => {
    const t = await backendFor('memory');
    try {
      const { orgId, userId } = await setupOrg(t.backend, null);
      const q = blinkingQueue(0);
      const id = rid('call_');
      const past = (s: number) => new Date(Date.now() - s * 1000).toISOString();
      await t.backend.calls.createCall({
        id, orgId, userId, providerId: 'prov_test', providerKind: 'sim', direction: 'outbound', from: '+14155559999', to: '+14155550100',
        status: 'queued', createdAt: past(30), updatedAt: past(30), history: [{ status: 'queued', at: past(30) }],
      });
      // the call ended (and entered the outbox) 20 s ago in a process that died before enqueuing
      const realNow = Date.now;
      Date.now = () => realNow() - 20_000;
      try {
        await t.backend.calls.transition(orgId, id, { status: 'failed', at: past(20), cause: 'test' });
      } finally {
        Date.now = realNow;
      }
      await new Housekeeper(t.backend, q.queue, silentLogger).round();
      assert.deepEqual(q.enqueued, [id]);
    } finally {
      await t.close();
    }
  });

  test("housekeeping sweeps the org's expired sticky caller ids (the click only ever reads its own)", async () => {
    const t = await backendFor('memory');
    try {
      const { orgId, userId } = await setupOrg(t.backend, null);
      const id = rid('call_');
      const at = new Date().toISOString();
      await t.backend.calls.createCall({
        id, orgId, userId, providerId: 'prov_test', providerKind: 'sim', direction: 'outbound', to: '+14155550100',
        status: 'queued', createdAt: at, updatedAt: at, history: [{ status: 'queued', at }],
      });
      const pool = ['+14155550111'];
      const remember = (to: string, stickyMs: number) =>
        t.backend.calls.reassign(orgId, id, { providerId: 'prov_b', providerKind: 'sim', failedOverFrom: 'prov_test', callerId: { callerId: pool[0], pool, to, stickyMs } });
      await remember('+14155550101', -1);
      await remember('+14155550102', -1);
      await remember('+14155550103', 60_000);
      await new Housekeeper(t.backend, undefined, silentLogger).round();
      assert.equal(await t.backend.compliance.sweepCallerIds(orgId, Date.now()), 0, 'the round swept the expired ones');
      assert.equal(await t.backend.compliance.stickyCallerId(orgId, 'prov_b', '+14155550103', Date.now()), pool[0], 'the live one stays');
      assert.equal(await t.backend.compliance.sweepCallerIds(orgId, Date.now() + 120_000), 1);
    } finally {
      await t.close();
    }
  });

  for (const kind of ['memory', 'redis'] as const) {
    test(`a CRM update whose enqueue was lost is re-driven by housekeeping and reaches the CRM once (${kind})`, async () => {
      const t = await backendFor(kind);
      const crm = await new WebhookCrmFake().start();
      try {
        const { orgId, userId } = await setupOrg(t.backend, crm.config());
        const call = await finishedCall(t.backend, orgId, userId);
        const run = callLogProcessor({ calls: t.backend.calls, crm: connectors(t.backend, [webhookCrmKind]), logger: silentLogger });
        await run({ orgId, callId: call.id, attempt: 1, maxAttempts: 3 });
        assert.equal(crm.logsOf(call.id).length, 1, 'the log');
        // Redis away for every try: the note is stored, its update not queued
        const down = blinkingQueue(1_000);
        const updates = new CallUpdates({ calls: t.backend.calls, callLog: down.queue, logger: silentLogger, wrapupSec: 600 });
        await updates.wrapup(orgId, call.id, { notes: 'call back Monday' });
        assert.deepEqual(down.enqueued, []);
        // housekeeping (grace 0 here) enqueues it from the update outbox
        const jobs: { callId: string; update?: LogUpdateRef }[] = [];
        const queue = { enqueue: async (_o: string, callId: string, update?: LogUpdateRef) => void jobs.push({ callId, update }) } as unknown as CallLogQueue;
        const hk = new Housekeeper(t.backend, queue, silentLogger, { outboxGraceMs: 0 });
        await hk.round();
        assert.deepEqual(jobs, [{ callId: call.id, update: { group: 'notes', n: 1 } }]);
        await run({ orgId, callId: call.id, attempt: 1, maxAttempts: 3, update: jobs[0].update });
        assert.deepEqual(crm.updatesOf(call.id).map((d) => [d.key, d.body.notes]), [[`${call.id}:notes:1`, 'call back Monday']]);
        // sent: settled, so the next round enqueues nothing
        await hk.round();
        assert.equal(jobs.length, 1);
        assert.equal(crm.logsOf(call.id).length, 1, 'never a second log');
        assert.equal(crm.duplicates, 0);
      } finally {
        await crm.close();
        await t.close();
      }
    });
  }
});
