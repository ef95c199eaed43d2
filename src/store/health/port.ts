// One provider health (circuit breaker) for every gateway instance, kept in the backend: after
// `threshold` consecutive failures where the provider never took the call, it is open for
// `openMs`; then half-open: one trial dial at a time; `closeAfter` trial successes close it.
// A refused click says how long the wait really is (Retry-After). The click script claims the
// half-open trial atomically with the call (src/store/calls); the rest goes through this port.

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerPolicy {
  /** consecutive failures that open the breaker (default 5) */
  threshold: number;
  /** how long it stays open before a trial (default 30 s) */
  openMs: number;
  /** trial successes that close it again (default 1) */
  closeAfter: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = { threshold: 5, openMs: 30_000, closeAfter: 1 };

/** How long one half-open trial may run before another may be tried (a crashed trial frees it). */
export const TRIAL_LEASE_MS = 30_000;

export interface BreakerView {
  state: BreakerState;
  failures: number;
  /** ms epoch; 0 when closed */
  openUntil: number;
  /** trial successes so far while half-open */
  successes: number;
  /** a half-open trial is in flight until this time (ms epoch; 0 = none) */
  trialUntil: number;
  /** seconds until a dial may be tried (0 = now) */
  retryAfterSec: number;
}

export interface HealthStore {
  get(orgId: string, providerId: string): Promise<BreakerView>;
  all(orgId: string): Promise<Map<string, BreakerView>>;
  failure(orgId: string, providerId: string, policy: BreakerPolicy): Promise<BreakerView>;
  success(orgId: string, providerId: string, policy: BreakerPolicy): Promise<BreakerView>;
  /** Claims the half-open trial (or passes when closed); returns the view after the claim and whether a dial may go. */
  claim(orgId: string, providerId: string): Promise<{ ok: boolean; trial: boolean; view: BreakerView }>;
  /** Gives a claimed trial back (the call did not dial). */
  releaseTrial(orgId: string, providerId: string): Promise<void>;
  /** Closes the breaker (config changed, or an admin reset it). */
  reset(orgId: string, providerId: string): Promise<void>;
}
