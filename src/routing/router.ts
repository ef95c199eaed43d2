// Which provider a click-to-call uses, and why: the user's assignment, the org's failover policy,
// each candidate's region, reach and dial policy. Decided on an org snapshot without I/O; the
// providers' health is the backend's, checked by the click script as it commits the call (the
// first healthy candidate wins). GET /v1/routing/explain tells the same story with the health
// read, so the explanation is what a real call then does.

import type { OrgSnapshot } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import { servesRegion } from '../domain/regions.js';
import type { Provider, User } from '../domain/types.js';
import type { Decision } from '../policy/dial-policy.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { BreakerView, HealthStore } from '../store/health/port.js';
import type { SettingsStore } from '../store/settings/port.js';
import type { ComplianceStore } from '../store/compliance/port.js';
import { CALLING_HOURS } from '../policy/policy-service.js';
import { callerIdFor } from './caller-id.js';

export interface RoutingPolicy {
  failover: { enabled: boolean; order?: string[] };
}

export const DEFAULT_ROUTING: RoutingPolicy = { failover: { enabled: false } };
export const ROUTING_POLICY = 'routingPolicy';

export interface RoutePlan {
  /** the user's own provider (null when unassigned or gone) */
  assigned: Provider | null;
  /** providers to try, in order (the assigned first); each failover one's own dial policy is checked before it is tried */
  chain: Provider[];
  failover: boolean;
  reasons: string[];
}

export interface Explanation {
  providerId: string | null;
  wouldDial: boolean;
  to: string | null;
  reasons: string[];
  candidates: string[];
  failover: boolean;
  policy: Decision;
  /** whether the destination is on the do-not-call list (the click script refuses it) */
  dnc?: { listed: boolean };
  /** the number the customer would see, and why */
  callerId?: { number: string | null; reason: string };
}

export class Router {
  constructor(
    private readonly providers: Pick<ProviderRuntime, 'definition'>,
    private readonly policy: PolicyService,
    private readonly settings: SettingsStore,
    private readonly health: HealthStore,
    private readonly compliance?: ComplianceStore,
  ) {}

  policyOf(snap: OrgSnapshot): RoutingPolicy {
    return snap.setting<RoutingPolicy>(ROUTING_POLICY) ?? DEFAULT_ROUTING;
  }

  async getPolicy(orgId: string): Promise<RoutingPolicy> {
    return (await this.settings.get<RoutingPolicy>(orgId, ROUTING_POLICY)) ?? DEFAULT_ROUTING;
  }

  putPolicy(orgId: string, policy: RoutingPolicy): Promise<void> {
    return this.settings.put(orgId, ROUTING_POLICY, policy);
  }

  canReach(p: Provider, user: User): boolean {
    const def = this.providers.definition(p.kind);
    if (!def) return false;
    return def.canReach ? def.canReach(user, p) : Boolean(user.phone);
  }

  /** The plan for a call by `user`: the assigned provider, then the failover candidates in order. */
  plan(snap: OrgSnapshot, user: User): RoutePlan {
    const reasons: string[] = [];
    const assigned = snap.provider(user.providerId) ?? null;
    const chain: Provider[] = [];
    if (!assigned) reasons.push(`user ${user.id} is not assigned to any provider`);
    else {
      reasons.push(`user ${user.id} is assigned to ${assigned.id} (${assigned.kind}, "${assigned.name}")`);
      chain.push(assigned);
    }
    const policy = this.policyOf(snap);
    if (!policy.failover.enabled) {
      reasons.push('failover is disabled for this org');
      return { assigned, chain, failover: false, reasons };
    }
    const all = snap.providers();
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
      chain.push(p);
      reasons.push(`failover may use ${p.id} (${p.kind}) next`);
    }
    return { assigned, chain, failover: true, reasons };
  }

  /** What a click by `user` to `raw` would do now, and why (GET /v1/routing/explain). */
  async explain(snap: OrgSnapshot, user: User, raw: string): Promise<Explanation> {
    const num = parsePhone(raw, user.region);
    const decideFor = (p: Provider | null) => this.policy.decide({ snapshot: snap, raw, number: num, user, provider: p });
    const plan = this.plan(snap, user);
    const health = await this.health.all(snap.orgId);
    const reasons = [...plan.reasons];
    let first: Provider | null = null;
    for (const p of plan.chain) {
      if (p !== plan.assigned && !decideFor(p).allowed) {
        reasons.push(`failover would skip ${p.id}: its dial policy refuses this destination`);
        continue;
      }
      const h: BreakerView | undefined = health.get(p.id);
      const state = h?.state ?? 'closed';
      if (state === 'open' || (state === 'half-open' && (h?.retryAfterSec ?? 0) > 0)) {
        reasons.push(`${p.id} is unhealthy: its circuit breaker is ${state} (retry in ${h?.retryAfterSec ?? 0} s)`);
        continue;
      }
      reasons.push(`${p.id} is healthy (breaker ${state})`);
      first = p;
      break;
    }
    const decision = decideFor(plan.assigned ?? first);
    if (!num && decision.rule !== 'emergency') reasons.push(`"${raw}" is not a valid number for region ${user.region}`);
    else reasons.push(decision.allowed ? `dial policy allows ${num?.number} (${decision.country}, ${decision.numberType})` : `dial policy refuses it: ${decision.rule}`);
    if (decision.rule === CALLING_HOURS || decision.detail) reasons.push(`calling hours: ${decision.detail}${decision.retryAt ? `; next allowed at ${decision.retryAt}` : ''}`);
    let dnc: Explanation['dnc'];
    if (num && this.compliance) {
      dnc = { listed: await this.compliance.dncHas(snap.orgId, num.number) };
      reasons.push(dnc.listed ? `${num.number} is on the do-not-call list: the click is refused` : `${num.number} is not on the do-not-call list`);
    }
    let callerId: Explanation['callerId'];
    if (num && first) {
      const c = callerIdFor(snap, first, num.number);
      const stuck = c.pool.length > 0 && this.compliance ? await this.compliance.stickyCallerId(snap.orgId, first.id, num.number, this.policy.clock()) : null;
      callerId = stuck && c.pool.includes(stuck) ? { number: stuck, reason: `sticky: ${num.number} was last shown ${stuck} through ${first.id}` } : { number: c.callerId || null, reason: c.reason };
      reasons.push(`caller id: ${callerId.reason}`);
    }
    const wouldDial = Boolean(first) && decision.allowed && Boolean(num) && !dnc?.listed;
    return {
      providerId: wouldDial ? first!.id : null,
      wouldDial,
      to: num?.number ?? null,
      reasons,
      candidates: plan.chain.map((p) => p.id),
      failover: plan.failover,
      policy: decision,
      ...(dnc ? { dnc } : {}),
      ...(callerId ? { callerId } : {}),
    };
  }
}

export function notAssigned(userId: string): DomainError {
  return new DomainError('no_provider', `user ${userId} is not assigned to any provider`);
}
