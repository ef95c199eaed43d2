// BullMQ implementation of the call-log queue. Keys live under a hash-tagged prefix
// (`{dialgate}` by default) so every key of the queue maps to one Redis Cluster slot, as BullMQ's
// Lua scripts require. A worker killed mid-job loses nothing: its lock lapses and the stalled-job
// check hands the job to another worker, whose CRM write looks before writing again.

import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CallLogProcessor, CallLogQueue, FailedCallLog } from './call-log-queue.js';
import { callLogJobId, isPermanent, retryDelayMs, retryPolicy, type RetryPolicy } from './call-log-policy.js';
import { closeBullParts } from './bounded-close.js';

export interface BullCallLogQueueOptions {
  /** a Redis URL (a connection is opened and closed by the queue) or an ioredis client (left open) */
  connection: string | Redis;
  processor?: CallLogProcessor;
  /** default `{dialgate}`: hash-tagged for Redis Cluster */
  prefix?: string;
  name?: string;
  retry?: Partial<RetryPolicy>;
  /** how long a running job stays owned by its worker without a lock renewal (default 30 s) */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** times a job may stall (its worker died) before it is failed; default 10 */
  maxStalledCount?: number;
  logger?: Logger;
  /**
   * Records crmLog {pending, attempts 0} on the call as its job is added, sent beside the add
   * rather than after it. Must never overwrite a state a worker has written (a duplicate enqueue
   * of a logged call): use a store's conditional write. A failure is logged, never thrown.
   */
  markPending?: (orgId: string, callId: string) => Promise<unknown>;
}

interface JobData {
  orgId: string;
  callId: string;
  enqueuedAt: number;
}

const BACKOFF_TYPE = 'dialgate';

export class BullCallLogQueue implements CallLogQueue {
  readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | null = null;
  private readonly conn: Redis;
  private readonly ownsConn: boolean;
  private readonly policy: RetryPolicy;
  private readonly prefix: string;
  private readonly name: string;

  constructor(private readonly opts: BullCallLogQueueOptions) {
    this.ownsConn = typeof opts.connection === 'string';
    // BullMQ needs maxRetriesPerRequest null so blocking commands survive reconnects
    this.conn = typeof opts.connection === 'string' ? new Redis(opts.connection, { maxRetriesPerRequest: null }) : opts.connection;
    this.policy = retryPolicy(opts.retry);
    this.prefix = opts.prefix ?? '{dialgate}';
    this.name = opts.name ?? 'call-log';
    this.queue = new Queue<JobData>(this.name, { connection: this.conn, prefix: this.prefix });
    this.queue.on('error', (e) => opts.logger?.warn({ err: e.message }, 'call-log queue error'));
  }

  async enqueue(orgId: string, callId: string): Promise<void> {
    const mark = this.opts.markPending?.(orgId, callId).catch((e: Error) =>
      this.opts.logger?.warn({ orgId, callId, err: e.name }, 'could not mark the call log pending'),
    );
    const add = this.queue.add(
      'call-log',
      { orgId, callId, enqueuedAt: Date.now() },
      {
        jobId: callLogJobId(orgId, callId),
        attempts: this.policy.attempts,
        backoff: { type: BACKOFF_TYPE },
        // kept a day after success so a late duplicate enqueue is still recognised
        removeOnComplete: { age: 86_400, count: 100_000 },
        removeOnFail: { age: 30 * 86_400 },
      },
    );
    await Promise.all([add, mark]);
  }

  startWorker(concurrency: number): void {
    if (this.worker) return;
    const processor = this.opts.processor;
    if (!processor) throw new Error('BullCallLogQueue: no processor given');
    this.worker = new Worker<JobData>(
      this.name,
      async (job: Job<JobData>) => {
        try {
          await processor({
            orgId: job.data.orgId,
            callId: job.data.callId,
            attempt: job.attemptsMade + 1,
            // attemptsStarted also counts runs whose worker died (stalled jobs), which attemptsMade does not
            started: Math.max(job.attemptsMade + 1, job.attemptsStarted ?? 0),
            maxAttempts: job.opts.attempts ?? this.policy.attempts,
          });
        } catch (e) {
          if (isPermanent(e)) throw new UnrecoverableError((e as Error).message);
          throw e;
        }
      },
      {
        connection: this.conn,
        prefix: this.prefix,
        concurrency: Math.max(1, concurrency),
        lockDuration: this.opts.lockDurationMs ?? 30_000,
        stalledInterval: this.opts.stalledIntervalMs ?? this.opts.lockDurationMs ?? 30_000,
        maxStalledCount: this.opts.maxStalledCount ?? 10,
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => retryDelayMs(this.policy, attemptsMade, err),
        },
      },
    );
    // an 'error' event without a listener would crash the process
    this.worker.on('error', (e) => this.opts.logger?.warn({ err: e.message }, 'call-log worker error'));
    this.worker.on('failed', (job, e) => {
      if (job && (isPermanent(e) || e instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1))) {
        this.opts.logger?.warn({ orgId: job.data.orgId, callId: job.data.callId, reason: e.message }, 'call log failed');
      }
    });
  }

  async depth(): Promise<number> {
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async listFailed(orgId: string): Promise<FailedCallLog[]> {
    const out: FailedCallLog[] = [];
    const page = 500;
    for (let start = 0; ; start += page) {
      const jobs = await this.queue.getFailed(start, start + page - 1);
      for (const j of jobs) {
        const job = j as Job<JobData>;
        if (!job?.data || job.data.orgId !== orgId) continue;
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
    const job = (await this.queue.getJob(callLogJobId(orgId, callId))) as Job<JobData> | undefined;
    if (!job || job.data.orgId !== orgId) return false;
    if ((await job.getState()) !== 'failed') return false;
    // attemptsStarted is kept, so the retried run still looks before writing
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: false });
    return true;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    // a CRM write in hand gets up to 10 s to finish (npm run worker drains on SIGTERM)
    await closeBullParts({ worker, queue: this.queue, conn: this.ownsConn ? this.conn : undefined }, 10_000);
  }
}
