// Users, providers and assignments: input normalisation and the admin flows of the product brief
// on top of the Store, which enforces the multi-key rules atomically.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';
import { toE164 } from '../domain/phone.js';
import { isCountryCode } from '../domain/regions.js';
import type { AssignResult, Page, Provider, Regions, User, UserInput } from '../domain/types.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { Store } from '../store/store.js';

export interface UserBody {
  region: string;
  name?: string;
  email?: string;
  phone?: string;
  sipUri?: string;
  numbers?: string[];
  crmUserId?: string;
}

export interface ProviderBody {
  kind: string;
  name: string;
  config: Record<string, unknown>;
  regions?: Regions;
  priority?: number;
  install?: { scope: 'all' | 'specific'; userIds?: string[]; futureUsers?: boolean };
}

export interface ProviderPatchBody {
  name?: string;
  config?: Record<string, unknown>;
  regions?: Regions;
  priority?: number;
  futureUsers?: boolean;
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
  health: { state: string };
  createdAt: string;
  updatedAt: string;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

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

export class DirectoryService {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRuntime,
    private readonly logger: Logger,
  ) {}

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

  async putUser(orgId: string, userId: string, body: UserBody): Promise<{ user: User; created: boolean }> {
    return this.store.putUser(orgId, userId, this.normaliseUser(body), nowIso());
  }

  async getUser(orgId: string, userId: string): Promise<User> {
    const u = await this.store.getUser(orgId, userId);
    if (!u) throw new DomainError('user_not_found', `user ${userId} not found`);
    return u;
  }

  async deleteUser(orgId: string, userId: string): Promise<void> {
    if (!(await this.store.deleteUser(orgId, userId))) throw new DomainError('user_not_found', `user ${userId} not found`);
  }

  listUsers(orgId: string, q: { limit: number; cursor?: string; providerId?: string; region?: string; unassigned?: boolean }): Promise<Page<User>> {
    return this.store.listUsers(orgId, q);
  }

  async moveUser(orgId: string, userId: string, providerId: string): Promise<User> {
    return this.store.moveUser(orgId, userId, providerId);
  }

  // ---- providers ---------------------------------------------------------------------------

  async view(orgId: string, p: Provider, count?: number): Promise<ProviderView> {
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
      health: { state: this.providers.breakers.state(p.id) },
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
  }

  async getProvider(orgId: string, providerId: string): Promise<Provider> {
    const p = await this.store.getProvider(orgId, providerId);
    if (!p) throw new DomainError('provider_not_found', `provider ${providerId} not found`);
    return p;
  }

  async createProvider(orgId: string, body: ProviderBody): Promise<{ provider: Provider; install: AssignResult }> {
    this.providers.validateConfig(body.kind, body.config);
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
    let result: AssignResult = { assigned: [], conflicts: [] };
    if (install.scope === 'all') {
      result = await this.store.installAll(orgId, provider.id, install.futureUsers ?? false, nowIso());
    } else {
      if (install.userIds?.length) result = await this.store.assignUsers(orgId, provider.id, install.userIds);
      if (install.futureUsers) await this.store.updateProvider(orgId, provider.id, { futureUsers: true }, nowIso());
    }
    return { provider: (await this.store.getProvider(orgId, provider.id)) ?? provider, install: result };
  }

  async updateProvider(orgId: string, providerId: string, patch: ProviderPatchBody): Promise<Provider> {
    const cur = await this.getProvider(orgId, providerId);
    const next: ProviderPatchBody = { ...patch };
    if (patch.config) {
      next.config = this.providers.mergeSecrets(cur.kind, patch.config, cur.config);
      this.providers.validateConfig(cur.kind, next.config);
    }
    if (patch.regions) next.regions = checkRegions(patch.regions);
    const updated = await this.store.updateProvider(orgId, providerId, next, nowIso());
    if (patch.config) await this.providers.adapter(updated).install?.();
    return updated;
  }

  async deleteProvider(orgId: string, providerId: string, force: boolean): Promise<void> {
    const p = await this.getProvider(orgId, providerId);
    if (!(await this.store.deleteProvider(orgId, providerId, force))) {
      throw new DomainError('provider_not_found', `provider ${providerId} not found`);
    }
    await this.providers.release(p);
  }

  async listProviders(orgId: string): Promise<ProviderView[]> {
    const [list, counts] = await Promise.all([this.store.listProviders(orgId), this.store.userCounts(orgId)]);
    return Promise.all(list.map((p) => this.view(orgId, p, counts[p.id] ?? 0)));
  }

  async addUsers(orgId: string, providerId: string, userIds: string[]): Promise<AssignResult> {
    await this.getProvider(orgId, providerId);
    const result = await this.store.assignUsers(orgId, providerId, userIds);
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
        throw new DomainError('region_unavailable', `provider ${providerId} does not serve the region of user ${c.userId}`, { userId: c.userId });
      }
      if (c.reason === 'unknown_user') throw new DomainError('user_not_found', `user ${c.userId} not found`);
    }
    return result;
  }

  async removeUser(orgId: string, providerId: string, userId: string): Promise<void> {
    await this.getProvider(orgId, providerId);
    if (!(await this.store.unassignUser(orgId, providerId, userId))) {
      throw new DomainError('user_not_found', `user ${userId} is not on provider ${providerId}`);
    }
  }

  async installAll(orgId: string, providerId: string, futureUsers: boolean): Promise<AssignResult> {
    await this.getProvider(orgId, providerId);
    return this.store.installAll(orgId, providerId, futureUsers, nowIso());
  }

  async listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>> {
    await this.getProvider(orgId, providerId);
    return this.store.listProviderUsers(orgId, providerId, q);
  }
}
