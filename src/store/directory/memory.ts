// The directory in local mode (see ../memory/state.ts for the atomicity argument).

import type { AssignResult, Conflict, Page, Provider, User, UserInput } from '../../domain/types.js';
import { storeErrors } from '../errors.js';
import { atomic, byCodeUnit, clone, done, type MemoryData, type OrgData } from '../memory/state.js';
import { clampLimit, decodeCursor, dedupe, encodeCursor, pickFutureProvider, servesRegion } from '../rules.js';
import type { DirectoryStore, OrgConfig, ProviderInput, ProviderPatch, PutUserResult, UserQuery, VersionedUser } from './port.js';

function pageOf<T>(sortedIds: string[], cursor: string | undefined, limit: number, load: (id: string) => T | null): Page<T> {
  const after = decodeCursor(cursor);
  const n = clampLimit(limit);
  const items: T[] = [];
  let last: string | null = null;
  let more = false;
  for (const id of sortedIds) {
    if (after !== undefined && id <= after) continue;
    const item = load(id);
    if (item === null) continue;
    if (items.length === n) {
      more = true;
      break;
    }
    items.push(item);
    last = id;
  }
  return { items, nextCursor: more && last !== null ? encodeCursor(last) : null };
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export class MemoryDirectory implements DirectoryStore {
  constructor(private readonly data: MemoryData) {}

  private org(orgId: string): OrgData {
    return this.data.org(orgId);
  }

  putUser(orgId: string, userId: string, input: UserInput, now: string): Promise<PutUserResult> {
    return atomic(() => {
      const s = this.org(orgId);
      const existing = s.users.get(userId);
      const numbers = dedupe(input.numbers ?? []);
      for (const n of numbers) {
        const owner = s.dids.get(n);
        if (owner !== undefined && owner !== userId) throw storeErrors.numberTaken(n);
      }
      let providerId: string | null;
      if (existing) {
        providerId = existing.providerId;
        const p = providerId ? s.providers.get(providerId) : undefined;
        if (providerId && p && !servesRegion(p.regions, input.region)) throw storeErrors.regionUnavailable(providerId, input.region);
      } else {
        providerId = pickFutureProvider(s.providers.values(), input.region)?.id ?? null;
      }
      for (const n of existing?.numbers ?? []) if (s.dids.get(n) === userId) s.dids.delete(n);
      for (const n of numbers) s.dids.set(n, userId);
      if (existing?.region !== input.region) {
        if (existing) s.countRegion(existing.region, -1);
        s.countRegion(input.region, 1);
      }
      const user: User = {
        id: userId,
        ...stripUndefined(clone(input)),
        region: input.region,
        numbers,
        providerId,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      s.users.set(userId, user);
      s.userVersion.set(userId, (s.userVersion.get(userId) ?? 0) + 1);
      if (providerId && !existing) s.providerSet(providerId).add(userId);
      return { user: clone(user), created: !existing };
    });
  }

  getUser(orgId: string, userId: string): Promise<User | null> {
    const u = this.data.orgs.get(orgId)?.users.get(userId);
    return done(u ? clone(u) : null);
  }

  getUserVersioned(orgId: string, userId: string): Promise<VersionedUser | null> {
    const s = this.data.orgs.get(orgId);
    const u = s?.users.get(userId);
    return done(u ? { user: clone(u), version: s!.userVersion.get(userId) ?? 0 } : null);
  }

  tokenVersion(orgId: string, userId: string): Promise<number> {
    return done(this.data.orgs.get(orgId)?.tokenVersion.get(userId) ?? 0);
  }

  deleteUser(orgId: string, userId: string): Promise<boolean> {
    const s = this.org(orgId);
    const u = s.users.get(userId);
    if (!u) return done(false);
    if (u.providerId) s.providerUsers.get(u.providerId)?.delete(userId);
    for (const n of u.numbers) if (s.dids.get(n) === userId) s.dids.delete(n);
    s.users.delete(userId);
    s.revokeTokens(userId);
    // the version is kept: a user created again under this id goes on from it (a click decided
    // on the deleted user's snapshot is stale)
    s.countRegion(u.region, -1);
    return done(true);
  }

  listUsers(orgId: string, q: UserQuery): Promise<Page<User>> {
    // atomic: a malformed cursor rejects the promise (like Redis), it does not throw at the caller
    return atomic(() => {
      const s = this.org(orgId);
      const ids = q.providerId !== undefined ? [...(s.providerUsers.get(q.providerId) ?? [])] : [...s.users.keys()];
      ids.sort(byCodeUnit);
      return pageOf(ids, q.cursor, q.limit, (id) => {
        const u = s.users.get(id);
        if (!u) return null;
        if (q.region !== undefined && u.region !== q.region) return null;
        if (q.unassigned && u.providerId !== null) return null;
        if (q.providerId !== undefined && u.providerId !== q.providerId) return null;
        return clone(u);
      });
    });
  }

  orgRegions(orgId: string): Promise<string[]> {
    return done([...(this.data.orgs.get(orgId)?.regionCount.keys() ?? [])].sort());
  }

  findUserByNumber(orgId: string, e164: string): Promise<User | null> {
    const s = this.org(orgId);
    const id = s.dids.get(e164);
    const u = id !== undefined ? s.users.get(id) : undefined;
    return done(u ? clone(u) : null);
  }

  orgConfig(orgId: string): Promise<OrgConfig> {
    const s = this.org(orgId);
    const settings: Record<string, unknown> = {};
    for (const [k, v] of s.settings) settings[k] = JSON.parse(v);
    return done({
      version: s.version,
      providers: [...s.providers.values()].map(clone),
      settings,
      regions: [...s.regionCount.keys()].sort(),
    });
  }

  // ---- providers ----

  createProvider(orgId: string, providerId: string, input: ProviderInput, now: string): Promise<Provider> {
    return atomic(() => {
      const s = this.org(orgId);
      if (s.providers.has(providerId) || this.data.providerOrg.has(providerId)) throw storeErrors.providerExists(providerId);
      const p: Provider = {
        id: providerId,
        orgId,
        kind: input.kind,
        name: input.name,
        config: clone(input.config),
        regions: clone(input.regions ?? {}),
        priority: input.priority,
        scope: input.scope,
        ...(input.health ? { health: clone(input.health) } : {}),
        futureUsers: input.futureUsers,
        createdAt: now,
        updatedAt: now,
      };
      s.providers.set(providerId, p);
      s.providerUsers.set(providerId, new Set());
      s.version++;
      this.data.providerOrg.set(providerId, orgId);
      return clone(p);
    });
  }

  getProvider(orgId: string, providerId: string): Promise<Provider | null> {
    const p = this.data.orgs.get(orgId)?.providers.get(providerId);
    return done(p ? clone(p) : null);
  }

  getProviderOrg(providerId: string): Promise<string | null> {
    return done(this.data.providerOrg.get(providerId) ?? null);
  }

  listProviders(orgId: string): Promise<Provider[]> {
    const list = [...this.org(orgId).providers.values()].sort((a, b) =>
      a.createdAt !== b.createdAt ? byCodeUnit(a.createdAt, b.createdAt) : byCodeUnit(a.id, b.id),
    );
    return done(list.map(clone));
  }

  updateProvider(orgId: string, providerId: string, patch: ProviderPatch, now: string): Promise<Provider> {
    return atomic(() => {
      const s = this.org(orgId);
      const p = s.providers.get(providerId);
      if (!p) throw storeErrors.providerNotFound(providerId);
      if (patch.regions !== undefined) {
        const stranded: { userId: string; region: string }[] = [];
        for (const id of s.providerUsers.get(providerId) ?? []) {
          const u = s.users.get(id);
          if (u && !servesRegion(patch.regions, u.region)) stranded.push({ userId: id, region: u.region });
        }
        if (stranded.length > 0) throw storeErrors.regionsStrandUsers(providerId, stranded.length, stranded.slice(0, 10));
      }
      if (patch.name !== undefined) p.name = patch.name;
      if (patch.config !== undefined) p.config = clone(patch.config);
      if (patch.recording !== undefined) p.recording = patch.recording;
      if (patch.voicemail !== undefined) p.voicemail = patch.voicemail;
      if (patch.regions !== undefined) p.regions = clone(patch.regions);
      if (patch.priority !== undefined) p.priority = patch.priority;
      if (patch.futureUsers !== undefined) p.futureUsers = patch.futureUsers;
      if (patch.health === null) delete p.health;
      else if (patch.health !== undefined) p.health = clone(patch.health);
      p.updatedAt = now;
      s.version++;
      return clone(p);
    });
  }

  deleteProvider(orgId: string, providerId: string, force: boolean): Promise<boolean> {
    return atomic(() => {
      const s = this.org(orgId);
      if (!s.providers.has(providerId)) return false;
      const members = s.providerUsers.get(providerId) ?? new Set<string>();
      if (members.size > 0 && !force) throw storeErrors.providerHasUsers(providerId, members.size);
      for (const id of members) {
        const u = s.users.get(id);
        if (u && u.providerId === providerId) {
          u.providerId = null;
          s.revokeTokens(id);
        }
      }
      s.providers.delete(providerId);
      s.providerUsers.delete(providerId);
      s.health.delete(providerId);
      s.version++;
      this.data.providerOrg.delete(providerId);
      return true;
    });
  }

  userCount(orgId: string, providerId: string): Promise<number> {
    return done(this.data.orgs.get(orgId)?.providerUsers.get(providerId)?.size ?? 0);
  }

  userCounts(orgId: string): Promise<Record<string, number>> {
    const s = this.org(orgId);
    const out: Record<string, number> = {};
    for (const id of s.providers.keys()) out[id] = s.providerUsers.get(id)?.size ?? 0;
    return done(out);
  }

  listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>> {
    return this.listUsers(orgId, { ...q, providerId });
  }

  // ---- assignment ----

  assignUsers(orgId: string, providerId: string, userIds: string[]): Promise<AssignResult> {
    return atomic(() => {
      const s = this.org(orgId);
      const p = this.requireProvider(s, providerId);
      const assigned: string[] = [];
      const conflicts: Conflict[] = [];
      for (const id of dedupe(userIds)) {
        const c = this.assignOne(s, p, s.users.get(id), id);
        if (c) conflicts.push(c);
        else assigned.push(id);
      }
      return { assigned, conflicts };
    });
  }

  unassignUser(orgId: string, providerId: string, userId: string): Promise<boolean> {
    const s = this.org(orgId);
    const u = s.users.get(userId);
    if (!u || u.providerId !== providerId) return done(false);
    u.providerId = null;
    s.providerUsers.get(providerId)?.delete(userId);
    s.revokeTokens(userId);
    return done(true);
  }

  moveUser(orgId: string, userId: string, toProviderId: string): Promise<User> {
    return atomic(() => {
      const s = this.org(orgId);
      const u = s.users.get(userId);
      if (!u) throw storeErrors.userNotFound(userId);
      const p = this.requireProvider(s, toProviderId);
      if (u.providerId === toProviderId) return clone(u);
      if (!servesRegion(p.regions, u.region)) throw storeErrors.regionUnavailable(toProviderId, u.region);
      if (u.providerId) s.providerUsers.get(u.providerId)?.delete(userId);
      u.providerId = toProviderId;
      s.providerSet(toProviderId).add(userId);
      s.revokeTokens(userId);
      return clone(u);
    });
  }

  installAll(orgId: string, providerId: string, futureUsers: boolean, now: string): Promise<AssignResult> {
    return atomic(() => {
      const s = this.org(orgId);
      const p = this.requireProvider(s, providerId);
      p.scope = 'all';
      p.futureUsers = futureUsers;
      p.updatedAt = now;
      s.version++;
      const assigned: string[] = [];
      const conflicts: Conflict[] = [];
      for (const id of [...s.users.keys()].sort(byCodeUnit)) {
        const u = s.users.get(id)!;
        if (u.providerId === providerId) continue; // already there: not newly assigned
        const c = this.assignOne(s, p, u, id);
        if (c) conflicts.push(c);
        else assigned.push(id);
      }
      return { assigned, conflicts };
    });
  }

  /** One user's assignment under rules 3 and 5; returns the conflict, or null when the user is on p. */
  private assignOne(s: OrgData, p: Provider, u: User | undefined, id: string): Conflict | null {
    if (!u) return { userId: id, reason: 'unknown_user' };
    if (u.providerId === p.id) return null;
    if (u.providerId) return { userId: id, providerId: u.providerId, reason: 'assigned_elsewhere' };
    if (!servesRegion(p.regions, u.region)) return { userId: id, reason: 'region_unavailable' };
    u.providerId = p.id;
    s.providerSet(p.id).add(id);
    return null;
  }

  private requireProvider(s: OrgData, providerId: string): Provider {
    const p = s.providers.get(providerId);
    if (!p) throw storeErrors.providerNotFound(providerId);
    return p;
  }
}
