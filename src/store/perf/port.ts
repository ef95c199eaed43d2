// Where the live per-provider figures live: per-minute counters (the 5 min and 1 h windows) and
// hourly rollups written alongside them (the 24 h window), per org and provider, plus all-time
// totals per trial. Every instance sees the same numbers.
//
// record() is for the call path: it never awaits and never throws; a failed write is logged.

import type { Counters, PerfSample } from '../../perf/codec.js';

export const PERF_WINDOWS = ['5m', '1h', '24h'] as const;
export type PerfWindow = (typeof PERF_WINDOWS)[number];

/** how long a trial's figures (and its progress) are kept */
export const TRIAL_TTL_SEC = 7 * 86_400;
export const MINUTE_TTL_SEC = 2 * 3600;
export const HOUR_TTL_SEC = 25 * 3600;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;

export interface PerfStore {
  /** Adds one sample to a provider's live windows and, with trialId, to that trial's totals. */
  record(orgId: string, providerId: string, sample: PerfSample, trialId?: string, at?: number): void;
  /** Merged counters per provider over a window ending now. */
  window(orgId: string, window: PerfWindow, now?: number): Promise<Map<string, Counters>>;
  /** A trial's counters per provider. */
  trial(orgId: string, trialId: string): Promise<Map<string, Counters>>;
  /** Resolves once the writes issued so far have landed (or failed). */
  flush(): Promise<void>;
}

/**
 * The periods a window reads: the current one and those before it, so "5m" covers the last four
 * to five minutes and "24h" the last 23 to 24 hours (whole buckets, never a partial one dropped).
 */
export function periodsOf(window: PerfWindow, now: number): { unit: 'm' | 'h'; ids: number[] } {
  const [unit, n, size] = window === '5m' ? (['m', 5, MINUTE] as const) : window === '1h' ? (['m', 60, MINUTE] as const) : (['h', 24, HOUR] as const);
  const cur = Math.floor(now / size);
  return { unit, ids: Array.from({ length: n }, (_, i) => cur - i) };
}
