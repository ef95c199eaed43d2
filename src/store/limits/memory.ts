// Local mode's limits: the rules of take_limits (src/store/redis/lua/lib.lua) in process. The
// click takes them through takeLimits, in the same synchronous step that creates the call.

import { ADMITTED, LIVE_CAP_LIMIT, type Admission, type Bucket, type LimitResult } from '../../domain/limits.js';
import { done, type MemoryData, type OrgData } from '../memory/state.js';
import type { LimitStore } from './port.js';

/** Checks every limit, then takes one of each; a refusal takes nothing. */
export function takeLimits(s: OrgData, { buckets, cap }: Admission, now: number): LimitResult {
  const next: number[] = [];
  for (const b of buckets) {
    const cur = s.buckets.get(b.id);
    const t = cur ? Math.min(b.capacity, cur.t + Math.max(0, now - cur.ts) * b.refillPerMs) : b.capacity;
    if (t < 1) return { ok: false, limit: b.name, retryAfterMs: Math.ceil((1 - t) / b.refillPerMs) };
    next.push(t);
  }
  if (cap) {
    let live = s.live.get(cap.userId);
    if ((live?.size ?? 0) >= cap.max) return { ok: false, limit: LIVE_CAP_LIMIT, retryAfterMs: 1000 };
    if (!live) s.live.set(cap.userId, (live = new Set()));
    live.add(cap.callId);
  }
  buckets.forEach((b: Bucket, i) => s.buckets.set(b.id, { t: next[i] - 1, ts: now, capacity: b.capacity, refillPerMs: b.refillPerMs }));
  return ADMITTED;
}

/** Frees a call's live slot. */
export function releaseLive(s: OrgData, userId: string, callId: string): void {
  const live = s.live.get(userId);
  if (!live) return;
  live.delete(callId);
  if (live.size === 0) s.live.delete(userId);
}

export class MemoryLimits implements LimitStore {
  constructor(private readonly data: MemoryData) {}

  take(orgId: string, buckets: Bucket[]): Promise<LimitResult> {
    return done(takeLimits(this.data.org(orgId), { buckets }, Date.now()));
  }

  sweep(orgId: string): Promise<number> {
    const s = this.data.orgs.get(orgId);
    if (!s) return done(0);
    const now = Date.now();
    let n = 0;
    for (const [id, b] of s.buckets) {
      if (b.t + Math.max(0, now - b.ts) * b.refillPerMs >= b.capacity) {
        s.buckets.delete(id);
        n++;
      }
    }
    return done(n);
  }
}
