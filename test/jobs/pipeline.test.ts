// The call-log pipeline on real Redis (BullMQ), on a Redis Cluster (queues sharded by org) and
// in-process (the memory backend): exactly one CRM record per finished call, linked to the right
// record, under 429/5xx/dropped connections; permanent errors listed and retryable; Retry-After
// honoured.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { zohoCrmKind } from '../../adapters/crm/zoho/index.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { processCallLog, type CallLogDeps } from '../../src/jobs/call-log-worker.js';
import { callLogMetrics } from '../../src/jobs/metrics.js';
import { callLogQueue, startCallLogWorker } from '../../src/jobs/pipeline.js';
import type { RetryPolicy } from '../../src/jobs/call-log-policy.js';
import { queueShardOf } from '../../src/store/keys.js';
import type { CallLogQueue } from '../../src/store/queues/port.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { testBackend, type BackendKind } from '../helpers/backend.js';
import { connectors, crmLogs, finishedCall, setupOrg, silentLogger, waitFor, type TestStore } from './helpers.js';

const crmKinds = [zohoCrmKind, webhookCrmKind];
// unique customer numbers per test, since the fakes live across tests
let seq = 1000 + Math.floor(Math.random() * 8000);
const uniqueNumber = (area: string) => `+1${area}555${String(seq++).padStart(4, '0')}`;
const FAST = { baseDelayMs: 20, maxDelayMs: 200 };
/** queue shards of the cluster run: orgs spread over two queue tags (two slots) */
const CLUSTER_SHARDS = 2;

/** The backend holding the test data (orgs, users, calls), with the queue shards it runs. */
interface Data extends TestStore {
  shards: number;
}

async function dataBackend(kind: BackendKind, shards = 1): Promise<Data> {
  return { ...(await testBackend(kind, { config: { queueShards: shards } })), shards };
}

interface Pipeline {
  queue: CallLogQueue;
  registry: Registry;
  /** runs the queue's jobs in this process, as the gateway and `npm run worker` do */
  start(concurrency: number): void;
  close(): Promise<void>;
}

/**
 * The call-log queue and its worker over `data`, wired as the composition roots wire them. On Redis
 * a backend of its own over the same keys with a fresh queue tag, so no test sees another's jobs;
 * in memory the queue is the data backend's own (one process).
 */
async function pipelineOn(data: Data, retry: Partial<RetryPolicy> = {}): Promise<Pipeline> {
  const own = data.backend.kind === 'memory' ? null : await testBackend(data.backend.kind, { keyPrefix: data.keyPrefix, config: { queueShards: data.shards } });
  const backend = own?.backend ?? data.backend;
  const registry = new Registry();
  const queue = callLogQueue(backend, { logger: silentLogger, registry, retry: { ...FAST, ...retry } });
  return {
    queue,
    registry,
    start: (concurrency) => startCallLogWorker(queue, backend, connectors(backend, crmKinds), { logger: silentLogger, registry, concurrency }),
    async close() {
      await queue.close();
      await own?.close();
    },
  };
}

describe('call-log pipeline', () => {
  let zoho: ZohoFake;
  let hook: WebhookCrmFake;
  before(async () => {
    zoho = await new ZohoFake().start();
    hook = await new WebhookCrmFake().start();
  });
  after(async () => {
    await zoho.close();
    await hook.close();
  });

  const zohoRecordsFor = (callId: string) => zoho.calls().filter((c) => String(c.Description).split('\n').includes(`dialgate-call-id: ${callId}`));

  /**
   * Every finished call of these orgs gets exactly one Zoho record, linked to the click's record
   * or the phone match; a duplicate enqueue (also of a call already logged) writes nothing.
   */
  async function exactlyOnce(data: Data, orgs: { orgId: string; userId: string }[]): Promise<void> {
    const contactNo = uniqueNumber('415');
    const contact = zoho.addRecord('Contacts', { Last_Name: 'C', Phone: contactNo });
    const deal = zoho.addRecord('Deals', { Deal_Name: 'Big' });
    const p = await pipelineOn(data);
    try {
      const perOrg: { orgId: string; calls: Awaited<ReturnType<typeof finishedCall>>[]; lead: { id: string } }[] = [];
      for (const { orgId, userId } of orgs) {
        const leadNo = uniqueNumber('628');
        const lead = zoho.addRecord('Leads', { Last_Name: 'L', Phone: `(628) 555-${leadNo.slice(-4)}` });
        const calls = [
          await finishedCall(data.backend, orgId, userId, { customer: contact.Phone as string }),
          await finishedCall(data.backend, orgId, userId, { direction: 'inbound', customer: leadNo, outcome: 'no-answer' }),
          await finishedCall(data.backend, orgId, userId, { customer: contact.Phone as string, crmRecord: { module: 'Deals', id: deal.id } }),
          await finishedCall(data.backend, orgId, userId, { customer: uniqueNumber('629') }),
        ];
        perOrg.push({ orgId, calls, lead });
      }
      p.start(4);
      for (const { orgId, calls } of perOrg) for (const c of calls) await p.queue.enqueue(orgId, c.id);
      for (const { orgId, calls } of perOrg) await p.queue.enqueue(orgId, calls[0].id); // a duplicate enqueue is the same job
      for (const { orgId, calls } of perOrg) {
        await waitFor(async () => (await crmLogs(data.backend, orgId, calls.map((c) => c.id))).every((l) => l?.status === 'logged'), `all logged (${orgId})`);
      }
      // a duplicate of a call already logged: runs (or is absorbed by the queue) and writes nothing
      for (const { orgId, calls } of perOrg) await p.queue.enqueue(orgId, calls[1].id);
      await waitFor(async () => (await p.queue.depth()) === 0, 'no job left');
      for (const { orgId, calls, lead } of perOrg) {
        const recs = calls.map((c) => zohoRecordsFor(c.id));
        assert.deepEqual(recs.map((r) => r.length), [1, 1, 1, 1], `one record per call (${orgId})`);
        assert.deepEqual(recs[0][0].Who_Id, { id: contact.id }, 'phone match in Contacts');
        assert.deepEqual([recs[1][0].What_Id, recs[1][0].$se_module, recs[1][0].Call_Type], [{ id: lead.id }, 'Leads', 'Missed'], 'national form in Leads');
        assert.deepEqual([recs[2][0].What_Id, recs[2][0].$se_module, recs[2][0].Who_Id], [{ id: deal.id }, 'Deals', undefined], 'crmRecord wins over the phone match');
        assert.equal(recs[3][0].Who_Id ?? recs[3][0].What_Id, undefined, 'no match: logged unlinked');
        const logs = await crmLogs(data.backend, orgId, calls.map((c) => c.id));
        assert.deepEqual(logs.map((l) => l!.recordId), recs.map((r) => r[0].id));
        assert.deepEqual(logs.map((l) => l!.attempts), [1, 1, 1, 1], 'each written on its first run');
        const outbox = await data.backend.calls.outboxDue(orgId, Date.now() + 60_000, 100);
        assert.deepEqual(outbox.filter((id) => calls.some((c) => c.id === id)), [], 'every log settled: the outbox is empty');
      }
    } finally {
      await p.close();
    }
  }

  // 'bull' → the Redis backend (BullMQ), 'local' → the memory backend (the in-process queue)
  for (const kind of ['redis', 'memory'] as const) {
    describe(`${kind} backend`, () => {
      let data: Data;
      before(async () => {
        data = await dataBackend(kind);
      });
      after(async () => {
        await data.close();
      });

      test("every finished call gets exactly one Zoho record, linked to the click's record or the phone match", async () => {
        await exactlyOnce(data, [await setupOrg(data.backend, zoho.config(), { crmUserId: 'zu-1' })]);
      });

      test('a permanent error fails the job with the reason; it is listed, and a retry after the fix logs it once', async () => {
        const { orgId, userId } = await setupOrg(data.backend, zoho.config(), { crmUserId: `zu-${kind}-new` });
        const call = await finishedCall(data.backend, orgId, userId);
        const p = await pipelineOn(data);
        zoho.knownUsers = new Set(['zu-1']);
        try {
          p.start(2);
          await p.queue.enqueue(orgId, call.id);
          await waitFor(async () => (await p.queue.listFailed(orgId)).length === 1, 'listed as failed');
          const [failed] = await p.queue.listFailed(orgId);
          assert.equal(failed.callId, call.id);
          assert.match(failed.reason, /INVALID_DATA \(Owner\)/);
          const log = (await data.backend.calls.getCall(orgId, call.id))!.crmLog!;
          assert.equal(log.status, 'failed');
          assert.match(log.lastError!, /INVALID_DATA/);
          assert.equal(log.attempts, 1, 'a permanent error is not retried');
          assert.equal(await p.queue.retryFailed(orgId, 'no-such-call'), false);
          assert.equal(await p.queue.retryFailed('another-org', call.id), false, 'another org cannot retry it');
          zoho.knownUsers.add(`zu-${kind}-new`);
          assert.equal(await p.queue.retryFailed(orgId, call.id), true);
          await waitFor(async () => (await data.backend.calls.getCall(orgId, call.id))!.crmLog?.status === 'logged', 'logged after retry');
          assert.equal(zohoRecordsFor(call.id).length, 1);
          assert.deepEqual(await p.queue.listFailed(orgId), []);
        } finally {
          zoho.knownUsers = null;
          await p.close();
        }
      });

      test('Retry-After is honoured over the (much shorter) backoff', async () => {
        const { orgId, userId } = await setupOrg(data.backend, hook.config());
        const call = await finishedCall(data.backend, orgId, userId);
        const p = await pipelineOn(data);
        const start = hook.arrivals.length;
        // unavailable until the first try has arrived (however slow the worker is to start), so
        // the first try always meets the 503 + Retry-After and the second always succeeds
        hook.unavailableUntil = Number.MAX_SAFE_INTEGER;
        hook.retryAfterSec = 2;
        try {
          p.start(1);
          await p.queue.enqueue(orgId, call.id);
          await waitFor(() => hook.arrivals.length > start, 'first try', 30_000);
          hook.unavailableUntil = 0;
          await waitFor(async () => (await data.backend.calls.getCall(orgId, call.id))!.crmLog?.status === 'logged', 'delivered and logged', 30_000);
          const times = hook.arrivals.slice(start);
          assert.ok(times.length >= 2);
          assert.ok(times[1] - times[0] >= 1900, `second try ${times[1] - times[0]} ms after the first; Retry-After said 2 s`);
          const log = (await data.backend.calls.getCall(orgId, call.id))!.crmLog!;
          assert.equal(log.status, 'logged');
          assert.equal(log.attempts, 2);
        } finally {
          hook.unavailableUntil = 0;
          hook.retryAfterSec = undefined;
          await p.close();
        }
      });
    });
  }

  describe(`cluster backend, ${CLUSTER_SHARDS} queue shards`, () => {
    let data: Data;
    before(async () => {
      data = await dataBackend('cluster', CLUSTER_SHARDS);
    });
    after(async () => {
      await data.close();
    });

    test('every finished call of two orgs on different queue shards gets exactly one Zoho record', async () => {
      const first = await setupOrg(data.backend, zoho.config(), { crmUserId: 'zu-1' });
      let second = await setupOrg(data.backend, zoho.config(), { crmUserId: 'zu-1' });
      for (let i = 0; queueShardOf(second.orgId, CLUSTER_SHARDS) === queueShardOf(first.orgId, CLUSTER_SHARDS); i++) {
        assert.ok(i < 50, 'found an org on the other shard');
        second = await setupOrg(data.backend, zoho.config(), { crmUserId: 'zu-1' });
      }
      assert.equal(data.backend.kind, 'cluster');
      await exactlyOnce(data, [first, second]);
    });
  });

  describe('redis backend, at scale and the job itself', () => {
    let data: Data;
    before(async () => {
      data = await dataBackend('redis');
    });
    after(async () => {
      await data.close();
    });
    const deps = (): CallLogDeps => ({ calls: data.backend.calls, crm: connectors(data.backend, crmKinds), logger: silentLogger });

    test('200 calls, Zoho failing 30% of requests and dropping connections after commits: exactly 200 records', async () => {
      const { orgId, userId } = await setupOrg(data.backend, zoho.config(), { crmUserId: 'zu-1' });
      const contact = zoho.addRecord('Contacts', { Last_Name: 'Bulk', Phone: '+17185550100' });
      const p = await pipelineOn(data, { attempts: 60 });
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) {
        const c = await finishedCall(data.backend, orgId, userId, i % 2 ? { customer: '+17185550100' } : { customer: '+17185550100', crmRecord: { module: 'Contacts', id: contact.id } });
        ids.push(c.id);
      }
      zoho.failRate = 0.3;
      zoho.failStatuses = [{ status: 503 }, { status: 429, retryAfterSec: 0 }, { status: 500 }];
      zoho.dropAfterCommitRate = 0.15;
      const dropped = zoho.droppedAfterCommit;
      try {
        p.start(10);
        for (const id of ids) await p.queue.enqueue(orgId, id);
        await waitFor(async () => (await crmLogs(data.backend, orgId, ids)).every((l) => l?.status === 'logged'), 'all 200 logged', 120_000, 200);
      } finally {
        zoho.failRate = 0;
        zoho.dropAfterCommitRate = 0;
        await p.close();
      }
      const counts = ids.map((id) => zohoRecordsFor(id).length);
      assert.equal(counts.filter((n) => n === 1).length, 200, `records per call: ${JSON.stringify(counts.filter((n) => n !== 1))}`);
      assert.ok(zoho.droppedAfterCommit - dropped > 0, 'some commits lost their answer');
      assert.ok(zoho.injectedFailures > 0);
      for (const id of ids) assert.deepEqual(zohoRecordsFor(id)[0].Who_Id, { id: contact.id });
    });

    test('200 calls to the webhook CRM failing 30% and dropping after commit: 200 deliveries, one per key', async () => {
      const { orgId, userId } = await setupOrg(data.backend, hook.config());
      const p = await pipelineOn(data, { attempts: 60 });
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) ids.push((await finishedCall(data.backend, orgId, userId)).id);
      hook.failRate = 0.3;
      hook.dropAfterCommitRate = 0.15;
      try {
        p.start(10);
        for (const id of ids) await p.queue.enqueue(orgId, id);
        await waitFor(async () => (await crmLogs(data.backend, orgId, ids)).every((l) => l?.status === 'logged'), 'all 200 delivered', 120_000, 200);
      } finally {
        hook.failRate = 0;
        hook.dropAfterCommitRate = 0;
        await p.close();
      }
      assert.equal(ids.filter((id) => hook.deliveries.has(id)).length, 200);
      assert.ok(hook.duplicates > 0, 'redeliveries happened and were deduped by Idempotency-Key');
    });

    test('no CRM configured: crmLog skipped; PhoneBridge: skipped, callnotify sent, no Calls insert', async () => {
      const { orgId, userId } = await setupOrg(data.backend, null);
      const c1 = await finishedCall(data.backend, orgId, userId);
      assert.equal(await processCallLog(deps(), { orgId, callId: c1.id, attempt: 1, maxAttempts: 1 }), 'no_crm');
      assert.equal((await data.backend.calls.getCall(orgId, c1.id))!.crmLog!.status, 'skipped');

      const pb = await setupOrg(data.backend, zoho.config({ mode: 'phonebridge' }), { crmUserId: 'zu-1' });
      const c2 = await finishedCall(data.backend, pb.orgId, pb.userId, { direction: 'inbound', outcome: 'no-answer' });
      const before = zoho.calls().length;
      assert.equal(await processCallLog(deps(), { orgId: pb.orgId, callId: c2.id, attempt: 1, maxAttempts: 1 }), 'skipped');
      assert.equal((await data.backend.calls.getCall(pb.orgId, c2.id))!.crmLog!.status, 'skipped');
      assert.equal(zoho.calls().length, before);
      assert.deepEqual(zoho.callnotifies.filter((n) => n.id === c2.id).map((n) => n.state), ['missed']);
    });

    test('a run after a crash mid-write (attempt recorded, queue attempt 1) looks before inserting', async () => {
      const { orgId, userId } = await setupOrg(data.backend, zoho.config());
      const call = await finishedCall(data.backend, orgId, userId);
      const job = { orgId, callId: call.id, attempt: 1, maxAttempts: 5 };
      zoho.dropNextCommits = 1;
      await assert.rejects(processCallLog(deps(), job));
      const mid = (await data.backend.calls.getCall(orgId, call.id))!.crmLog!;
      assert.deepEqual([mid.status, mid.attempts], ['pending', 1]);
      assert.match(mid.lastError!, /^zoho insert Calls: network error/);
      // BullMQ does not count a stalled run as an attempt: the recorded attempts make it look anyway
      assert.equal(await processCallLog(deps(), job), 'already_logged');
      assert.equal(zohoRecordsFor(call.id).length, 1);
      assert.equal(await processCallLog(deps(), job), 'done_before');
    });

    test('metrics: logs by CRM and outcome, latency, queue depth on the given registry', async () => {
      const { orgId, userId } = await setupOrg(data.backend, hook.config());
      const p = await pipelineOn(data);
      const { registry } = p;
      try {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await finishedCall(data.backend, orgId, userId)).id);
        for (const id of ids) await p.queue.enqueue(orgId, id);
        const depthText = await registry.getSingleMetricAsString('dialgate_crm_queue_depth');
        assert.match(depthText, /dialgate_crm_queue_depth 3/);
        p.start(2);
        await waitFor(async () => (await crmLogs(data.backend, orgId, ids)).every((l) => l?.status === 'logged'), 'logged');
        const text = await registry.metrics();
        assert.match(text, /dialgate_crm_logs_total\{crm="webhook",outcome="logged"\} 3/);
        assert.match(text, /dialgate_crm_log_duration_seconds_count\{crm="webhook"\} 3/);
        await waitFor(async () => /dialgate_crm_queue_depth 0/.test(await registry.getSingleMetricAsString('dialgate_crm_queue_depth')), 'depth back to 0', 10_000);
        assert.equal(callLogMetrics(registry), callLogMetrics(registry), 'one set per registry');
      } finally {
        await p.close();
      }
    });
  });
});
