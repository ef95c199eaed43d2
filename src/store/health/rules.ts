// The breaker's rules on one record, for the memory backend; the Lua twin is breaker_* in
// src/store/redis/lua/lib.lua, and the contract suite runs the same cases against both.

import { TRIAL_LEASE_MS, type BreakerPolicy, type BreakerView } from './port.js';

export interface HealthRecord {
  failures: number;
  /** 0 = closed; else open until then, half-open after */
  openUntil: number;
  successes: number;
  trialUntil: number;
}

export const CLOSED: Readonly<HealthRecord> = Object.freeze({ failures: 0, openUntil: 0, successes: 0, trialUntil: 0 });

export function viewOf(r: HealthRecord | undefined, now: number): BreakerView {
  const rec = r ?? CLOSED;
  if (rec.openUntil === 0) return { ...rec, state: 'closed', retryAfterSec: 0 };
  if (rec.openUntil > now) return { ...rec, state: 'open', retryAfterSec: Math.max(1, Math.ceil((rec.openUntil - now) / 1000)) };
  const busy = rec.trialUntil > now;
  return { ...rec, state: 'half-open', retryAfterSec: busy ? Math.max(1, Math.ceil((rec.trialUntil - now) / 1000)) : 0 };
}

/** May a dial go now? Claims the half-open trial when it does. Mutates r. */
export function claim(r: HealthRecord, now: number): { ok: boolean; trial: boolean } {
  if (r.openUntil === 0) return { ok: true, trial: false };
  if (r.openUntil > now || r.trialUntil > now) return { ok: false, trial: false };
  r.trialUntil = now + TRIAL_LEASE_MS;
  return { ok: true, trial: true };
}

/** A dial the provider never took. Returns the record to keep. */
export function failure(r: HealthRecord, now: number, p: BreakerPolicy): HealthRecord {
  if (r.openUntil > 0) {
    // a trial (or a dial let through before it opened) failed: open again for a full period
    return { failures: Math.max(r.failures, p.threshold), openUntil: now + p.openMs, successes: 0, trialUntil: 0 };
  }
  const failures = r.failures + 1;
  return { failures, openUntil: failures >= p.threshold ? now + p.openMs : 0, successes: 0, trialUntil: 0 };
}

/** A dial the provider took. Returns the record to keep, or null when the breaker is closed and clean. */
export function success(r: HealthRecord, now: number, p: BreakerPolicy): HealthRecord | null {
  if (r.openUntil === 0) return null;
  if (r.openUntil > now) return r; // opened meanwhile by other failures: the wait stands
  const successes = r.successes + 1;
  if (successes >= p.closeAfter) return null;
  return { ...r, successes, trialUntil: 0 };
}
