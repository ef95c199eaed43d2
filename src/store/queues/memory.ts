// The queues in local mode. The call-log queue has the same dedupe (one job per call while it
// waits, runs or has failed; a finished job is forgotten, as BullMQ's removeOnComplete does, so a
// later enqueue runs again and finds the call's log settled), retry (the caller's delays:
// exponential backoff with jitter, Retry-After; permanent errors fail at once) and failed list as
// the BullMQ queue, with timers instead of Redis; trial runs are tasks of this process. Nothing
// survives a restart: local mode is for demos, not production.

import type { Logger } from 'pino';
import { callLogJobId, logUpdateJobId } from '../keys.js';
import type { CallLogProcessor, CallLogQueue, CallLogQueueOptions, FailedCallLog, LogUpdateRef, PartRunner, QueueFactory, TrialQueue } from './port.js';

interface LocalJob {
  orgId: string;
  callId: string;
  update?: LogUpdateRef;
  attemptsMade: number;
  state: 'waiting' | 'delayed' | 'active' | 'failed';
  timer?: NodeJS.Timeout;
  reason?: string;
  failedAt?: string;
}

export class LocalCallLogQueue implements CallLogQueue {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly waiting: string[] = [];
  private readonly running = new Set<Promise<void>>();
  private processor?: CallLogProcessor;
  private concurrency = 0;
  private active = 0;
  private closed = false;

  constructor(private readonly opts: CallLogQueueOptions) {}

  async enqueue(orgId: string, callId: string, update?: LogUpdateRef): Promise<void> {
    if (this.closed) throw new Error('call-log queue is closed');
    const id = update ? logUpdateJobId(orgId, callId, update.group, update.n) : callLogJobId(orgId, callId);
    if (this.jobs.has(id)) return;
    const job: LocalJob = { orgId, callId, attemptsMade: 0, state: 'waiting', ...(update ? { update } : {}) };
    this.jobs.set(id, job);
    this.waiting.push(id);
    this.pump();
  }

  startWorker(processor: CallLogProcessor, concurrency: number): void {
    this.processor = processor;
    this.concurrency = Math.max(1, concurrency);
    this.pump();
  }

  async depth(): Promise<number> {
    let n = 0;
    for (const j of this.jobs.values()) if (j.state === 'waiting' || j.state === 'delayed' || j.state === 'active') n++;
    return n;
  }

  async listFailed(orgId: string): Promise<FailedCallLog[]> {
    return [...this.jobs.values()]
      .filter((j) => j.state === 'failed' && j.orgId === orgId && !j.update)
      .map((j) => ({ orgId, callId: j.callId, reason: j.reason ?? 'failed', attempts: j.attemptsMade, failedAt: j.failedAt ?? null }))
      .reverse();
  }

  async retryFailed(orgId: string, callId: string): Promise<boolean> {
    const id = callLogJobId(orgId, callId);
    const job = this.jobs.get(id);
    if (!job || job.state !== 'failed') return false;
    job.state = 'waiting';
    job.attemptsMade = 0;
    job.reason = undefined;
    this.waiting.push(id);
    this.pump();
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.jobs.values()) if (j.timer) clearTimeout(j.timer);
    await Promise.allSettled([...this.running]);
  }

  private pump(): void {
    while (!this.closed && this.processor && this.active < this.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const job = this.jobs.get(id);
      if (!job || job.state !== 'waiting') continue;
      const p = this.run(id, job).finally(() => {
        this.running.delete(p);
        this.active--;
        this.pump();
      });
      this.active++;
      this.running.add(p);
    }
  }

  private async run(id: string, job: LocalJob): Promise<void> {
    job.state = 'active';
    try {
      await this.processor!({ orgId: job.orgId, callId: job.callId, attempt: job.attemptsMade + 1, maxAttempts: this.opts.attempts, ...(job.update ? { update: job.update } : {}) });
      // done: forgotten at once (BullMQ: removeOnComplete)
      if (this.jobs.get(id) === job) this.jobs.delete(id);
    } catch (e) {
      job.attemptsMade++;
      if (this.opts.isPermanent(e) || job.attemptsMade >= this.opts.attempts) {
        job.state = 'failed';
        job.reason = (e as Error).message;
        job.failedAt = new Date().toISOString();
        this.opts.logger?.warn({ orgId: job.orgId, callId: job.callId, reason: job.reason }, 'call log failed');
        return;
      }
      if (this.closed) return;
      job.state = 'delayed';
      job.timer = setTimeout(() => {
        job.timer = undefined;
        job.state = 'waiting';
        this.waiting.push(id);
        this.pump();
      }, this.opts.retryDelay(job.attemptsMade, e));
    }
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

export class MemoryQueues implements QueueFactory {
  callLog(opts: CallLogQueueOptions): CallLogQueue {
    return new LocalCallLogQueue(opts);
  }

  trials(run: PartRunner, opts: { logger: Logger }): TrialQueue {
    return new LocalTrialQueue(run, opts.logger);
  }
}
