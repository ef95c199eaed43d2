// The call-log queue: one job per finished call (the job id is derived from org and call id, so a
// call enqueued twice is logged once). Two implementations with the same retry semantics: BullMQ
// on Redis (production; workers may run in other processes) and an in-process queue (local mode).

export interface CallLogJob {
  orgId: string;
  callId: string;
  /** 1 on the first run; counts the runs that ended in an error (decides when to give up) */
  attempt: number;
  maxAttempts: number;
  /** runs started, this one included, crashed ones too (decides whether to look before writing) */
  started?: number;
}

/** Runs one job; throws to retry (CrmError.retryable) or fail it (any non-retryable CrmError). */
export type CallLogProcessor = (job: CallLogJob) => Promise<void>;

export interface FailedCallLog {
  orgId: string;
  callId: string;
  reason: string;
  attempts: number;
  failedAt: string | null;
}

export interface CallLogQueue {
  enqueue(orgId: string, callId: string): Promise<void>;
  startWorker(concurrency: number): void;
  /** jobs waiting, delayed for a retry, or running */
  depth(): Promise<number>;
  /** call logs that ended failed (permanent error or retries exhausted), newest first */
  listFailed(orgId: string): Promise<FailedCallLog[]>;
  /** puts a failed log back on the queue; false when there is no failed log for that call */
  retryFailed(orgId: string, callId: string): Promise<boolean>;
  close(): Promise<void>;
}

export { DEFAULT_RETRY, retryPolicy, isPermanent, retryDelayMs, callLogJobId, type RetryPolicy } from './call-log-policy.js';
export { BullCallLogQueue, type BullCallLogQueueOptions } from './bull-call-log-queue.js';
export { LocalCallLogQueue, type LocalCallLogQueueOptions } from './local-call-log-queue.js';
