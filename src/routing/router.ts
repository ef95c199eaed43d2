// Which provider a click-to-call uses, and why: the user's assignment, the provider's region,
// its health (circuit breaker), and the org's failover policy. Used by dispatch and by
// GET /v1/routing/explain, so the explanation is what a real call then does.

import { servesRegion } from '../domain/regions.js';
import type { Provider, User } from '../domain/types.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { SettingsStore } from '../settings/settings-store.js';
import type { Store } from '../store/store.js';
import type { ProviderCache } from '../providers/provider-cache.js';

export interface RoutingPolicy {
  failover: { enabled: boolean; order?: string[] };
}

export const DEFAULT_ROUTING: RoutingPolicy = { failover: { enabled: false } };

export interface RoutePlan {
  /** the user's own provider (null when unassigned or gone) */
  assigned: Provider | null;
  /** providers to try, in order; empty when none can take the call now */
  chain: Provider[];
  failover: boolean;
  reasons: string[];
  /** seconds until the assigned provider may be tried again, when its breaker is open */
  retryAfter?: number;
}

export class Router {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRuntime,
    private readonly settings: SettingsStore,
    private readonly cache: ProviderCache,
  ) {}

  async policy(orgId: string): Promise<RoutingPolicy> {
    return (await this.settings.get<RoutingPolicy>(orgId, 'routingPolicy')) ?? DEFAULT_ROUTING;
  }

  putPolicy(orgId: string, policy: RoutingPolicy): Promise<void> {
    return this.settings.put(orgId, 'routingPolicy', policy);
  }

  canReach(p: Provider, user: User): boolean {
    const def = this.providers.definition(p.kind);
    if (!def) return false;
    return def.canReach ? def.canReach(user, p) : Boolean(user.phone);
  }

  /**
   * The plan for a call by `user`. `peek` leaves the breakers alone (explain); otherwise a
   * half-open breaker's single trial is claimed for this call.
   */
  async plan(orgId: string, user: User, peek = false): Promise<RoutePlan> {
    const reasons: string[] = [];
    const [policy, assigned] = await Promise.all([
      this.policy(orgId),
      user.providerId ? this.cache.get(orgId, user.providerId) : Promise.resolve(null),
    ]);
    const chain: Provider[] = [];
    let retryAfter: number | undefined;
    const healthy = (p: Provider): number => {
      const st = this.providers.breakers.state(p.id);
      if (peek) return st === 'open' ? 1 : 0;
      return this.providers.breakers.admit(p.id);
    };
    if (!assigned) {
      reasons.push(`user ${user.id} is not assigned to any provider`);
    } else {
      reasons.push(`user ${user.id} is assigned to ${assigned.id} (${assigned.kind}, "${assigned.name}")`);
      const wait = healthy(assigned);
      if (wait > 0) {
        retryAfter = wait;
        reasons.push(`${assigned.id} is unhealthy: its circuit breaker is open after repeated failures`);
      } else {
        chain.push(assigned);
        reasons.push(`${assigned.id} is healthy (breaker ${this.providers.breakers.state(assigned.id)})`);
      }
    }
    if (!policy.failover.enabled) {
      reasons.push('failover is disabled for this org');
      return { assigned, chain, failover: false, reasons, retryAfter };
    }
    const all = await this.store.listProviders(orgId);
    const byId = new Map(all.map((p) => [p.id, p]));
    const ordered = policy.failover.order?.length
      ? policy.failover.order.map((id) => byId.get(id)).filter((p): p is Provider => Boolean(p))
      : [...all].sort((a, b) => a.priority - b.priority || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    for (const p of ordered) {
      if (p.id === assigned?.id) continue;
      if (!servesRegion(p.regions, user.region)) {
        reasons.push(`failover skips ${p.id}: it does not serve region ${user.region}`);
        continue;
      }
      if (!this.canReach(p, user)) {
        reasons.push(`failover skips ${p.id}: it cannot reach user ${user.id} (${p.kind} needs ${p.kind === 'sip' ? 'a sipUri' : 'a phone'})`);
        continue;
      }
      if (this.providers.breakers.state(p.id) === 'open') {
        reasons.push(`failover skips ${p.id}: its circuit breaker is open`);
        continue;
      }
      chain.push(p);
      reasons.push(`failover may use ${p.id} (${p.kind}) next`);
    }
    return { assigned, chain, failover: true, reasons, retryAfter };
  }
}
