// Call limits shared by every gateway instance: token buckets (per user, per org, per destination,
// per provider) and the per-user live-call cap, checked and consumed in ONE Lua script so two
// instances can never both take the last token. A refused check consumes nothing. A
// click-to-call's limits are taken by the store as it creates the call (Store.createCall with an
// admission); this limiter takes the rest (a provider's calls-per-second) and frees live slots.

import type { Redis } from 'ioredis';
import { admissionWire, refusedBy, ADMITTED, type Bucket, type LimitResult, type LiveCap } from '../domain/limits.js';
import { luaScripts } from '../store/redis/scripts.js';
import type { MemoryLimits } from '../store/memory/memory-limits.js';


export interface RateLimiter {
  take(buckets: Bucket[], cap?: LiveCap): Promise<LimitResult>;
  /** frees a live-call slot when the call ends */
  release(capKey: string, member: string): Promise<void>;
  /** waits for a token of a single bucket (provider calls-per-second), up to maxWaitMs */
  acquire(bucket: Bucket, maxWaitMs: number): Promise<boolean>;
}

/** Waits for one token, sleeping as long as the bucket says, until maxWaitMs. */
async function acquireBucket(limiter: RateLimiter, bucket: Bucket, maxWaitMs: number): Promise<boolean> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const r = await limiter.take([bucket]);
    if (r.ok) return true;
    const wait = Math.min(r.retryAfterMs, deadline - Date.now());
    if (wait <= 0) return false;
    await new Promise((res) => setTimeout(res, wait));
  }
}

export class RedisRateLimiter implements RateLimiter {
  private readonly script = luaScripts().get('take_limits')!;

  constructor(private readonly redis: Redis) {}

  async take(buckets: Bucket[], cap?: LiveCap): Promise<LimitResult> {
    const admission = { buckets, cap };
    const { keys, args } = admissionWire(admission, Date.now());
    const r = (await this.script.run(this.redis, keys, args)) as number[];
    return r[0] === 1 ? ADMITTED : refusedBy(admission, r[1], r[2]);
  }

  async release(capKey: string, member: string): Promise<void> {
    await this.redis.zrem(capKey, member);
  }

  acquire(bucket: Bucket, maxWaitMs: number): Promise<boolean> {
    return acquireBucket(this, bucket, maxWaitMs);
  }
}

/** Local mode: the same rules in process, on the memory store's limits. */
export class MemoryRateLimiter implements RateLimiter {
  constructor(private readonly limits: MemoryLimits) {}

  async take(buckets: Bucket[], cap?: LiveCap): Promise<LimitResult> {
    return this.limits.take({ buckets, cap });
  }

  async release(capKey: string, member: string): Promise<void> {
    this.limits.release(capKey, member);
  }

  acquire(bucket: Bucket, maxWaitMs: number): Promise<boolean> {
    return acquireBucket(this, bucket, maxWaitMs);
  }
}
