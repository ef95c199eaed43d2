// In-process call-log queue for local mode: the same dedupe (one job per call), retry policy
// (exponential backoff with jitter, Retry-After, permanent errors fail at once) and failed list
// as the BullMQ queue, with timers instead of Redis. Nothing survives a restart: local mode is
// for demos, not production.

import type { Logger } from 'pino';
import type { CallLogProcessor, CallLogQueue, FailedCallLog } from './call-log-queue.js';
import { callLogJobId, isPermanent, retryDelayMs, retryPolicy, type RetryPolicy } from './call-log-policy.js';

export interface LocalCallLogQueueOptions {
  processor?: CallLogProcessor;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** how many finished job ids are remembered for dedupe */
  rememberCompleted?: number;
  /**
   * Records crmLog {pending, attempts 0} on the call before its job can start (the job id is
   * reserved first, so no worker of this queue writes that call's crmLog meanwhile). Must leave an
   * existing crmLog alone. A failure is logged, never thrown.
   */
  markPending?: (orgId: string, callId: string) => Promise<unknown>;
}

interface LocalJob {
  orgId: string;
  callId: string;
  attemptsMade: number;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';
  timer?: NodeJS.Timeout;
  reason?: string;
  failedAt?: string;
}

export class LocalCallLogQueue implements CallLogQueue {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly waiting: string[] = [];
  private readonly completed: string[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly policy: RetryPolicy;
  private concurrency = 0;
  private active = 0;
  private closed = false;

  constructor(private readonly opts: LocalCallLogQueueOptions = {}) {
    this.policy = retryPolicy(opts.retry);
  }

  async enqueue(orgId: string, callId: string): Promise<void> {
    if (this.closed) throw new Error('call-log queue is closed');
    const id = callLogJobId(orgId, callId);
    if (this.jobs.has(id)) return;
    const job: LocalJob = { orgId, callId, attemptsMade: 0, state: 'waiting' };
    this.jobs.set(id, job);
    if (this.opts.markPending) {
      await this.opts.markPending(orgId, callId).catch((e: Error) =>
        this.opts.logger?.warn({ orgId, callId, err: e.name }, 'could not mark the call log pending'),
      );
      if (this.closed) return;
    }
    this.waiting.push(id);
    this.pump();
  }

  startWorker(concurrency: number): void {
    if (!this.opts.processor) throw new Error('LocalCallLogQueue: no processor given');
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
      .filter((j) => j.state === 'failed' && j.orgId === orgId)
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
    while (!this.closed && this.active < this.concurrency && this.waiting.length > 0) {
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
      await this.opts.processor!({ orgId: job.orgId, callId: job.callId, attempt: job.attemptsMade + 1, maxAttempts: this.policy.attempts });
      job.attemptsMade++;
      job.state = 'completed';
      this.remember(id);
    } catch (e) {
      job.attemptsMade++;
      if (isPermanent(e) || job.attemptsMade >= this.policy.attempts) {
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
      }, retryDelayMs(this.policy, job.attemptsMade, e));
    }
  }

  private remember(id: string): void {
    this.completed.push(id);
    const max = this.opts.rememberCompleted ?? 100_000;
    while (this.completed.length > max) {
      const old = this.completed.shift()!;
      if (this.jobs.get(old)?.state === 'completed') this.jobs.delete(old);
    }
  }
}
