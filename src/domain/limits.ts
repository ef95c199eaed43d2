// Call limits as data: token buckets (per user, per org, per destination, per provider) and the
// per-user live-call cap. The policy decides which apply to a call (src/policy); the backend takes
// them — a click-to-call's limits in the same atomic step that creates the call, so a slot or a
// token is never held by a call that does not exist, nor a call created that the limits refused.

export interface Bucket {
  /** which limit, reported to the caller */
  name: string;
  /** the bucket's id within its org: "u:<userId>", "org", "d:<E.164>", "p:<providerId>" */
  id: string;
  capacity: number;
  /** tokens per millisecond */
  refillPerMs: number;
}

/**
 * The live click-to-calls one user may have at once. A slot is held by its call until the call
 * ends (a crashed gateway's calls are ended by the reconciler, so none holds one for ever).
 */
export interface LiveCap {
  userId: string;
  max: number;
  /** the call taking the slot */
  callId: string;
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
 * ARGV of the Lua take_limits function (src/store/redis/lua/lib.lua): bucket count, then
 * (id, capacity, refillPerMs) per bucket, then the cap (max, userId; max 0 = none).
 */
export function admissionArgs(a: Admission): (string | number)[] {
  const args: (string | number)[] = [a.buckets.length];
  for (const b of a.buckets) args.push(b.id, b.capacity, b.refillPerMs);
  if (a.cap) args.push(a.cap.max, a.cap.userId);
  else args.push(0, '');
  return args;
}

/** take_limits' refusal {index (1-based over buckets then the cap), retryAfterMs} as a result. */
export function refusedBy(a: Admission, index: number, retryAfterMs: number): LimitResult {
  const b = a.buckets[index - 1];
  return { ok: false, limit: b ? b.name : LIVE_CAP_LIMIT, retryAfterMs: Number(retryAfterMs) };
}
