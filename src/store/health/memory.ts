// Provider health in local mode (rules in ./rules.ts).

import { done, type MemoryData, type OrgData } from '../memory/state.js';
import type { BreakerPolicy, BreakerView, HealthStore } from './port.js';
import { CLOSED, claim, failure, success, viewOf, type HealthRecord } from './rules.js';

export class MemoryHealth implements HealthStore {
  constructor(private readonly data: MemoryData) {}

  private rec(s: OrgData, providerId: string): HealthRecord {
    return { ...(s.health.get(providerId) ?? CLOSED) };
  }

  get(orgId: string, providerId: string): Promise<BreakerView> {
    return done(viewOf(this.data.orgs.get(orgId)?.health.get(providerId), Date.now()));
  }

  all(orgId: string): Promise<Map<string, BreakerView>> {
    const now = Date.now();
    const out = new Map<string, BreakerView>();
    for (const [id, r] of this.data.orgs.get(orgId)?.health ?? []) out.set(id, viewOf(r, now));
    return done(out);
  }

  failure(orgId: string, providerId: string, policy: BreakerPolicy): Promise<BreakerView> {
    const s = this.data.org(orgId);
    const now = Date.now();
    const next = failure(this.rec(s, providerId), now, policy);
    s.health.set(providerId, next);
    return done(viewOf(next, now));
  }

  success(orgId: string, providerId: string, policy: BreakerPolicy): Promise<BreakerView> {
    const s = this.data.org(orgId);
    const now = Date.now();
    const next = success(this.rec(s, providerId), now, policy);
    if (next) s.health.set(providerId, next);
    else s.health.delete(providerId);
    return done(viewOf(next ?? undefined, now));
  }

  claim(orgId: string, providerId: string): Promise<{ ok: boolean; trial: boolean; view: BreakerView }> {
    const s = this.data.org(orgId);
    const now = Date.now();
    const r = this.rec(s, providerId);
    const c = claim(r, now);
    if (c.trial) s.health.set(providerId, r);
    return done({ ...c, view: viewOf(r.openUntil === 0 ? undefined : r, now) });
  }

  releaseTrial(orgId: string, providerId: string): Promise<void> {
    const r = this.data.orgs.get(orgId)?.health.get(providerId);
    if (r) r.trialUntil = 0;
    return done(undefined);
  }

  reset(orgId: string, providerId: string): Promise<void> {
    this.data.orgs.get(orgId)?.health.delete(providerId);
    return done(undefined);
  }
}
