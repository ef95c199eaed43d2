// Users, providers and assignments: input normalisation and the admin flows of the product brief
// on top of the backend's directory, which enforces the multi-key rules atomically.

import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';
import { toE164 } from '../domain/phone.js';
import { isCountryCode } from '../domain/regions.js';
import type { AssignResult, BreakerSettings, MediaSetting, Page, Provider, Regions, User, UserInput } from '../domain/types.js';
import { newId } from '../domain/random.js';
import { breakerSettingsOf } from '../providers/breaker.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { AuditLog } from '../store/audit/port.js';
import type { DirectoryStore } from '../store/directory/port.js';
import type { SettingsStore } from '../store/settings/port.js';
import type { BreakerView, HealthStore } from '../store/health/port.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { DialPolicy } from '../policy/dial-policy.js';
import type { OrgConfigCache, UserCache } from './org-config.js';
import { CALLER_ID_POOL, checkPool } from '../routing/caller-id.js';

export interface UserBody {
  region: string;
  name?: string;
  email?: string;
  phone?: string;
  sipUri?: string;
  numbers?: string[];
  crmUserId?: string;
  /** seconds an inbound call rings before it is missed (default 25) */
  ringTimeoutSec?: number;
  /** narrows the org's dial policy for this user */
  dialPolicy?: DialPolicy;
}

export interface ProviderBody {
  kind: string;
  name: string;
  config: Record<string, unknown>;
  regions?: Regions;
  priority?: number;
  install?: { scope: 'all' | 'specific'; userIds?: string[]; futureUsers?: boolean };
  /** narrows the org's dial policy for calls through this provider */
  dialPolicy?: DialPolicy | null;
  /** the provider account's own dial rate (e.g. Twilio CPS): dials beyond it queue briefly */
  callsPerSecond?: number | null;
  /** local-presence numbers (E.164): each call shows the best match for its destination */
  callerIdPool?: string[] | null;
  recording?: MediaSetting;
  voicemail?: MediaSetting;
  /** circuit-breaker settings (src/providers/breaker.ts) */
  health?: BreakerSettings;
}

export interface ProviderPatchBody {
  name?: string;
  config?: Record<string, unknown>;
  regions?: Regions;
  priority?: number;
  futureUsers?: boolean;
  dialPolicy?: DialPolicy | null;
  callsPerSecond?: number | null;
  callerIdPool?: string[] | null;
  recording?: MediaSetting;
  voicemail?: MediaSetting;
  /** null: back to the defaults */
  health?: BreakerSettings | null;
}

/** The breaker as GET /v1/providers shows it: its state, shared by every instance, and the settings in force. */
export interface HealthView extends Required<BreakerSettings> {
  state: string;
  failures: number;
  /** seconds until a dial may be tried again (0: now) */
  retryAfterSec: number;
}

export interface ProviderView {
  id: string;
  kind: string;
  name: string;
  regions: Regions;
  priority: number;
  scope: 'all' | 'specific';
  futureUsers: boolean;
  userCount: number;
  config: Record<string, unknown>;
  details: Record<string, unknown>;
  health: HealthView;
  dialPolicy?: DialPolicy;
  callsPerSecond?: number;
  callerIdPool?: string[];
  recording: MediaSetting;
  voicemail: MediaSetting;
  createdAt: string;
  updatedAt: string;
}

const CLOSED_VIEW: BreakerView = { state: 'closed', failures: 0, openUntil: 0, successes: 0, trialUntil: 0, retryAfterSec: 0 };

function nowIso(): string {
  return new Date().toISOString();
}

function checkRegions(regions: Regions | undefined): Regions {
  const out: Regions = {};
  for (const k of ['allow', 'deny'] as const) {
    const list = regions?.[k];
    if (!list) continue;
    for (const r of list) {
      if (!isCountryCode(r)) throw new DomainError('validation_failed', `regions.${k}: "${r}" is not an ISO 3166-1 alpha-2 country code`);
    }
    out[k] = [...new Set(list)];
  }
  return out;
}

export interface DirectoryServiceDeps {
  directory: DirectoryStore;
  health: HealthStore;
  providers: ProviderRuntime;
  logger: Logger;
  audit: AuditLog;
  policy: PolicyService;
  configs: OrgConfigCache;
  users: UserCache;
  /** provider settings kept beside the policy's (the caller id pool) */
  settings: SettingsStore;
}

export class DirectoryService {
  private readonly store: DirectoryStore;
  private readonly providers: ProviderRuntime;
  private readonly logger: Logger;
  private readonly audit: AuditLog;
  private readonly policy: PolicyService;

  constructor(private readonly deps: DirectoryServiceDeps) {
    ({ directory: this.store, providers: this.providers, logger: this.logger, audit: this.audit, policy: this.policy } = deps);
  }

  /** A change made through this instance is seen by its next request at once (others: within SNAPSHOT_TTL_MS). */
  private changed(orgId: string, userId?: string): void {
    this.deps.configs.invalidate(orgId);
    if (userId) this.deps.users.delete(orgId, userId);
  }

  /** Audit entries never fail the change they describe; a lost entry is logged. */
  private record(orgId: string, actor: string, action: string, target: { type: string; id: string }, before?: unknown, after?: unknown): Promise<void> {
    return this.audit.append(orgId, { actor, action, target, before, after }).catch((e: Error) => {
      this.logger.error({ orgId, action, err: e.message }, 'audit log append failed');
    });
  }

  private async snapshot(orgId: string, p: Provider): Promise<Record<string, unknown>> {
    const v = await this.view(orgId, p);
    return { name: v.name, kind: v.kind, regions: v.regions, priority: v.priority, scope: v.scope, futureUsers: v.futureUsers, config: v.config, dialPolicy: v.dialPolicy, callsPerSecond: v.callsPerSecond };
  }

  // ---- users -------------------------------------------------------------------------------

  normaliseUser(body: UserBody): UserInput {
    if (!isCountryCode(body.region)) {
      throw new DomainError('validation_failed', `region "${body.region}" is not an ISO 3166-1 alpha-2 country code`);
    }
    const input: UserInput = { region: body.region, numbers: [] };
    if (body.name !== undefined) input.name = body.name;
    if (body.email !== undefined) input.email = body.email;
    if (body.sipUri !== undefined) input.sipUri = body.sipUri;
    if (body.crmUserId !== undefined) input.crmUserId = body.crmUserId;
    // absent: RING_TIMEOUT_SEC.default applies (ringTimeoutOf), also to users stored before the field
    if (body.ringTimeoutSec !== undefined) input.ringTimeoutSec = body.ringTimeoutSec;
    if (body.dialPolicy !== undefined) (input as UserInput & { dialPolicy?: DialPolicy }).dialPolicy = body.dialPolicy;
    if (body.phone !== undefined) {
      const e164 = toE164(body.phone, body.region);
      if (!e164) throw new DomainError('invalid_number', `phone "${body.phone}" is not a valid number for region ${body.region}`);
      input.phone = e164;
    }
    const numbers = new Set<string>();
    for (const n of body.numbers ?? []) {
      const e164 = toE164(n, body.region);
      if (!e164) throw new DomainError('invalid_number', `numbers: "${n}" is not a valid number for region ${body.region}`);
      numbers.add(e164);
    }
    input.numbers = [...numbers];
    return input;
  }

  async putUser(orgId: string, userId: string, body: UserBody, actor = 'api'): Promise<{ user: User; created: boolean }> {
    const before = await this.store.getUser(orgId, userId);
    const res = await this.store.putUser(orgId, userId, this.normaliseUser(body), nowIso());
    this.changed(orgId, userId);
    await this.record(orgId, actor, res.created ? 'user.create' : 'user.update', { type: 'user', id: userId }, before ?? undefined, res.user);
    if (res.created && res.user.providerId) {
      await this.record(orgId, actor, 'user.assign', { type: 'user', id: userId }, { providerId: null }, { providerId: res.user.providerId, via: 'futureUsers' });
    }
    return res;
  }

  async getUser(orgId: string, userId: string): Promise<User> {
    const u = await this.store.getUser(orgId, userId);
    if (!u) throw new DomainError('user_not_found', `user ${userId} not found`);
    return u;
  }

  async deleteUser(orgId: string, userId: string, actor = 'api'): Promise<void> {
    const before = await this.store.getUser(orgId, userId);
    if (!(await this.store.deleteUser(orgId, userId))) throw new DomainError('user_not_found', `user ${userId} not found`);
    this.changed(orgId, userId);
    await this.record(orgId, actor, 'user.delete', { type: 'user', id: userId }, before ?? undefined);
  }

  listUsers(orgId: string, q: { limit: number; cursor?: string; providerId?: string; region?: string; unassigned?: boolean }): Promise<Page<User>> {
    return this.store.listUsers(orgId, q);
  }

  async moveUser(orgId: string, userId: string, providerId: string, actor = 'api'): Promise<User> {
    const before = await this.store.getUser(orgId, userId);
    const user = await this.store.moveUser(orgId, userId, providerId);
    this.changed(orgId, userId);
    await this.record(orgId, actor, 'user.move', { type: 'user', id: userId }, { providerId: before?.providerId ?? null }, { providerId: user.providerId });
    return user;
  }

  // ---- providers ---------------------------------------------------------------------------

  async view(orgId: string, p: Provider, count?: number, health?: BreakerView): Promise<ProviderView> {
    const snap = await this.deps.configs.load(orgId);
    const dialPolicy = this.policy.providerPolicy(snap, p.id);
    const limits = this.policy.providerLimits(snap, p.id);
    const pool = snap.setting<string[]>(CALLER_ID_POOL(p.id));
    return {
      id: p.id,
      kind: p.kind,
      name: p.name,
      regions: p.regions,
      priority: p.priority,
      scope: p.scope,
      futureUsers: p.futureUsers,
      userCount: count ?? (await this.store.userCount(orgId, p.id)),
      config: this.providers.redactConfig(p),
      details: this.providers.describe(p),
      health: this.healthView(p, health ?? (await this.deps.health.get(orgId, p.id))),
      ...(dialPolicy ? { dialPolicy } : {}),
      ...(limits?.callsPerSecond ? { callsPerSecond: limits.callsPerSecond } : {}),
      ...(pool?.length ? { callerIdPool: pool } : {}),
      recording: p.recording ?? 'off',
      voicemail: p.voicemail ?? 'off',
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
  }

  private healthView(p: Provider, v: BreakerView): HealthView {
    return { state: v.state, failures: v.failures, retryAfterSec: v.retryAfterSec, ...breakerSettingsOf(p) };
  }

  /** POST /v1/providers/{id}/health/reset: closes its breaker on every instance. */
  async resetHealth(orgId: string, providerId: string, actor = 'api'): Promise<HealthView> {
    const p = await this.getProvider(orgId, providerId);
    const before = await this.deps.health.get(orgId, providerId);
    await this.deps.health.reset(orgId, providerId);
    await this.record(orgId, actor, 'provider.health.reset', { type: 'provider', id: providerId }, { state: before.state, failures: before.failures }, { state: 'closed' });
    return this.healthView(p, await this.deps.health.get(orgId, providerId));
  }

  async getProvider(orgId: string, providerId: string): Promise<Provider> {
    const p = await this.store.getProvider(orgId, providerId);
    if (!p) throw new DomainError('provider_not_found', `provider ${providerId} not found`);
    return p;
  }

  private async saveProviderExtras(orgId: string, providerId: string, body: { dialPolicy?: DialPolicy | null; callsPerSecond?: number | null; callerIdPool?: string[] | null }): Promise<void> {
    if (body.callerIdPool !== undefined) {
      if (body.callerIdPool?.length) await this.deps.settings.put(orgId, CALLER_ID_POOL(providerId), checkPool(body.callerIdPool));
      else await this.deps.settings.del(orgId, CALLER_ID_POOL(providerId));
    }
    if (body.dialPolicy !== undefined) await this.policy.putProviderPolicy(orgId, providerId, body.dialPolicy);
    if (body.callsPerSecond !== undefined) await this.policy.putProviderLimits(orgId, providerId, body.callsPerSecond ? { callsPerSecond: body.callsPerSecond } : null);
  }

  /** `verify: false` (?verify=false) skips the credentials check, for offline installs. */
  async createProvider(orgId: string, body: ProviderBody, actor = 'api', opts: { verify?: boolean } = {}): Promise<{ provider: Provider; install: AssignResult }> {
    this.providers.validateConfig(body.kind, body.config);
    if (body.callerIdPool) checkPool(body.callerIdPool);
    this.providers.checkCapabilities(body.kind, body);
    // nothing is stored for credentials the provider refuses
    if (opts.verify !== false) await this.providers.verify(body.kind, body.config);
    const regions = checkRegions(body.regions);
    const install = body.install ?? { scope: 'specific', userIds: [] };
    if (install.scope === 'all' && install.userIds?.length) {
      throw new DomainError('validation_failed', 'install.userIds is only for scope "specific"');
    }
    const now = nowIso();
    const provider = await this.store.createProvider(
      orgId,
      newId('prv'),
      {
        kind: body.kind,
        name: body.name,
        config: body.config,
        regions,
        priority: body.priority ?? 0,
        scope: 'specific',
        futureUsers: false,
        ...(body.recording ? { recording: body.recording } : {}),
        ...(body.voicemail ? { voicemail: body.voicemail } : {}),
        ...(body.health ? { health: body.health } : {}),
      },
      now,
    );
    // The provider's own set-up (e.g. a webhook subscription) must succeed before anyone is
    // assigned to it; if it fails, nothing of the provider is left behind.
    try {
      await this.providers.adapter(provider).install?.();
    } catch (e) {
      await this.store.deleteProvider(orgId, provider.id, true).catch(() => {});
      await this.providers.release(provider).catch(() => {});
      throw e;
    }
    await this.saveProviderExtras(orgId, provider.id, body);
    let result: AssignResult = { assigned: [], conflicts: [] };
    if (install.scope === 'all') {
      result = await this.store.installAll(orgId, provider.id, install.futureUsers ?? false, nowIso());
    } else {
      if (install.userIds?.length) result = await this.store.assignUsers(orgId, provider.id, install.userIds);
      if (install.futureUsers) await this.store.updateProvider(orgId, provider.id, { futureUsers: true }, nowIso());
    }
    this.changed(orgId);
    const final = (await this.store.getProvider(orgId, provider.id)) ?? provider;
    await this.record(orgId, actor, 'provider.install', { type: 'provider', id: provider.id }, undefined, {
      ...(await this.snapshot(orgId, final)),
      install: { scope: install.scope, futureUsers: install.futureUsers ?? false, assigned: result.assigned.length, conflicts: result.conflicts.length },
    });
    return { provider: final, install: result };
  }

  async updateProvider(orgId: string, providerId: string, patch: ProviderPatchBody, actor = 'api', opts: { verify?: boolean } = {}): Promise<Provider> {
    const cur = await this.getProvider(orgId, providerId);
    this.providers.checkCapabilities(cur.kind, patch);
    const before = await this.snapshot(orgId, cur);
    const { dialPolicy, callsPerSecond, callerIdPool, ...rest } = patch;
    const next: ProviderPatchBody = { ...rest };
    if (patch.config) {
      next.config = this.providers.mergeSecrets(cur.kind, patch.config, cur.config);
      this.providers.validateConfig(cur.kind, next.config);
      if (opts.verify !== false) await this.providers.verify(cur.kind, next.config);
    }
    if (patch.regions) next.regions = checkRegions(patch.regions);
    await this.saveProviderExtras(orgId, providerId, { dialPolicy, callsPerSecond, callerIdPool });
    // the store bumps updatedAt even for extras-only patches, so live adapters see the change
    const updated = await this.store.updateProvider(orgId, providerId, next, nowIso());
    // a provider whose config was fixed deserves a clean slate: its breaker closes
    if (patch.config) await this.deps.health.reset(orgId, providerId);
    this.changed(orgId);
    if (patch.config) await this.providers.adapter(updated).install?.();
    await this.record(orgId, actor, 'provider.update', { type: 'provider', id: providerId }, before, await this.snapshot(orgId, updated));
    return updated;
  }

  async deleteProvider(orgId: string, providerId: string, force: boolean, actor = 'api'): Promise<void> {
    const p = await this.getProvider(orgId, providerId);
    const before = await this.snapshot(orgId, p);
    const users = await this.store.userCount(orgId, providerId);
    if (!(await this.store.deleteProvider(orgId, providerId, force))) {
      throw new DomainError('provider_not_found', `provider ${providerId} not found`);
    }
    this.changed(orgId);
    await this.providers.release(p);
    await Promise.all([this.policy.putProviderPolicy(orgId, providerId, null), this.policy.putProviderLimits(orgId, providerId, null)]);
    await this.record(orgId, actor, 'provider.uninstall', { type: 'provider', id: providerId }, { ...before, userCount: users }, { force });
  }

  async listProviders(orgId: string): Promise<ProviderView[]> {
    const [list, counts, health] = await Promise.all([this.store.listProviders(orgId), this.store.userCounts(orgId), this.deps.health.all(orgId)]);
    return Promise.all(list.map((p) => this.view(orgId, p, counts[p.id] ?? 0, health.get(p.id) ?? CLOSED_VIEW)));
  }

  async addUsers(orgId: string, providerId: string, userIds: string[], actor = 'api'): Promise<AssignResult> {
    await this.getProvider(orgId, providerId);
    const result = await this.store.assignUsers(orgId, providerId, userIds);
    if (result.assigned.length > 0) {
      await this.record(orgId, actor, 'provider.users.add', { type: 'provider', id: providerId }, undefined, { assigned: result.assigned, conflicts: result.conflicts });
    }
    // The brief's single-user flow gets a plain error, not a 200 with a conflict inside.
    if (userIds.length === 1 && result.conflicts.length === 1) {
      const c = result.conflicts[0];
      if (c.reason === 'assigned_elsewhere') {
        throw new DomainError('assigned_elsewhere', `user ${c.userId} is already on provider ${c.providerId}; uninstall them there first or use POST /v1/users/${c.userId}/move`, {
          userId: c.userId,
          providerId: c.providerId,
        });
      }
      if (c.reason === 'region_unavailable') {
        // the reason a client can act on is the region itself, as POST /v1/users/{id}/move gives it
        const region = (await this.store.getUser(orgId, c.userId))?.region;
        throw new DomainError(
          'region_unavailable',
          region ? `provider ${providerId} does not serve region ${region} (user ${c.userId})` : `provider ${providerId} does not serve the region of user ${c.userId}`,
          { userId: c.userId, providerId, ...(region ? { region } : {}) },
        );
      }
      if (c.reason === 'unknown_user') throw new DomainError('user_not_found', `user ${c.userId} not found`);
    }
    return result;
  }

  async removeUser(orgId: string, providerId: string, userId: string, actor = 'api'): Promise<void> {
    await this.getProvider(orgId, providerId);
    if (!(await this.store.unassignUser(orgId, providerId, userId))) {
      throw new DomainError('user_not_found', `user ${userId} is not on provider ${providerId}`);
    }
    await this.record(orgId, actor, 'provider.users.remove', { type: 'user', id: userId }, { providerId }, { providerId: null });
  }

  async installAll(orgId: string, providerId: string, futureUsers: boolean, actor = 'api'): Promise<AssignResult> {
    const before = await this.getProvider(orgId, providerId);
    const result = await this.store.installAll(orgId, providerId, futureUsers, nowIso());
    this.changed(orgId);
    await this.record(orgId, actor, 'provider.install_all', { type: 'provider', id: providerId }, { scope: before.scope, futureUsers: before.futureUsers }, {
      scope: 'all',
      futureUsers,
      assigned: result.assigned.length,
      conflicts: result.conflicts.length,
    });
    return result;
  }

  async listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>> {
    await this.getProvider(orgId, providerId);
    return this.store.listProviderUsers(orgId, providerId, q);
  }
}
