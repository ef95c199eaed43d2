// Local mode's call limits: the rules of take_limits (src/store/redis/lua/lib.lua) in process.
// One instance is shared by the memory store (limits taken as a call is created) and the memory
// rate limiter (slots released, provider budgets).

import { ADMITTED, LIVE_CAP_LIMIT, type Admission, type LimitResult } from '../../domain/limits.js';

export class MemoryLimits {
  private readonly buckets = new Map<string, { t: number; ts: number }>();
  private readonly caps = new Map<string, Map<string, number>>();

  /** Checks every limit, then takes one of each; a refusal takes nothing. */
  take({ buckets, cap }: Admission): LimitResult {
    const now = Date.now();
    const next: number[] = [];
    for (const b of buckets) {
      const s = this.buckets.get(b.key) ?? { t: b.capacity, ts: now };
      const t = Math.min(b.capacity, s.t + Math.max(0, now - s.ts) * b.refillPerMs);
      if (t < 1) return { ok: false, limit: b.name, retryAfterMs: Math.ceil((1 - t) / b.refillPerMs) };
      next.push(t);
    }
    if (cap) {
      let live = this.caps.get(cap.key);
      if (!live) this.caps.set(cap.key, (live = new Map()));
      for (const [m, exp] of live) if (exp <= now) live.delete(m);
      if (live.size >= cap.max && !live.has(cap.member)) return { ok: false, limit: LIVE_CAP_LIMIT, retryAfterMs: 1000 };
      live.set(cap.member, now + cap.ttlMs);
    }
    buckets.forEach((b, i) => this.buckets.set(b.key, { t: next[i] - 1, ts: now }));
    return ADMITTED;
  }

  release(capKey: string, member: string): void {
    this.caps.get(capKey)?.delete(member);
  }
}
