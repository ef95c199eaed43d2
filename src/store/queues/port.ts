// Durable work queues. The call-log queue: one job per finished call (the job id is derived from
// org and call id, so a call enqueued twice is logged once), spread over DIALGATE_QUEUE_SHARDS
// queues by org. The trial queue: one job per (trial, provider) run, so a trial outlives the
// instance that started it. BullMQ on Redis (workers may run in other processes); in process in
// local mode, with the same retry semantics.

import type { Logger } from 'pino';

export interface CallLogJob {
  orgId: string;
  callId: string;
  /** 1 on the first run; counts the runs that ended in an error (decides when to give up) */
  attempt: number;
  maxAttempts: number;
  /** runs started, this one included, crashed ones too (decides whether to look before writing) */
  started?: number;
  /** absent: the call's log; set: one change of a logged call (its group and count), sent once */
  update?: LogUpdateRef;
}

/** One change of a call after its log: job id and Idempotency-Key derive from it. */
export interface LogUpdateRef {
  group: string;
  n: number;
}

/** Runs one job; throws to retry (CrmError.retryable) or fail it (any non-retryable CrmError). */
export type CallLogProcessor = (job: CallLogJob) => Promise<void>;
/** Whether an error thrown by a processor is permanent (the job fails at once). */
export type PermanentTest = (err: unknown) => boolean;
/** How long to wait before run attemptsMade + 1 after err. */
export type RetryDelay = (attemptsMade: number, err: unknown) => number;

export interface FailedCallLog {
  orgId: string;
  callId: string;
  reason: string;
  attempts: number;
  failedAt: string | null;
}

export interface CallLogQueue {
  /** the call's log, or with `update` one change to send after it (one job per call and change) */
  enqueue(orgId: string, callId: string, update?: LogUpdateRef): Promise<void>;
  /** runs jobs in this process: `concurrency` at once per shard */
  startWorker(processor: CallLogProcessor, concurrency: number): void;
  /** jobs waiting, delayed for a retry, or running */
  depth(): Promise<number>;
  /** call logs that ended failed (permanent error or retries exhausted), newest first */
  listFailed(orgId: string): Promise<FailedCallLog[]>;
  /** puts a failed log back on the queue; false when there is no failed log for that call */
  retryFailed(orgId: string, callId: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface CallLogQueueOptions {
  /** total runs of a job, the first included */
  attempts: number;
  retryDelay: RetryDelay;
  isPermanent: PermanentTest;
  logger: Logger;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
}

export type TrialRunResult = 'done' | 'interrupted';
export type PartRunner = (trialId: string, orgId: string, providerId: string, signal: AbortSignal) => Promise<TrialRunResult>;

export interface TrialQueue {
  start(orgId: string, trialId: string, providerIds: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface QueueFactory {
  callLog(opts: CallLogQueueOptions): CallLogQueue;
  trials(run: PartRunner, opts: { logger: Logger; concurrency?: number; lockDurationMs?: number }): TrialQueue;
}
