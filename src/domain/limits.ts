// Call limits as data: token buckets (per user, per org, per destination, per provider) and the
// per-user live-call cap. The policy decides which apply to a call (src/policy); the stores take
// them — a click-to-call's limits in the same atomic step that creates the call, so a slot or a
// token is never held by a call that does not exist, nor a call created that the limits refused.

export interface Bucket {
  /** which limit, reported to the caller */
  name: string;
  key: string;
  capacity: number;
  /** tokens per millisecond */
  refillPerMs: number;
}

export interface LiveCap {
  key: string;
  max: number;
  member: string;
  /** a live entry older than this is dropped (a crashed call can't block an agent forever) */
  ttlMs: number;
}

/** The limits one new call must fit. */
export interface Admission {
  buckets: Bucket[];
  cap?: LiveCap;
}

export type LimitResult = { ok: true } | { ok: false; limit: string; retryAfterMs: number };

export const LIVE_CAP_LIMIT = 'concurrentCallsPerUser';

export const ADMITTED: LimitResult = Object.freeze({ ok: true });

/**
 * KEYS and ARGV of the Lua take_limits function (src/store/redis/lua/lib.lua): bucket keys then
 * the cap key; now, bucket count, (capacity, refillPerMs) per bucket, then capMax, member, ttlMs.
 */
export function admissionWire(a: Admission, now: number): { keys: string[]; args: (string | number)[] } {
  const keys = a.buckets.map((b) => b.key);
  const args: (string | number)[] = [now, a.buckets.length];
  for (const b of a.buckets) args.push(b.capacity, b.refillPerMs);
  if (a.cap) {
    keys.push(a.cap.key);
    args.push(a.cap.max, a.cap.member, a.cap.ttlMs);
  }
  return { keys, args };
}

/** take_limits' refusal {index (1-based over buckets then the cap), retryAfterMs} as a result. */
export function refusedBy(a: Admission, index: number, retryAfterMs: number): LimitResult {
  const b = a.buckets[index - 1];
  return { ok: false, limit: b ? b.name : LIVE_CAP_LIMIT, retryAfterMs };
}
