// A circuit breaker per provider, fed by dial outcomes: after `threshold` consecutive failures
// where the provider never took the call (API down, timeouts), the provider is "known down" for
// `openMs`; click-to-call then answers 503 with Retry-After at once instead of waiting on timeouts.
// After openMs one trial dial is let through (half-open); its success closes the breaker.

export type BreakerState = 'closed' | 'open' | 'half-open';

interface Entry {
  failures: number;
  openedAt: number;
  trialInFlight: boolean;
}

export class BreakerBoard {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly threshold = 5,
    private readonly openMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  state(providerId: string): BreakerState {
    const e = this.entries.get(providerId);
    if (!e || e.failures < this.threshold) return 'closed';
    return this.now() - e.openedAt >= this.openMs ? 'half-open' : 'open';
  }

  /** Seconds until a dial may be tried again; 0 when one may go now (and claims the half-open trial). */
  admit(providerId: string): number {
    const e = this.entries.get(providerId);
    const st = this.state(providerId);
    if (st === 'closed' || !e) return 0;
    if (st === 'half-open' && !e.trialInFlight) {
      e.trialInFlight = true;
      return 0;
    }
    const left = st === 'open' ? this.openMs - (this.now() - e.openedAt) : this.openMs;
    return Math.max(1, Math.ceil(left / 1000));
  }

  /** Gives back a half-open trial claimed by admit() for a call that then did not dial. */
  releaseTrial(providerId: string): void {
    const e = this.entries.get(providerId);
    if (e) e.trialInFlight = false;
  }

  success(providerId: string): void {
    this.entries.delete(providerId);
  }

  failure(providerId: string): void {
    let e = this.entries.get(providerId);
    if (!e) this.entries.set(providerId, (e = { failures: 0, openedAt: 0, trialInFlight: false }));
    e.failures++;
    e.trialInFlight = false;
    if (e.failures >= this.threshold) e.openedAt = this.now();
  }

  forget(providerId: string): void {
    this.entries.delete(providerId);
  }
}
