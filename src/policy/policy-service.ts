// Abuse protection on every outbound path, before any provider is asked to dial: emergency
// numbers, the dial policy (org, narrowed by provider and user) and the shared rate limits.
// Refusals are counted in metrics and written to the audit log.

import type { PhoneNumber } from 'libphonenumber-js/max';
import type { AuditLog } from '../audit/audit-log.js';
import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import type { Provider, User } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { effectiveLimits, evaluate, evaluateAgentPhone, type Decision, type DialPolicy, type PolicyLayer } from './dial-policy.js';
import { isEmergencyNumber } from './emergency.js';
import { LIVE_CAP_LIMIT, type Admission, type Bucket, type LimitResult } from '../domain/limits.js';
import type { RateLimiter } from './rate-limiter.js';

const ORG_POLICY = 'dialPolicy';
/** the rule prefix when the agent's own leg is what the policy refuses */
const AGENT_PHONE = 'agent_phone';
const providerPolicyName = (providerId: string) => `provider:${providerId}:dialPolicy`;
const LIVE_TTL_MS = 4 * 3600 * 1000;

export interface PolicyDeps {
  settings: SettingsStore;
  limiter: RateLimiter;
  audit: AuditLog;
  metrics: Metrics;
  keyPrefix: string;
  /** the regions (countries) of the org's users: the default allowed destinations */
  orgRegions: (orgId: string) => Promise<string[]>;
}

export interface PolicyContext {
  orgId: string;
  raw: string;
  number: PhoneNumber | undefined;
  user: User | null;
  provider: Provider | null;
  /** who asked, for the audit log */
  actor: string;
  path: 'click-to-call' | 'trial' | 'failover' | 'phonebridge';
}

export class PolicyService {
  constructor(private readonly deps: PolicyDeps) {}

  getOrgPolicy(orgId: string): Promise<DialPolicy | null> {
    return this.deps.settings.get<DialPolicy>(orgId, ORG_POLICY);
  }

  putOrgPolicy(orgId: string, policy: DialPolicy): Promise<void> {
    return this.deps.settings.put(orgId, ORG_POLICY, policy);
  }

  getProviderPolicy(orgId: string, providerId: string): Promise<DialPolicy | null> {
    return this.deps.settings.get<DialPolicy>(orgId, providerPolicyName(providerId));
  }

  async putProviderPolicy(orgId: string, providerId: string, policy: DialPolicy | null): Promise<void> {
    if (policy) await this.deps.settings.put(orgId, providerPolicyName(providerId), policy);
    else await this.deps.settings.del(orgId, providerPolicyName(providerId));
  }

  getProviderLimits(orgId: string, providerId: string): Promise<{ callsPerSecond?: number } | null> {
    return this.deps.settings.get<{ callsPerSecond?: number }>(orgId, `provider:${providerId}:limits`);
  }

  async putProviderLimits(orgId: string, providerId: string, limits: { callsPerSecond?: number } | null): Promise<void> {
    if (limits) await this.deps.settings.put(orgId, `provider:${providerId}:limits`, limits);
    else await this.deps.settings.del(orgId, `provider:${providerId}:limits`);
  }

  async callsPerSecond(provider: Provider): Promise<number | undefined> {
    return (await this.getProviderLimits(provider.orgId, provider.id))?.callsPerSecond;
  }

  /** The decision for a destination, without side effects (routing explain uses it too). */
  async decide(ctx: Omit<PolicyContext, 'actor' | 'path'>): Promise<Decision> {
    if (isEmergencyNumber(ctx.raw, ctx.user?.region)) {
      return { allowed: false, rule: 'emergency', numberType: 'EMERGENCY' };
    }
    if (!ctx.number) return { allowed: false, rule: 'invalid_number', numberType: 'UNKNOWN' };
    const [layers, regions] = await Promise.all([this.layers(ctx), this.deps.orgRegions(ctx.orgId)]);
    const defaults = new Set(regions);
    if (ctx.user) defaults.add(ctx.user.region);
    const d = evaluate(ctx.number, layers, [...defaults]);
    if (!d.allowed || !ctx.user?.phone) return d;
    // the agent's own leg (the provider rings the user's phone first) is a call too
    const phone = parsePhone(ctx.user.phone, ctx.user.region);
    const leg = phone ? evaluateAgentPhone(phone, layers) : null;
    return leg && !leg.allowed ? { ...leg, rule: `${AGENT_PHONE}: ${leg.rule}` } : d;
  }

  private async layers(ctx: { orgId: string; user: User | null; provider: Provider | null }): Promise<PolicyLayer[]> {
    const [org, prov] = await Promise.all([
      this.getOrgPolicy(ctx.orgId),
      ctx.provider ? this.getProviderPolicy(ctx.orgId, ctx.provider.id) : Promise.resolve(null),
    ]);
    const layers: PolicyLayer[] = [{ scope: 'org', policy: org ?? {} }];
    if (prov) layers.push({ scope: 'provider', policy: prov });
    const userPolicy = (ctx.user as (User & { dialPolicy?: DialPolicy }) | null)?.dialPolicy;
    if (userPolicy) layers.push({ scope: 'user', policy: userPolicy });
    return layers;
  }

  private async refused(ctx: Omit<PolicyContext, 'raw' | 'number'>, d: Decision, reason: string): Promise<void> {
    this.deps.metrics.callsRefused.inc({ reason });
    await this.deps.audit.append(ctx.orgId, {
      actor: ctx.actor,
      action: 'call.refused',
      target: { type: 'user', id: ctx.user?.id ?? '' },
      detail: { path: ctx.path, rule: d.rule, country: d.country ?? null, numberType: d.numberType, providerId: ctx.provider?.id ?? null },
    });
  }

  /** Throws destination_not_allowed (403, with the rule) when the call may not be placed. */
  async enforce(ctx: PolicyContext): Promise<void> {
    const d = await this.decide(ctx);
    if (d.allowed) return;
    await this.refused(ctx, d, d.rule === 'emergency' ? 'emergency' : 'destination_not_allowed');
    if (d.rule === 'emergency') {
      throw new DomainError(
        'destination_not_allowed',
        'emergency numbers are never dialled through click-to-call: dial them directly from a phone, which can give the emergency service your location',
        { rule: 'emergency' },
      );
    }
    if (d.rule.startsWith(`${AGENT_PHONE}:`)) {
      throw new DomainError('destination_not_allowed', `the agent's phone may not be called (${d.rule}); give the user another phone`, { rule: d.rule });
    }
    throw new DomainError('destination_not_allowed', `calls to this destination are not allowed (${d.rule})`, { rule: d.rule });
  }

  /**
   * The limits a click-to-call must fit: a token from each of the org's buckets (per user, per
   * org, per destination) and a live-call slot for the user. The store takes them as it creates
   * the call (Store.createCall), in the same atomic step. Keys carry the org's hash tag, so they
   * share the call's Redis Cluster slot.
   */
  async admission(orgId: string, userId: string, e164: string, callId: string): Promise<Admission> {
    const limits = effectiveLimits(await this.getOrgPolicy(orgId));
    const p = `${this.deps.keyPrefix}{org:${orgId}}:rl:`;
    const buckets: Bucket[] = [
      { name: 'perUserPerMinute', key: `${p}u:${userId}`, capacity: limits.perUserPerMinute, refillPerMs: limits.perUserPerMinute / 60_000 },
      { name: 'perOrgPerMinute', key: `${p}org`, capacity: limits.perOrgPerMinute, refillPerMs: limits.perOrgPerMinute / 60_000 },
      { name: 'perDestinationPerHour', key: `${p}d:${e164}`, capacity: limits.perDestinationPerHour, refillPerMs: limits.perDestinationPerHour / 3_600_000 },
    ];
    return { buckets, cap: { key: `${p}live:${userId}`, max: limits.liveCallsPerUser, member: callId, ttlMs: LIVE_TTL_MS } };
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

  /** Frees the user's live-call slot when a click-to-call ends. */
  releaseLive(orgId: string, userId: string, callId: string): Promise<void> {
    return this.deps.limiter.release(`${this.deps.keyPrefix}{org:${orgId}}:rl:live:${userId}`, callId);
  }

  /** Waits for the provider's calls-per-second budget (queues briefly rather than failing). */
  async providerSlot(provider: Provider, callsPerSecond: number | undefined, maxWaitMs = 5000): Promise<boolean> {
    if (!callsPerSecond) return true;
    return this.deps.limiter.acquire(
      { name: 'providerCallsPerSecond', key: `${this.deps.keyPrefix}{prov:${provider.id}}:cps`, capacity: Math.max(1, callsPerSecond), refillPerMs: callsPerSecond / 1000 },
      maxWaitMs,
    );
  }
}
