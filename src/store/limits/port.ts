// Token buckets outside the click (whose limits the call script takes with the call): a provider's
// calls-per-second budget, shared by every instance; and the sweep of buckets that have refilled.

import type { Bucket, LimitResult } from '../../domain/limits.js';

export interface LimitStore {
  /** Takes one token of every bucket, or none when one is empty (a refusal consumes nothing). */
  take(orgId: string, buckets: Bucket[]): Promise<LimitResult>;
  /** Drops buckets that are full again (they hold nothing a fresh bucket would not); returns how many. */
  sweep(orgId: string): Promise<number>;
}
