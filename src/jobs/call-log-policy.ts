// The call-log jobs' retry policy: how many runs, how long between them, which errors are final.

import { CrmError } from '../crm/adapter.js';

export interface RetryPolicy {
  /** total runs, the first included */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** a CRM's Retry-After is honoured up to this much */
  maxRetryAfterMs: number;
}

// ~1 s doubling to 5 min: 12 runs span about 20 minutes, longer than a typical CRM blip
export const DEFAULT_RETRY: RetryPolicy = { attempts: 12, baseDelayMs: 1000, maxDelayMs: 300_000, maxRetryAfterMs: 3_600_000 };

export function retryPolicy(p?: Partial<RetryPolicy>): RetryPolicy {
  return { ...DEFAULT_RETRY, ...(p ?? {}) };
}

/** A permanent failure: retrying cannot help (the CRM refused the data, or the config is wrong). */
export function isPermanent(err: unknown): boolean {
  return err instanceof CrmError && !err.retryable;
}

/**
 * The wait before run `attemptsMade + 1`: exponential with jitter (between half and all of the
 * doubled delay, so a fleet of workers spreads out after an outage), never shorter than the
 * CRM's Retry-After.
 */
export function retryDelayMs(policy: RetryPolicy, attemptsMade: number, err: unknown, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(ceiling / 2 + (random() * ceiling) / 2);
  const after = err instanceof CrmError && err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, policy.maxRetryAfterMs) : 0;
  return Math.max(jittered, after);
}
