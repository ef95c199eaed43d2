// The directory on Redis (layout in ../keys.ts): each rule that spans records is one script
// (../redis/lua) over the org's fixed keys; Node never reads then writes to keep an invariant.

import type { AssignResult, Conflict, Page, Provider, User, UserInput } from '../../domain/types.js';
import { storeErrors } from '../errors.js';
import { providerUserRange, type KeyLayout, type OrgKeys } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { clampLimit, decodeCursor, dedupe, encodeCursor } from '../rules.js';
import { profileOf, userFrom } from './codec.js';
import type { DirectoryStore, OrgConfig, ProviderInput, ProviderPatch, PutUserResult, UserQuery, VersionedUser } from './port.js';

type Reply = (string | number | null)[];

/** Users examined per page script run before Node asks again (keeps each run short). */
const PAGE_SCAN = 5000;

function csv(list: string[] | undefined): string {
  return list && list.length > 0 ? `,${list.join(',')},` : '';
}

/** What the scripts need of a provider (lib.lua: meta). */
function metaOf(p: Omit<Provider, 'orgId'>): string {
  return `${p.futureUsers ? 1 : 0}|${Math.trunc(p.priority)}|${p.createdAt}|${csv(p.regions.allow)}|${csv(p.regions.deny)}|${p.kind}`;
}

function providerJson(p: Provider): string {
  const { orgId: _o, ...rest } = p;
  return JSON.stringify(rest);
}

function providerFrom(orgId: string, json: string): Provider {
  return { ...(JSON.parse(json) as Omit<Provider, 'orgId'>), orgId };
}

/** Per-user outcomes of assign_users / install_all: (userId, a|e|r|u, otherProviderId) triples. */
function outcomes(flat: Reply, from: number): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (let i = from; i + 2 < flat.length; i += 3) out.push([String(flat[i]), String(flat[i + 1]), String(flat[i + 2] ?? '')]);
  return out;
}

function conflictsFrom(flat: Reply, from: number): Conflict[] {
  const out: Conflict[] = [];
  for (const [userId, code, other] of outcomes(flat, from)) {
    if (code === 'e') out.push({ userId, providerId: other, reason: 'assigned_elsewhere' });
    else if (code === 'r') out.push({ userId, reason: 'region_unavailable' });
    else if (code === 'u') out.push({ userId, reason: 'unknown_user' });
  }
  return out;
}

export class RedisDirectory implements DirectoryStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
    private readonly installBatch = 2000,
  ) {}

  private get redis() {
    return this.conn.client;
  }

  private k(orgId: string): OrgKeys {
    return this.keys.org(orgId);
  }

  // ---- users ----

  async putUser(orgId: string, userId: string, input: UserInput, now: string): Promise<PutUserResult> {
    const k = this.k(orgId);
    const numbers = dedupe(input.numbers ?? []);
    const r = (await this.conn.run(
      'put_user',
      [k.profile, k.uver, k.users, k.dids, k.region, k.prov, k.regions, k.pmeta, k.pu, k.ver],
      [userId, profileOf(input, numbers), input.region, now, numbers.join('\n')],
    )) as Reply;
    if (r[0] === '!') {
      if (r[1] === 'number_taken') throw storeErrors.numberTaken(String(r[2]));
      throw storeErrors.regionUnavailable(String(r[2]), String(r[3]));
    }
    return { user: userFrom(userId, String(r[3]), r[2] ? String(r[2]) : null), created: Number(r[1]) === 1 };
  }

  private async loadUsers(orgId: string, ids: string[]): Promise<(VersionedUser | null)[]> {
    if (ids.length === 0) return [];
    const k = this.k(orgId);
    const r = (await this.conn.run('get_users', [k.profile, k.prov, k.uver], ids)) as Reply;
    return ids.map((id, i) => {
      const profile = r[i * 3];
      return profile ? { user: userFrom(id, String(profile), r[i * 3 + 1] as string | null), version: Number(r[i * 3 + 2] ?? 0) } : null;
    });
  }

  async getUser(orgId: string, userId: string): Promise<User | null> {
    return (await this.loadUsers(orgId, [userId]))[0]?.user ?? null;
  }

  async getUserVersioned(orgId: string, userId: string): Promise<VersionedUser | null> {
    return (await this.loadUsers(orgId, [userId]))[0];
  }

  async tokenVersion(orgId: string, userId: string): Promise<number> {
    return Number((await this.redis.hget(this.k(orgId).tokver, userId)) ?? 0);
  }

  async deleteUser(orgId: string, userId: string): Promise<boolean> {
    const k = this.k(orgId);
    const r = await this.conn.run('delete_user', [k.profile, k.uver, k.users, k.dids, k.region, k.prov, k.regions, k.pu, k.ver, k.tokver], [userId]);
    return Number(r) === 1;
  }

  async listUsers(orgId: string, q: UserQuery): Promise<Page<User>> {
    const k = this.k(orgId);
    const n = clampLimit(q.limit);
    const want = n + 1;
    const collected: string[] = [];
    const range = q.providerId !== undefined ? providerUserRange(q.providerId) : { min: '-', max: '+' };
    const strip = q.providerId !== undefined ? q.providerId.length + 1 : 0;
    // the cursor is a user id; within a provider's range the member is "<providerId> <userId>"
    const after = decodeCursor(q.cursor);
    let pos = after === undefined ? '' : q.providerId !== undefined ? `${q.providerId} ${after}` : after;
    while (collected.length < want) {
      const r = (await this.conn.run(
        'page_users',
        [q.providerId !== undefined ? k.pu : k.users, k.region, k.prov],
        [pos, want - collected.length, PAGE_SCAN, range.min, range.max, strip, q.region ?? '', q.unassigned ? '1' : ''],
      )) as string[];
      collected.push(...r.slice(1));
      if (r[0] === '') break;
      pos = r[0];
    }
    const ids = collected.slice(0, n);
    const users = (await this.loadUsers(orgId, ids)).filter((u): u is VersionedUser => u !== null).map((u) => u.user);
    return { items: users, nextCursor: collected.length > n ? encodeCursor(ids[n - 1]) : null };
  }

  async orgRegions(orgId: string): Promise<string[]> {
    return (await this.redis.hkeys(this.k(orgId).regions)).sort();
  }

  async findUserByNumber(orgId: string, e164: string): Promise<User | null> {
    const id = await this.redis.hget(this.k(orgId).dids, e164);
    return id === null ? null : this.getUser(orgId, id);
  }

  async orgConfig(orgId: string): Promise<OrgConfig> {
    const k = this.k(orgId);
    const [version, providers, settings, regions] = (await this.conn.run('org_config', [k.ver, k.providers, k.settings, k.regions], [])) as [number, string[], string[], string[]];
    const out: OrgConfig = { version: Number(version), providers: [], settings: {}, regions: [...regions].sort() };
    for (let i = 0; i + 1 < providers.length; i += 2) out.providers.push(providerFrom(orgId, providers[i + 1]));
    for (let i = 0; i + 1 < settings.length; i += 2) out.settings[settings[i]] = JSON.parse(settings[i + 1]);
    return out;
  }

  // ---- providers ----

  async createProvider(orgId: string, providerId: string, input: ProviderInput, now: string): Promise<Provider> {
    const k = this.k(orgId);
    // the global lookup lives in another slot, so it is claimed first and undone if the org refuses
    const orgKey = this.keys.providerOrg(providerId);
    if ((await this.redis.set(orgKey, orgId, 'NX')) !== 'OK') throw storeErrors.providerExists(providerId);
    const { health, ...rest } = input;
    const p: Provider = { id: providerId, orgId, ...rest, ...(health ? { health } : {}), regions: input.regions ?? {}, createdAt: now, updatedAt: now };
    const ok = Number(await this.conn.run('create_provider', [k.providers, k.pmeta, k.ver], [providerId, providerJson(p), metaOf(p)]));
    if (ok !== 1) {
      await this.redis.del(orgKey);
      throw storeErrors.providerExists(providerId);
    }
    return p;
  }

  async getProvider(orgId: string, providerId: string): Promise<Provider | null> {
    const v = await this.redis.hget(this.k(orgId).providers, providerId);
    return v ? providerFrom(orgId, v) : null;
  }

  getProviderOrg(providerId: string): Promise<string | null> {
    return this.redis.get(this.keys.providerOrg(providerId));
  }

  async listProviders(orgId: string): Promise<Provider[]> {
    const h = await this.redis.hgetall(this.k(orgId).providers);
    return Object.values(h)
      .map((v) => providerFrom(orgId, v))
      .sort((a, b) => (a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async updateProvider(orgId: string, providerId: string, patch: ProviderPatch & { scope?: Provider['scope'] }, now: string): Promise<Provider> {
    const k = this.k(orgId);
    // optimistic: the script replaces the record only if it is still the one read here
    for (let attempt = 0; ; attempt++) {
      const raw = await this.redis.hget(k.providers, providerId);
      if (!raw) throw storeErrors.providerNotFound(providerId);
      const cur = providerFrom(orgId, raw);
      const { health: _h, ...keep } = cur;
      const next: Provider = {
        ...(patch.health === null ? keep : cur),
        ...(patch.health ? { health: patch.health } : {}),
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.config !== undefined ? { config: patch.config } : {}),
        ...(patch.regions !== undefined ? { regions: patch.regions } : {}),
        ...(patch.priority !== undefined ? { priority: patch.priority } : {}),
        ...(patch.futureUsers !== undefined ? { futureUsers: patch.futureUsers } : {}),
        ...(patch.scope !== undefined ? { scope: patch.scope } : {}),
        ...(patch.recording !== undefined ? { recording: patch.recording } : {}),
        ...(patch.voicemail !== undefined ? { voicemail: patch.voicemail } : {}),
        updatedAt: now,
      };
      const range = providerUserRange(providerId);
      const r = (await this.conn.run(
        'update_provider',
        [k.providers, k.pmeta, k.pu, k.region, k.ver],
        [providerId, raw, providerJson(next), metaOf(next), patch.regions !== undefined ? '1' : '0', range.min, range.max],
      )) as Reply;
      if (r[0] === 'ok') return next;
      if (r[1] === 'provider_not_found') throw storeErrors.providerNotFound(providerId);
      if (r[1] === 'region_unavailable') {
        const users: { userId: string; region: string }[] = [];
        for (let i = 3; i + 1 < r.length; i += 2) users.push({ userId: String(r[i]), region: String(r[i + 1]) });
        throw storeErrors.regionsStrandUsers(providerId, Number(r[2]), users.slice(0, 10));
      }
      if (attempt >= 20) throw new Error(`provider ${providerId} kept changing while it was being updated`);
    }
  }

  async deleteProvider(orgId: string, providerId: string, force: boolean): Promise<boolean> {
    const k = this.k(orgId);
    const range = providerUserRange(providerId);
    const r = (await this.conn.run('delete_provider', [k.providers, k.pmeta, k.pu, k.prov, k.health, k.ver, k.tokver], [providerId, force ? '1' : '0', range.min, range.max])) as Reply;
    if (r[0] === '!') throw storeErrors.providerHasUsers(providerId, Number(r[2]));
    if (Number(r[1]) !== 1) return false;
    // only after the org no longer has it, so webhooks never resolve to a half-deleted provider's org
    const orgKey = this.keys.providerOrg(providerId);
    if ((await this.redis.get(orgKey)) === orgId) await this.redis.del(orgKey);
    return true;
  }

  async userCount(orgId: string, providerId: string): Promise<number> {
    const range = providerUserRange(providerId);
    return this.redis.zlexcount(this.k(orgId).pu, range.min, range.max);
  }

  async userCounts(orgId: string): Promise<Record<string, number>> {
    const k = this.k(orgId);
    const ids = await this.redis.hkeys(k.providers);
    const counts = await Promise.all(ids.map((id) => this.userCount(orgId, id)));
    return Object.fromEntries(ids.map((id, i) => [id, counts[i]]));
  }

  listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>> {
    return this.listUsers(orgId, { ...q, providerId });
  }

  // ---- assignment ----

  async assignUsers(orgId: string, providerId: string, userIds: string[]): Promise<AssignResult> {
    const k = this.k(orgId);
    const r = (await this.conn.run('assign_users', [k.pmeta, k.pu, k.region, k.prov], [providerId, ...dedupe(userIds)])) as Reply;
    if (r[0] === '!') throw storeErrors.providerNotFound(providerId);
    const assigned = outcomes(r, 1)
      .filter(([, code]) => code === 'a')
      .map(([userId]) => userId);
    return { assigned, conflicts: conflictsFrom(r, 1) };
  }

  async unassignUser(orgId: string, providerId: string, userId: string): Promise<boolean> {
    const k = this.k(orgId);
    return Number(await this.conn.run('unassign_user', [k.prov, k.pu, k.tokver], [providerId, userId])) === 1;
  }

  async moveUser(orgId: string, userId: string, toProviderId: string): Promise<User> {
    const k = this.k(orgId);
    const r = (await this.conn.run('move_user', [k.pmeta, k.pu, k.region, k.prov, k.profile, k.uver, k.tokver], [userId, toProviderId])) as Reply;
    if (r[0] === '!') {
      if (r[1] === 'user_not_found') throw storeErrors.userNotFound(userId);
      if (r[1] === 'provider_not_found') throw storeErrors.providerNotFound(toProviderId);
      throw storeErrors.regionUnavailable(String(r[2]), String(r[3]));
    }
    return userFrom(userId, String(r[1]), toProviderId);
  }

  async installAll(orgId: string, providerId: string, futureUsers: boolean, now: string): Promise<AssignResult> {
    const k = this.k(orgId);
    // scope and futureUsers first: a user created while the batches run joins through futureUsers
    await this.updateProvider(orgId, providerId, { futureUsers, scope: 'all' }, now);
    const assigned: string[] = [];
    const conflicts: Conflict[] = [];
    let cursor = '';
    do {
      const r = (await this.conn.run('install_all', [k.pmeta, k.pu, k.users, k.region, k.prov], [providerId, cursor, this.installBatch])) as Reply;
      if (r[0] === '!') throw storeErrors.providerNotFound(providerId);
      const count = Number(r[2]);
      for (let i = 3; i < 3 + count; i++) assigned.push(String(r[i]));
      conflicts.push(...conflictsFrom(r, 3 + count));
      cursor = String(r[1]);
    } while (cursor !== '');
    return { assigned, conflicts };
  }
}
