// Abuse protection on every outbound path, before any provider is asked to dial: emergency
// numbers, the dial policy (org, narrowed by provider and user) and the shared rate limits.
// Decisions are pure functions of an org snapshot (src/directory/org-config.ts), so the click
// path decides without a round trip; refusals are counted in metrics and written to the audit log.

import type { PhoneNumber } from 'libphonenumber-js/max';
import type { OrgSnapshot } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { LIVE_CAP_LIMIT, type Admission, type Bucket, type LimitResult } from '../domain/limits.js';
import { parsePhone } from '../domain/phone.js';
import type { Provider, User } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AuditLog } from '../store/audit/port.js';
import type { LimitStore } from '../store/limits/port.js';
import type { SettingsStore } from '../store/settings/port.js';
import { effectiveLimits, evaluate, evaluateAgentPhone, type Decision, type DialPolicy, type PolicyLayer } from './dial-policy.js';
import { isEmergencyNumber } from './emergency.js';
import { checkCallingHours, checkWindow } from './calling-hours.js';

export const ORG_POLICY = 'dialPolicy';
export const CALLING_HOURS = 'calling_hours';
export const DNC = 'dnc';
/** the rule prefix when the agent's own leg is what the policy refuses */
const AGENT_PHONE = 'agent_phone';
export const providerPolicyName = (providerId: string) => `provider:${providerId}:dialPolicy`;
export const providerLimitsName = (providerId: string) => `provider:${providerId}:limits`;

export interface ProviderLimits {
  callsPerSecond?: number;
}

export interface PolicyDeps {
  settings: SettingsStore;
  limits: LimitStore;
  audit: AuditLog;
  metrics: Metrics;
  /** the time calling hours are checked at (tests inject it) */
  clock?: () => number;
}

export interface PolicyContext {
  snapshot: OrgSnapshot;
  raw: string;
  number: PhoneNumber | undefined;
  user: User | null;
  provider: Provider | null;
}

export interface EnforceContext extends PolicyContext {
  /** who asked, for the audit log */
  actor: string;
  path: 'click-to-call' | 'trial' | 'failover' | 'phonebridge';
}

/** A user's phone (parsePhone keeps its parses: the click path does not parse it again). */
function agentPhone(user: User): PhoneNumber | undefined {
  return user.phone ? parsePhone(user.phone, user.region) : undefined;
}

export class PolicyService {
  readonly clock: () => number;

  constructor(private readonly deps: PolicyDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  // ---- the settings behind the decisions (admin routes) ----

  getOrgPolicy(orgId: string): Promise<DialPolicy | null> {
    return this.deps.settings.get<DialPolicy>(orgId, ORG_POLICY);
  }

  putOrgPolicy(orgId: string, policy: DialPolicy): Promise<void> {
    checkPolicy(policy);
    return this.deps.settings.put(orgId, ORG_POLICY, policy);
  }

  async putProviderPolicy(orgId: string, providerId: string, policy: DialPolicy | null): Promise<void> {
    if (policy) checkPolicy(policy);
    if (policy) await this.deps.settings.put(orgId, providerPolicyName(providerId), policy);
    else await this.deps.settings.del(orgId, providerPolicyName(providerId));
  }

  async putProviderLimits(orgId: string, providerId: string, limits: ProviderLimits | null): Promise<void> {
    if (limits) await this.deps.settings.put(orgId, providerLimitsName(providerId), limits);
    else await this.deps.settings.del(orgId, providerLimitsName(providerId));
  }

  providerPolicy(snap: OrgSnapshot, providerId: string): DialPolicy | null {
    return snap.setting<DialPolicy>(providerPolicyName(providerId));
  }

  providerLimits(snap: OrgSnapshot, providerId: string): ProviderLimits | null {
    return snap.setting<ProviderLimits>(providerLimitsName(providerId));
  }

  // ---- decisions ----

  /** The decision for a destination, without side effects (routing explain uses it too). */
  decide(ctx: PolicyContext): Decision {
    if (isEmergencyNumber(ctx.raw, ctx.user?.region)) return { allowed: false, rule: 'emergency', numberType: 'EMERGENCY' };
    if (!ctx.number) return { allowed: false, rule: 'invalid_number', numberType: 'UNKNOWN' };
    const layers = this.layers(ctx);
    const defaults = new Set(ctx.snapshot.regions);
    if (ctx.user) defaults.add(ctx.user.region);
    const d = evaluate(ctx.number, layers, [...defaults]);
    if (!d.allowed || !ctx.user?.phone) return d;
    // the agent's own leg (the provider rings the user's phone first) is a call too
    const phone = agentPhone(ctx.user);
    const leg = phone ? evaluateAgentPhone(phone, layers) : null;
    if (leg && !leg.allowed) return { ...leg, rule: `${AGENT_PHONE}: ${leg.rule}` };
    return this.hours(d, ctx.number.number, layers);
  }

  /**
   * Calling hours, when a layer sets them: a person is called (click-to-call, failover,
   * PhoneBridge) only inside every layer's window in their local time. Trial calls (no user)
   * dial the org's own test numbers and are not held to them.
   */
  private hours(d: Decision, e164: string, layers: PolicyLayer[]): Decision {
    const windows = layers.flatMap((l) => (l.policy.callingHours ? [l.policy.callingHours] : []));
    if (windows.length === 0) return d;
    const v = checkCallingHours(windows, e164, this.clock());
    if (v.allowed) return { ...d, detail: v.reason };
    return { allowed: false, rule: CALLING_HOURS, country: d.country, numberType: d.numberType, ...(v.retryAt ? { retryAt: v.retryAt } : {}), detail: v.reason };
  }

  /** A click refused by the do-not-call list (decided by the backend with the click): counted, audited. */
  async refuseDnc(orgId: string, userId: string, to: string, actor: string): Promise<DomainError> {
    this.deps.metrics.callsRefused.inc({ reason: 'destination_not_allowed' });
    await this.deps.audit
      .append(orgId, { actor, action: 'call.refused', target: { type: 'user', id: userId }, detail: { path: 'click-to-call', rule: DNC, to } })
      .catch(() => {});
    return new DomainError('destination_not_allowed', `${to} is on the do-not-call list`, { rule: DNC });
  }

  private layers(ctx: PolicyContext): PolicyLayer[] {
    const org = ctx.snapshot.setting<DialPolicy>(ORG_POLICY);
    const layers: PolicyLayer[] = [{ scope: 'org', policy: org ?? {} }];
    const prov = ctx.provider ? this.providerPolicy(ctx.snapshot, ctx.provider.id) : null;
    if (prov) layers.push({ scope: 'provider', policy: prov });
    const userPolicy = (ctx.user as (User & { dialPolicy?: DialPolicy }) | null)?.dialPolicy;
    if (userPolicy) layers.push({ scope: 'user', policy: userPolicy });
    return layers;
  }

  /** Throws destination_not_allowed (403, with the rule) when the call may not be placed. */
  async enforce(ctx: EnforceContext): Promise<void> {
    const d = this.decide(ctx);
    if (d.allowed) return;
    const reason = d.rule === 'emergency' ? 'emergency' : 'destination_not_allowed';
    this.deps.metrics.callsRefused.inc({ reason });
    await this.deps.audit.append(ctx.snapshot.orgId, {
      actor: ctx.actor,
      action: 'call.refused',
      target: { type: 'user', id: ctx.user?.id ?? '' },
      detail: { path: ctx.path, rule: d.rule, country: d.country ?? null, numberType: d.numberType, providerId: ctx.provider?.id ?? null },
    });
    throw refusalOf(d);
  }

  /**
   * The limits a click-to-call must fit: a token from each of the org's buckets (per user, per
   * org, per destination) and a live-call slot for the user. The backend takes them as it
   * creates the call, in the same atomic step.
   */
  admission(snap: OrgSnapshot, userId: string, e164: string, callId: string): Admission {
    const limits = effectiveLimits(snap.setting<DialPolicy>(ORG_POLICY));
    const buckets: Bucket[] = [
      { name: 'perUserPerMinute', id: `u:${userId}`, capacity: limits.perUserPerMinute, refillPerMs: limits.perUserPerMinute / 60_000 },
      { name: 'perOrgPerMinute', id: 'org', capacity: limits.perOrgPerMinute, refillPerMs: limits.perOrgPerMinute / 60_000 },
      { name: 'perDestinationPerHour', id: `d:${e164}`, capacity: limits.perDestinationPerHour, refillPerMs: limits.perDestinationPerHour / 3_600_000 },
    ];
    return { buckets, cap: { userId, max: limits.liveCallsPerUser, callId } };
  }

  /** The 429 for a refused admission, counted; names the limit and when to retry. */
  refusal(r: Extract<LimitResult, { ok: false }>, userId: string): DomainError {
    const live = r.limit === LIVE_CAP_LIMIT;
    this.deps.metrics.callsRefused.inc({ reason: live ? 'concurrent_calls' : 'rate_limited' });
    const retry = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
    if (live) {
      return new DomainError('rate_limited', `user ${userId} already has a live click-to-call; hang it up first`, { limit: r.limit }, retry);
    }
    return new DomainError('rate_limited', `the ${r.limit} limit is reached; retry in ${retry} s`, { limit: r.limit }, retry);
  }

  /** Waits for the provider's calls-per-second budget (queues briefly rather than failing). */
  async providerSlot(snap: OrgSnapshot, provider: Provider, maxWaitMs = 5000): Promise<boolean> {
    const cps = this.providerLimits(snap, provider.id)?.callsPerSecond;
    if (!cps) return true;
    const bucket: Bucket = { name: 'providerCallsPerSecond', id: `p:${provider.id}`, capacity: Math.max(1, cps), refillPerMs: cps / 1000 };
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const r = await this.deps.limits.take(snap.orgId, [bucket]);
      if (r.ok) return true;
      const wait = Math.min(r.retryAfterMs, deadline - Date.now());
      if (wait <= 0) return false;
      await new Promise((res) => setTimeout(res, wait));
    }
  }
}

/** What the schema cannot say about a policy. */
function checkPolicy(policy: DialPolicy): void {
  const bad = policy.callingHours ? checkWindow(policy.callingHours) : null;
  if (bad) throw new DomainError('validation_failed', bad);
}

/** The refusal a decision stands for. */
export function refusalOf(d: Decision): DomainError {
  if (d.rule === 'emergency') {
    return new DomainError(
      'destination_not_allowed',
      'emergency numbers are never dialled through click-to-call: dial them directly from a phone, which can give the emergency service your location',
      { rule: 'emergency' },
    );
  }
  if (d.rule === CALLING_HOURS) {
    return new DomainError('destination_not_allowed', `${d.detail ?? 'outside calling hours'}${d.retryAt ? `; retry at ${d.retryAt}` : ''}`, { rule: CALLING_HOURS, ...(d.retryAt ? { retryAt: d.retryAt } : {}) });
  }
  if (d.rule.startsWith(`${AGENT_PHONE}:`)) {
    return new DomainError('destination_not_allowed', `the agent's phone may not be called (${d.rule}); give the user another phone`, { rule: d.rule });
  }
  return new DomainError('destination_not_allowed', `calls to this destination are not allowed (${d.rule})`, { rule: d.rule });
}
