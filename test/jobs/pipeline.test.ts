// The call-log pipeline on real Redis (BullMQ) and in-process: exactly one CRM record per finished
// call, linked to the right record, under 429/5xx/dropped connections; permanent errors listed
// and retryable; Retry-After honoured.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { zohoCrmKind } from '../../adapters/crm/zoho/index.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { BullCallLogQueue, LocalCallLogQueue, type CallLogQueue } from '../../src/jobs/call-log-queue.js';
import { callLogProcessor, processCallLog, type CallLogDeps } from '../../src/jobs/call-log-worker.js';
import { createCallLogQueue } from '../../src/jobs/worker-main.js';
import { callLogMetrics } from '../../src/jobs/metrics.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { testRedisUrl } from '../helpers/redis.js';
import { crmLogs, finishedCall, redisStore, rid, setupOrg, silentLogger, waitFor, type TestStore } from './helpers.js';

const crmKinds = [zohoCrmKind, webhookCrmKind];
// unique customer numbers per test, since the fakes live across tests
let seq = 1000 + Math.floor(Math.random() * 8000);
const uniqueNumber = (area: string) => `+1${area}555${String(seq++).padStart(4, '0')}`;
const FAST = { baseDelayMs: 20, maxDelayMs: 200 };

type Kind = 'bull' | 'local';

function makeQueue(kind: Kind, deps: CallLogDeps, retry: Record<string, number> = {}): CallLogQueue {
  const processor = callLogProcessor(deps);
  if (kind === 'local') return new LocalCallLogQueue({ processor, retry: { ...FAST, ...retry } });
  return new BullCallLogQueue({ connection: testRedisUrl(), processor, prefix: `{dgt-${rid()}}`, retry: { ...FAST, ...retry } });
}

describe('call-log pipeline', () => {
  let zoho: ZohoFake;
  let hook: WebhookCrmFake;
  let ts: TestStore;
  before(async () => {
    zoho = await new ZohoFake().start();
    hook = await new WebhookCrmFake().start();
    ts = redisStore();
  });
  after(async () => {
    await zoho.close();
    await hook.close();
    await ts.close();
  });

  const deps = (): CallLogDeps => ({ store: ts.store, crmKinds, logger: silentLogger });
  const zohoRecordsFor = (callId: string) => zoho.calls().filter((c) => String(c.Description).split('\n').includes(`dialgate-call-id: ${callId}`));

  for (const kind of ['bull', 'local'] as Kind[]) {
    describe(`${kind} queue`, () => {
      test('every finished call gets exactly one Zoho record, linked to the click\'s record or the phone match', async () => {
        const { orgId, userId } = await setupOrg(ts.store, zoho.config(), { crmUserId: 'zu-1' });
        const contactNo = uniqueNumber('415');
        const leadNo = uniqueNumber('628');
        const contact = zoho.addRecord('Contacts', { Last_Name: 'C', Phone: contactNo });
        const lead = zoho.addRecord('Leads', { Last_Name: 'L', Phone: `(628) 555-${leadNo.slice(-4)}` });
        const deal = zoho.addRecord('Deals', { Deal_Name: 'Big' });
        const q = makeQueue(kind, deps());
        try {
          const calls = [
            await finishedCall(ts.store, orgId, userId, { customer: contact.Phone as string }),
            await finishedCall(ts.store, orgId, userId, { direction: 'inbound', customer: leadNo, outcome: 'no-answer' }),
            await finishedCall(ts.store, orgId, userId, { customer: contact.Phone as string, crmRecord: { module: 'Deals', id: deal.id } }),
            await finishedCall(ts.store, orgId, userId, { customer: uniqueNumber('629') }),
          ];
          q.startWorker(4);
          for (const c of calls) await q.enqueue(orgId, c.id);
          await q.enqueue(orgId, calls[0].id); // a duplicate enqueue is the same job
          await waitFor(async () => (await crmLogs(ts.store, orgId, calls.map((c) => c.id))).every((l) => l?.status === 'logged'), 'all logged');
          const recs = calls.map((c) => zohoRecordsFor(c.id));
          assert.deepEqual(recs.map((r) => r.length), [1, 1, 1, 1]);
          assert.deepEqual(recs[0][0].Who_Id, { id: contact.id }, 'phone match in Contacts');
          assert.deepEqual([recs[1][0].What_Id, recs[1][0].$se_module, recs[1][0].Call_Type], [{ id: lead.id }, 'Leads', 'Missed'], 'national form in Leads');
          assert.deepEqual([recs[2][0].What_Id, recs[2][0].$se_module, recs[2][0].Who_Id], [{ id: deal.id }, 'Deals', undefined], 'crmRecord wins over the phone match');
          assert.equal(recs[3][0].Who_Id ?? recs[3][0].What_Id, undefined, 'no match: logged unlinked');
          const logs = await crmLogs(ts.store, orgId, calls.map((c) => c.id));
          assert.deepEqual(logs.map((l) => l!.recordId), recs.map((r) => r[0].id));
        } finally {
          await q.close();
        }
      });

      test('a permanent error fails the job with the reason; it is listed, and a retry after the fix logs it once', async () => {
        const { orgId, userId } = await setupOrg(ts.store, zoho.config(), { crmUserId: `zu-${kind}-new` });
        const call = await finishedCall(ts.store, orgId, userId);
        const q = makeQueue(kind, deps());
        zoho.knownUsers = new Set(['zu-1']);
        try {
          q.startWorker(2);
          await q.enqueue(orgId, call.id);
          await waitFor(async () => (await q.listFailed(orgId)).length === 1, 'listed as failed');
          const [failed] = await q.listFailed(orgId);
          assert.equal(failed.callId, call.id);
          assert.match(failed.reason, /INVALID_DATA \(Owner\)/);
          const log = (await ts.store.getCall(orgId, call.id))!.crmLog!;
          assert.equal(log.status, 'failed');
          assert.match(log.lastError!, /INVALID_DATA/);
          assert.equal(log.attempts, 1, 'a permanent error is not retried');
          assert.equal(await q.retryFailed(orgId, 'no-such-call'), false);
          assert.equal(await q.retryFailed('another-org', call.id), false, 'another org cannot retry it');
          zoho.knownUsers.add(`zu-${kind}-new`);
          assert.equal(await q.retryFailed(orgId, call.id), true);
          await waitFor(async () => (await ts.store.getCall(orgId, call.id))!.crmLog?.status === 'logged', 'logged after retry');
          assert.equal(zohoRecordsFor(call.id).length, 1);
          assert.deepEqual(await q.listFailed(orgId), []);
        } finally {
          zoho.knownUsers = null;
          await q.close();
        }
      });

      test('Retry-After is honoured over the (much shorter) backoff', async () => {
        const { orgId, userId } = await setupOrg(ts.store, hook.config());
        const call = await finishedCall(ts.store, orgId, userId);
        const q = makeQueue(kind, deps());
        const start = hook.arrivals.length;
        // unavailable until the first try has arrived (however slow the worker is to start), so
        // the first try always meets the 503 + Retry-After and the second always succeeds
        hook.unavailableUntil = Number.MAX_SAFE_INTEGER;
        hook.retryAfterSec = 2;
        try {
          q.startWorker(1);
          await q.enqueue(orgId, call.id);
          await waitFor(() => hook.arrivals.length > start, 'first try', 30_000);
          hook.unavailableUntil = 0;
          await waitFor(async () => (await ts.store.getCall(orgId, call.id))!.crmLog?.status === 'logged', 'delivered and logged', 30_000);
          const times = hook.arrivals.slice(start);
          assert.ok(times.length >= 2);
          assert.ok(times[1] - times[0] >= 1900, `second try ${times[1] - times[0]} ms after the first; Retry-After said 2 s`);
          const log = (await ts.store.getCall(orgId, call.id))!.crmLog!;
          assert.equal(log.status, 'logged');
          assert.equal(log.attempts, 2);
        } finally {
          hook.unavailableUntil = 0;
          hook.retryAfterSec = undefined;
          await q.close();
        }
      });
    });
  }

  test('200 calls, Zoho failing 30% of requests and dropping connections after commits: exactly 200 records', async () => {
    const { orgId, userId } = await setupOrg(ts.store, zoho.config(), { crmUserId: 'zu-1' });
    const contact = zoho.addRecord('Contacts', { Last_Name: 'Bulk', Phone: '+17185550100' });
    const q = makeQueue('bull', deps(), { attempts: 60 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const c = await finishedCall(ts.store, orgId, userId, i % 2 ? { customer: '+17185550100' } : { customer: '+17185550100', crmRecord: { module: 'Contacts', id: contact.id } });
      ids.push(c.id);
    }
    zoho.failRate = 0.3;
    zoho.failStatuses = [{ status: 503 }, { status: 429, retryAfterSec: 0 }, { status: 500 }];
    zoho.dropAfterCommitRate = 0.15;
    const dropped = zoho.droppedAfterCommit;
    try {
      q.startWorker(10);
      for (const id of ids) await q.enqueue(orgId, id);
      await waitFor(async () => (await crmLogs(ts.store, orgId, ids)).every((l) => l?.status === 'logged'), 'all 200 logged', 120_000, 200);
    } finally {
      zoho.failRate = 0;
      zoho.dropAfterCommitRate = 0;
      await q.close();
    }
    const counts = ids.map((id) => zohoRecordsFor(id).length);
    assert.equal(counts.filter((n) => n === 1).length, 200, `records per call: ${JSON.stringify(counts.filter((n) => n !== 1))}`);
    assert.ok(zoho.droppedAfterCommit - dropped > 0, 'some commits lost their answer');
    assert.ok(zoho.injectedFailures > 0);
    for (const id of ids) assert.deepEqual(zohoRecordsFor(id)[0].Who_Id, { id: contact.id });
  });

  test('200 calls to the webhook CRM failing 30% and dropping after commit: 200 deliveries, one per key', async () => {
    const { orgId, userId } = await setupOrg(ts.store, hook.config());
    const q = makeQueue('bull', deps(), { attempts: 60 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await finishedCall(ts.store, orgId, userId)).id);
    hook.failRate = 0.3;
    hook.dropAfterCommitRate = 0.15;
    try {
      q.startWorker(10);
      for (const id of ids) await q.enqueue(orgId, id);
      await waitFor(async () => (await crmLogs(ts.store, orgId, ids)).every((l) => l?.status === 'logged'), 'all 200 delivered', 120_000, 200);
    } finally {
      hook.failRate = 0;
      hook.dropAfterCommitRate = 0;
      await q.close();
    }
    assert.equal(ids.filter((id) => hook.deliveries.has(id)).length, 200);
    assert.ok(hook.duplicates > 0, 'redeliveries happened and were deduped by Idempotency-Key');
  });

  test('no CRM configured: crmLog skipped; PhoneBridge: skipped, callnotify sent, no Calls insert', async () => {
    const { orgId, userId } = await setupOrg(ts.store, null);
    const c1 = await finishedCall(ts.store, orgId, userId);
    assert.equal(await processCallLog(deps(), orgId, c1.id), 'no_crm');
    assert.equal((await ts.store.getCall(orgId, c1.id))!.crmLog!.status, 'skipped');

    const pb = await setupOrg(ts.store, zoho.config({ mode: 'phonebridge' }), { crmUserId: 'zu-1' });
    const c2 = await finishedCall(ts.store, pb.orgId, pb.userId, { direction: 'inbound', outcome: 'no-answer' });
    const before = zoho.calls().length;
    assert.equal(await processCallLog(deps(), pb.orgId, c2.id), 'skipped');
    assert.equal((await ts.store.getCall(pb.orgId, c2.id))!.crmLog!.status, 'skipped');
    assert.equal(zoho.calls().length, before);
    assert.deepEqual(zoho.callnotifies.filter((n) => n.id === c2.id).map((n) => n.state), ['missed']);
  });

  test('a run after a crash mid-write (attempt recorded, queue attempt 1) looks before inserting', async () => {
    const { orgId, userId } = await setupOrg(ts.store, zoho.config());
    const call = await finishedCall(ts.store, orgId, userId);
    zoho.dropNextCommits = 1;
    await assert.rejects(processCallLog(deps(), orgId, call.id, 1, 5));
    const mid = (await ts.store.getCall(orgId, call.id))!.crmLog!;
    assert.deepEqual([mid.status, mid.attempts], ['pending', 1]);
    assert.match(mid.lastError!, /^zoho insert Calls: network error/);
    // BullMQ does not count a stalled run as an attempt: the recorded attempts make it look anyway
    assert.equal(await processCallLog(deps(), orgId, call.id, 1, 5), 'already_logged');
    assert.equal(zohoRecordsFor(call.id).length, 1);
    assert.equal(await processCallLog(deps(), orgId, call.id, 1, 5), 'done_before');
  });

  test('metrics: logs by CRM and outcome, latency, queue depth on the given registry', async () => {
    const registry = new Registry();
    const { orgId, userId } = await setupOrg(ts.store, hook.config());
    const q = createCallLogQueue({ store: ts.store, crmKinds, logger: silentLogger, redisUrl: testRedisUrl(), prefix: `{dgt-${rid()}}`, registry, retry: FAST });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await finishedCall(ts.store, orgId, userId)).id);
      for (const id of ids) await q.enqueue(orgId, id);
      const depthText = await registry.getSingleMetricAsString('dialgate_crm_queue_depth');
      assert.match(depthText, /dialgate_crm_queue_depth 3/);
      q.startWorker(2);
      await waitFor(async () => (await crmLogs(ts.store, orgId, ids)).every((l) => l?.status === 'logged'), 'logged');
      const text = await registry.metrics();
      assert.match(text, /dialgate_crm_logs_total\{crm="webhook",outcome="logged"\} 3/);
      assert.match(text, /dialgate_crm_log_duration_seconds_count\{crm="webhook"\} 3/);
      assert.match(await registry.getSingleMetricAsString('dialgate_crm_queue_depth'), /dialgate_crm_queue_depth 0/);
      assert.equal(callLogMetrics(registry), callLogMetrics(registry), 'one set per registry');
    } finally {
      await q.close();
    }
  });
});
