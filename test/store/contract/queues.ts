// QueueFactory (src/store/queues/port.ts): the call-log queue (one job per call, retries with the
// caller's delays, permanent errors failed at once, the failed list and its retry, shards by org)
// and the trial queue. Each case gets a backend of its own, so no queue sees another case's jobs.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { callLogJobId, queueShardOf, queueShardPrefix } from '../../../src/store/keys.js';
import type { CallLogJob, CallLogQueue, CallLogQueueOptions } from '../../../src/store/queues/port.js';
import { QUEUE_SHARDS, type BackendFactory } from './backends.js';
import { rid, sleep, waitFor } from './helpers.js';

class Permanent extends Error {}
const logger = pino({ level: 'silent' });

function options(over: Partial<CallLogQueueOptions> = {}): CallLogQueueOptions {
  return { attempts: 3, retryDelay: () => 50, isPermanent: (e) => e instanceof Permanent || (e as Error).name === 'UnrecoverableError', logger, ...over };
}

export function runQueuesContract(f: BackendFactory): void {
  describe('queues', () => {
    async function withQueue(opts: CallLogQueueOptions, fn: (q: CallLogQueue) => Promise<void>): Promise<void> {
      const b = await f.create();
      const q = b.queues.callLog(opts);
      try {
        await fn(q);
      } finally {
        await q.close();
      }
    }

    test('a call enqueued twice is logged once', async () => {
      await withQueue(options(), async (q) => {
        const org = rid('org');
        await q.enqueue(org, 'c1');
        await q.enqueue(org, 'c1');
        await q.enqueue(org, 'c2');
        assert.equal(await q.depth(), 2, 'two jobs wait');
        const runs: CallLogJob[] = [];
        q.startWorker(async (job) => void runs.push(job), 2);
        assert.ok(await waitFor(() => runs.length >= 2, 10_000), 'both ran');
        await sleep(200);
        assert.deepEqual(
          runs.map((r) => [r.orgId, r.callId, r.attempt, r.maxAttempts]).sort(),
          [
            [org, 'c1', 1, 3],
            [org, 'c2', 1, 3],
          ],
        );
        assert.ok(await waitFor(async () => (await q.depth()) === 0, 5000), 'nothing left waiting');
        assert.deepEqual(await q.listFailed(org), []);
        // a finished job is forgotten: the call enqueued again runs again (and finds its log settled)
        await q.enqueue(org, 'c1');
        assert.ok(await waitFor(() => runs.length === 3, 10_000), `ran again (${runs.length})`);
        assert.deepEqual([runs[2].callId, runs[2].attempt], ['c1', 1]);
      });
    });

    test('a retryable error is retried with the given delay, then succeeds', async () => {
      const delays: [number, string][] = [];
      const opts = options({
        attempts: 5,
        retryDelay: (attemptsMade, err) => {
          delays.push([attemptsMade, (err as Error).message]);
          return 150;
        },
      });
      await withQueue(opts, async (q) => {
        const org = rid('org');
        const runs: { attempt: number; at: number }[] = [];
        q.startWorker(async (job) => {
          runs.push({ attempt: job.attempt, at: Date.now() });
          if (job.attempt < 3) throw new Error(`CRM said 503 (run ${job.attempt})`);
        }, 1);
        await q.enqueue(org, 'c1');
        assert.ok(await waitFor(() => runs.length === 3, 10_000), `three runs (${runs.length})`);
        await sleep(300);
        assert.deepEqual(runs.map((r) => r.attempt), [1, 2, 3], 'no run after the success');
        assert.deepEqual(delays, [
          [1, 'CRM said 503 (run 1)'],
          [2, 'CRM said 503 (run 2)'],
        ]);
        for (let i = 1; i < runs.length; i++) assert.ok(runs[i].at - runs[i - 1].at >= 140, `run ${i + 1} waited its delay (${runs[i].at - runs[i - 1].at} ms)`);
        assert.deepEqual(await q.listFailed(org), []);
      });
    });

    test('a permanent error fails the job at once; listFailed shows it; retryFailed runs it again', async () => {
      await withQueue(options({ attempts: 5 }), async (q) => {
        const org = rid('org');
        let fail = true;
        const runs: CallLogJob[] = [];
        q.startWorker(async (job) => {
          runs.push(job);
          if (fail) throw new Permanent('CRM refused the record (400)');
        }, 1);
        const before = Date.now();
        await q.enqueue(org, 'c1');
        assert.ok(await waitFor(async () => (await q.listFailed(org)).length === 1, 10_000), 'failed');
        const [failed] = await q.listFailed(org);
        assert.deepEqual({ ...failed, failedAt: null }, { orgId: org, callId: 'c1', reason: 'CRM refused the record (400)', attempts: 1, failedAt: null });
        assert.ok(failed.failedAt && Date.parse(failed.failedAt) >= before - 1000, `failedAt ${failed.failedAt}`);
        assert.equal(runs.length, 1, 'never retried');
        assert.deepEqual(await q.listFailed(rid('org')), [], 'per org');
        assert.equal(await q.retryFailed(org, 'c9'), false, 'no such failed log');
        assert.equal(await q.retryFailed(rid('org'), 'c1'), false, "another org's call");
        fail = false;
        assert.equal(await q.retryFailed(org, 'c1'), true);
        assert.ok(await waitFor(() => runs.length === 2, 10_000), 'ran again');
        assert.equal(runs[1].attempt, 1, 'attempts start over');
        assert.ok(await waitFor(async () => (await q.listFailed(org)).length === 0, 5000));
        assert.equal(await q.retryFailed(org, 'c1'), false, 'no longer failed');
      });
    });

    test('retries exhausted: the job fails with its last error and the number of runs', async () => {
      await withQueue(options({ attempts: 2, retryDelay: () => 20 }), async (q) => {
        const org = rid('org');
        let runs = 0;
        q.startWorker(async (job) => {
          runs++;
          throw new Error(`still down (${job.attempt}/${job.maxAttempts})`);
        }, 1);
        await q.enqueue(org, 'c1');
        assert.ok(await waitFor(async () => (await q.listFailed(org)).length === 1, 10_000), 'failed');
        const [failed] = await q.listFailed(org);
        assert.deepEqual([failed.reason, failed.attempts, runs], ['still down (2/2)', 2, 2]);
        // a failed job is not enqueued again by a duplicate
        await q.enqueue(org, 'c1');
        await sleep(200);
        assert.equal(runs, 2);
        assert.equal((await q.listFailed(org)).length, 1);
      });
    });

    test('jobs of many orgs land on the shard queueShardOf names, and each runs once', async () => {
      const b = await f.create();
      const q = b.queues.callLog(options());
      try {
        const orgs = Array.from({ length: 24 }, () => rid('org'));
        const shards = new Set(orgs.map((o) => queueShardOf(o, QUEUE_SHARDS)));
        assert.equal(shards.size, QUEUE_SHARDS, 'the orgs spread over every shard');
        for (const o of orgs) await q.enqueue(o, 'c1');
        assert.equal(await q.depth(), orgs.length);
        const admin = await f.admin();
        if (admin) {
          const base = f.prefixes(b).queuePrefix;
          for (const o of orgs) {
            const shard = queueShardOf(o, QUEUE_SHARDS);
            const jobKey = (s: number) => `${queueShardPrefix(base, s, QUEUE_SHARDS)}:call-log:${callLogJobId(o, 'c1')}`;
            assert.equal(await admin.exists(jobKey(shard)), 1, `${o}'s job is on shard ${shard}`);
            assert.equal(await admin.exists(jobKey(1 - shard)), 0, `and not on the other`);
          }
        }
        const runs: string[] = [];
        q.startWorker(async (job) => void runs.push(job.orgId), 4);
        assert.ok(await waitFor(() => runs.length >= orgs.length, 10_000), `all ran (${runs.length})`);
        await sleep(200);
        assert.deepEqual(runs.sort(), [...orgs].sort());
      } finally {
        await q.close();
      }
    });

    test('the trial queue runs every part of a trial once', async () => {
      const b = await f.create();
      const ran: [string, string, string][] = [];
      const q = b.queues.trials(
        async (trialId, orgId, providerId, signal) => {
          assert.equal(signal.aborted, false);
          ran.push([trialId, orgId, providerId]);
          return 'done';
        },
        { logger },
      );
      try {
        const org = rid('org');
        const trial = rid('trl_');
        await q.start(org, trial, ['pa', 'pb', 'pc']);
        assert.ok(await waitFor(() => ran.length >= 3, 10_000), `all parts ran (${ran.length})`);
        await sleep(200);
        assert.deepEqual(ran.sort(), [
          [trial, org, 'pa'],
          [trial, org, 'pb'],
          [trial, org, 'pc'],
        ]);
      } finally {
        await q.close();
      }
    });
  });
}
