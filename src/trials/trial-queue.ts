// Where trial runs execute: one job per (trial, provider). With Redis, BullMQ jobs under a
// hash-tagged prefix, so a trial outlives the instance that started it: a gracefully stopped
// run goes back to the wait list for the next instance, and a crashed one is taken up again by
// BullMQ's stalled-job check. In local mode, in-process tasks with the same run function.

import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RunResult } from './trial-runner.js';
import { closeBullParts } from '../jobs/bounded-close.js';

export type PartRunner = (trialId: string, orgId: string, providerId: string, signal: AbortSignal) => Promise<RunResult>;

export interface TrialQueue {
  start(orgId: string, trialId: string, providerIds: string[]): Promise<void>;
  close(): Promise<void>;
}

interface JobData {
  orgId: string;
  trialId: string;
  providerId: string;
}

/** BullMQ refuses ':' in custom job ids; ids here are [A-Za-z0-9._@-] so '|' separates safely. */
export function trialJobId(orgId: string, trialId: string, providerId: string): string {
  return [orgId, trialId, providerId].map(encodeURIComponent).join('|');
}

export interface BullTrialQueueOptions {
  redisUrl: string;
  /** hash-tagged, e.g. `{dialgate}` */
  prefix: string;
  run: PartRunner;
  logger: Logger;
  /** trial runs one instance works on at once (they mostly wait on calls) */
  concurrency?: number;
  lockDurationMs?: number;
}

export class BullTrialQueue implements TrialQueue {
  private readonly conn: Redis;
  private readonly queue: Queue<JobData>;
  private readonly worker: Worker<JobData>;
  private readonly running = new Set<AbortController>();

  constructor(opts: BullTrialQueueOptions) {
    // BullMQ needs maxRetriesPerRequest null so its blocking commands survive reconnects
    this.conn = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, connectionName: 'dialgate-trials' });
    this.conn.on('error', () => {});
    this.queue = new Queue<JobData>('trials', { connection: this.conn, prefix: opts.prefix });
    this.queue.on('error', (e) => opts.logger.warn({ err: e.message }, 'trial queue error'));
    this.worker = new Worker<JobData>(
      'trials',
      async (job: Job<JobData>, token?: string) => {
        const ac = new AbortController();
        this.running.add(ac);
        try {
          const r = await opts.run(job.data.trialId, job.data.orgId, job.data.providerId, ac.signal);
          if (r === 'interrupted') {
            // back to the wait list without spending an attempt: the next instance resumes it
            await job.moveToWait(token);
            throw new WaitingError();
          }
        } finally {
          this.running.delete(ac);
        }
      },
      {
        connection: this.conn,
        prefix: opts.prefix,
        concurrency: opts.concurrency ?? 50,
        lockDuration: opts.lockDurationMs ?? 30_000,
        maxStalledCount: 100,
      },
    );
    this.worker.on('error', (e) => opts.logger.warn({ err: e.message }, 'trial worker error'));
    this.worker.on('failed', (job, e) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) opts.logger.error({ trialId: job.data.trialId, err: e.message }, 'trial run failed');
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
    await closeBullParts({ worker: this.worker, queue: this.queue, conn: this.conn });
  }
}

/** Local mode: the runs are tasks of this process (a restart loses them, like all local data). */
export class LocalTrialQueue implements TrialQueue {
  private readonly running = new Map<Promise<void>, AbortController>();
  private closed = false;

  constructor(
    private readonly run: PartRunner,
    private readonly logger: Logger,
    private readonly retryDelayMs = 2000,
  ) {}

  async start(orgId: string, trialId: string, providerIds: string[]): Promise<void> {
    for (const providerId of providerIds) {
      const ac = new AbortController();
      const task = (async () => {
        for (let attempt = 1; !this.closed; attempt++) {
          try {
            await this.run(trialId, orgId, providerId, ac.signal);
            return;
          } catch (e) {
            this.logger.warn({ trialId, attempt, err: (e as Error).message }, 'trial run failed; retrying');
            if (attempt >= 8) return;
            await new Promise<void>((r) => {
              const t = setTimeout(r, this.retryDelayMs * attempt);
              ac.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
            });
          }
        }
      })();
      this.running.set(task, ac);
      void task.finally(() => this.running.delete(task));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ac of this.running.values()) ac.abort();
    await Promise.allSettled([...this.running.keys()]);
  }
}
