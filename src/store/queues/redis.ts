// The queues on Redis: BullMQ. Each queue's keys live under a hash-tagged prefix, so every key of
// one queue maps to one Redis Cluster slot, as BullMQ's Lua scripts require. Call-log jobs are
// spread over DIALGATE_QUEUE_SHARDS queues (an org always on the same one, so job id = call id
// still means one log), each its own tag, so the call-log load is not pinned to one master.
// A worker killed mid-job loses nothing: its lock lapses and BullMQ's stalled-job check hands
// the job to another worker, whose CRM write looks before writing again.

import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { callLogJobId, logUpdateJobId, queueShardOf, queueShardPrefix, trialJobId } from '../keys.js';
import type { Client, RedisConn } from '../redis/connection.js';
import { closeBullParts } from './bounded-close.js';
import type { CallLogProcessor, CallLogQueue, CallLogQueueOptions, FailedCallLog, LogUpdateRef, PartRunner, QueueFactory, TrialQueue } from './port.js';

interface JobData {
  orgId: string;
  callId: string;
  enqueuedAt: number;
  update?: LogUpdateRef;
}

const BACKOFF_TYPE = 'dialgate';
const QUEUE_NAME = 'call-log';

/** One shard: a BullMQ queue and, when this process runs jobs, its worker. */
class Shard {
  readonly queue: Queue<JobData>;
  worker: Worker<JobData> | null = null;

  constructor(
    readonly prefix: string,
    private readonly conn: Client,
    private readonly opts: CallLogQueueOptions,
  ) {
    this.queue = new Queue<JobData>(QUEUE_NAME, { connection: conn, prefix });
    this.queue.on('error', (e) => opts.logger.warn({ err: e.message }, 'call-log queue error'));
  }

  start(processor: CallLogProcessor, concurrency: number): void {
    if (this.worker) return;
    const { opts } = this;
    this.worker = new Worker<JobData>(
      QUEUE_NAME,
      async (job: Job<JobData>) => {
        try {
          await processor({
            orgId: job.data.orgId,
            callId: job.data.callId,
            attempt: job.attemptsMade + 1,
            // attemptsStarted also counts runs whose worker died (stalled jobs), which attemptsMade does not
            started: Math.max(job.attemptsMade + 1, job.attemptsStarted ?? 0),
            maxAttempts: job.opts.attempts ?? opts.attempts,
            ...(job.data.update ? { update: job.data.update } : {}),
          });
        } catch (e) {
          if (opts.isPermanent(e)) throw new UnrecoverableError((e as Error).message);
          throw e;
        }
      },
      {
        connection: this.conn,
        prefix: this.prefix,
        concurrency: Math.max(1, concurrency),
        lockDuration: opts.lockDurationMs ?? 30_000,
        stalledInterval: opts.stalledIntervalMs ?? opts.lockDurationMs ?? 30_000,
        maxStalledCount: opts.maxStalledCount ?? 10,
        settings: { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => opts.retryDelay(attemptsMade, err) },
      },
    );
    // an 'error' event without a listener would crash the process
    this.worker.on('error', (e) => opts.logger.warn({ err: e.message }, 'call-log worker error'));
    this.worker.on('failed', (job, e) => {
      if (job && (opts.isPermanent(e) || e instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1))) {
        opts.logger.warn({ orgId: job.data.orgId, callId: job.data.callId, reason: e.message }, 'call log failed');
      }
    });
  }
}

export class BullCallLogQueue implements CallLogQueue {
  private readonly shards: Shard[];

  constructor(
    private readonly conn: Client,
    basePrefix: string,
    shards: number,
    private readonly opts: CallLogQueueOptions,
  ) {
    const n = Math.max(1, shards);
    this.shards = Array.from({ length: n }, (_, i) => new Shard(queueShardPrefix(basePrefix, i, n), conn, opts));
  }

  private shardOf(orgId: string): Shard {
    return this.shards[queueShardOf(orgId, this.shards.length)];
  }

  async enqueue(orgId: string, callId: string, update?: LogUpdateRef): Promise<void> {
    await this.shardOf(orgId).queue.add(
      update ? 'call-log-update' : 'call-log',
      { orgId, callId, enqueuedAt: Date.now(), ...(update ? { update } : {}) },
      {
        jobId: update ? logUpdateJobId(orgId, callId, update.group, update.n) : callLogJobId(orgId, callId),
        attempts: this.opts.attempts,
        backoff: { type: BACKOFF_TYPE },
        // a finished job goes at once: the call itself records that its log is settled, so a
        // late duplicate enqueue finds crmLog logged and does nothing (and retention can purge)
        removeOnComplete: true,
        removeOnFail: { age: 30 * 86_400 },
      },
    );
  }

  startWorker(processor: CallLogProcessor, concurrency: number): void {
    for (const s of this.shards) s.start(processor, concurrency);
  }

  async depth(): Promise<number> {
    const counts = await Promise.all(this.shards.map((s) => s.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')));
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  }

  async listFailed(orgId: string): Promise<FailedCallLog[]> {
    const out: FailedCallLog[] = [];
    const page = 500;
    const queue = this.shardOf(orgId).queue;
    for (let start = 0; ; start += page) {
      const jobs = await queue.getFailed(start, start + page - 1);
      for (const j of jobs) {
        const job = j as Job<JobData>;
        // a failed update is retried with its log (which folds it in or sends it again)
        if (!job?.data || job.data.orgId !== orgId || job.data.update) continue;
        out.push({
          orgId,
          callId: job.data.callId,
          reason: job.failedReason ?? 'failed',
          attempts: job.attemptsMade,
          failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        });
      }
      if (jobs.length < page) break;
    }
    return out;
  }

  async retryFailed(orgId: string, callId: string): Promise<boolean> {
    const job = (await this.shardOf(orgId).queue.getJob(callLogJobId(orgId, callId))) as Job<JobData> | undefined;
    if (!job || job.data.orgId !== orgId) return false;
    if ((await job.getState()) !== 'failed') return false;
    // attemptsStarted is kept, so the retried run still looks before writing
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: false });
    return true;
  }

  async close(): Promise<void> {
    // a CRM write in hand gets up to 10 s to finish (npm run worker drains on SIGTERM)
    await Promise.all(
      this.shards.map((s) => {
        const worker = s.worker;
        s.worker = null;
        return closeBullParts({ worker, queue: s.queue }, 10_000);
      }),
    );
  }
}

export class BullTrialQueue implements TrialQueue {
  private readonly queue: Queue<{ orgId: string; trialId: string; providerId: string }>;
  private readonly worker: Worker<{ orgId: string; trialId: string; providerId: string }>;
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly conn: Client,
    prefix: string,
    run: PartRunner,
    opts: { logger: Logger; concurrency?: number; lockDurationMs?: number },
  ) {
    const { logger } = opts;
    this.queue = new Queue('trials', { connection: conn, prefix });
    this.queue.on('error', (e) => logger.warn({ err: e.message }, 'trial queue error'));
    this.worker = new Worker(
      'trials',
      async (job, token?: string) => {
        const ac = new AbortController();
        this.running.add(ac);
        try {
          const r = await run(job.data.trialId, job.data.orgId, job.data.providerId, ac.signal);
          if (r === 'interrupted') {
            // back to the wait list without spending an attempt: the next instance resumes it
            await job.moveToWait(token);
            throw new WaitingError();
          }
        } finally {
          this.running.delete(ac);
        }
      },
      { connection: conn, prefix, concurrency: opts.concurrency ?? 50, lockDuration: opts.lockDurationMs ?? 30_000, maxStalledCount: 100 },
    );
    this.worker.on('error', (e) => logger.warn({ err: e.message }, 'trial worker error'));
    this.worker.on('failed', (job, e) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) logger.error({ trialId: job.data.trialId, err: e.message }, 'trial run failed');
    });
  }

  async start(orgId: string, trialId: string, providerIds: string[]): Promise<void> {
    await this.queue.addBulk(
      providerIds.map((providerId) => ({
        name: 'trial-run',
        data: { orgId, trialId, providerId },
        opts: {
          jobId: trialJobId(orgId, trialId, providerId),
          // a store outage mid-run: the run resumes from what the trial store recorded
          attempts: 8,
          backoff: { type: 'exponential', delay: 2000 },
          removeOnComplete: { age: 86_400 },
          removeOnFail: { age: 7 * 86_400 },
        },
      })),
    );
  }

  async close(): Promise<void> {
    for (const ac of this.running) ac.abort();
    await closeBullParts({ worker: this.worker, queue: this.queue });
  }
}

export class RedisQueues implements QueueFactory {
  constructor(
    private readonly conn: RedisConn,
    private readonly prefix: string,
    private readonly shards: number,
  ) {}

  callLog(opts: CallLogQueueOptions): CallLogQueue {
    return new BullCallLogQueue(this.conn.open('queue', 'call-log'), this.prefix, this.shards, opts);
  }

  trials(run: PartRunner, opts: { logger: Logger; concurrency?: number; lockDurationMs?: number }): TrialQueue {
    return new BullTrialQueue(this.conn.open('queue', 'trials'), this.prefix, run, opts);
  }
}
