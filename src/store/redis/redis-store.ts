// The production store: Redis through ioredis. Every rule that spans keys runs as one Lua script
// (./lua, one file per script); Node never reads then writes to keep an invariant.
//
// Key layout (P = "<keyPrefix>{org:<orgId>}:" so one org's keys share a Redis Cluster slot):
//   P org                  org JSON                      P crm            CRM config JSON
//   P users                zset (score 0) of user ids    P dids           hash DID → user id
//   P u:<userId>           hash: profile (JSON), region, nums ("\n"-joined DIDs), createdAt, updatedAt
//   P region               hash user id → region (also marks that the user exists)
//   P prov                 hash user id → provider id (absent = unassigned)
//   (region and assignment live in org-wide hashes so install-all reads and writes a batch of
//   2,000 users with a handful of commands instead of a few per user)
//   P providers            set of provider ids
//   P p:<providerId>       hash: kind, name, config, regions (JSON), allow/deny (",CA,US,"), priority,
//                          scope, future ('1'|'0'), createdAt, updatedAt
//   P pu:<providerId>      zset (score 0) of the provider's user ids
//   P c:<callId>           hash: base (JSON of the fixed fields), status, updatedAt, history (JSON),
//                          answeredAt, answeredAtMs, endedAt, durationSec, providerCallId, crmLog (JSON)
//   P calls, P uc:<userId> zsets (score 0) of "<15-digit ms>:<callId>", read newest first
//   P pc:<providerId>:<providerCallId>   call id
//   P idem:<key>           idempotency record JSON, with a TTL
// Global single-key lookups: <keyPrefix>apikey:<keyId>, <keyPrefix>provider-org:<providerId>,
// <keyPrefix>shared:<key> (SharedState).

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { isTerminal } from '../../calls/state-machine.js';
import type {
  ApiKeyRecord,
  AssignResult,
  Call,
  CallStatus,
  Conflict,
  CrmLogState,
  Org,
  Page,
  Provider,
  User,
  UserInput,
} from '../../domain/types.js';
import { ADMITTED, admissionWire, refusedBy, type Admission, type LimitResult } from '../../domain/limits.js';
import { storeErrors } from '../errors.js';
import { callSortKey, clampLimit, decodeCursor, dedupe, encodeCursor } from '../rules.js';
import type {
  CallQuery,
  IdempotencyRecord,
  ProviderInput,
  ProviderPatch,
  PutUserResult,
  SharedState,
  Store,
  TransitionInput,
  TransitionResult,
} from '../store.js';
import type { LuaScript } from './lua-script.js';
import { luaScripts, type ScriptName } from './scripts.js';

export interface RedisStoreOptions {
  /** Prepended to every key (default "dg:"); tests and benchmarks use a random one. */
  keyPrefix?: string;
  /** Users handled per install_all script run (default 2000). */
  installBatch?: number;
}

type Reply = (string | number | null)[];

/** Users examined per page script run before Node asks again (keeps each run short). */
const PAGE_SCAN = 5000;

/** Fields of a call that change after creation and so live in their own hash fields. */
const MUTABLE_CALL_FIELDS = [
  'status',
  'updatedAt',
  'history',
  'answeredAt',
  'endedAt',
  'durationSec',
  'providerCallId',
  'crmLog',
] as const;

function pairs(flat: Reply, from = 0): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = from; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

function regionList(list: string[] | undefined): string {
  return list && list.length > 0 ? `,${list.join(',')},` : '';
}

function userFrom(id: string, h: Record<string, string>, providerId: string | null): User {
  const profile = JSON.parse(h.profile ?? '{}') as Partial<User>;
  return {
    id,
    ...profile,
    region: h.region,
    numbers: h.nums ? h.nums.split('\n') : [],
    providerId,
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
  };
}

function providerFrom(orgId: string, id: string, h: Record<string, string>): Provider {
  return {
    id,
    orgId,
    kind: h.kind,
    name: h.name,
    config: JSON.parse(h.config) as Record<string, unknown>,
    regions: JSON.parse(h.regions) as Provider['regions'],
    priority: Number(h.priority),
    scope: h.scope as Provider['scope'],
    futureUsers: h.future === '1',
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
  };
}

function callFrom(h: Record<string, string>): Call {
  const call = JSON.parse(h.base) as Call;
  call.status = h.status as CallStatus;
  call.updatedAt = h.updatedAt;
  call.history = JSON.parse(h.history ?? '[]') as Call['history'];
  if (h.answeredAt !== undefined) call.answeredAt = h.answeredAt;
  if (h.endedAt !== undefined) call.endedAt = h.endedAt;
  if (h.durationSec !== undefined) call.durationSec = Number(h.durationSec);
  if (h.providerCallId !== undefined) call.providerCallId = h.providerCallId;
  if (h.crmLog !== undefined) call.crmLog = JSON.parse(h.crmLog) as CrmLogState;
  return call;
}

function callFields(call: Call): string[] {
  const base: Record<string, unknown> = { ...call };
  for (const f of MUTABLE_CALL_FIELDS) delete base[f];
  const fv = ['base', JSON.stringify(base), 'status', call.status, 'updatedAt', call.updatedAt, 'history', JSON.stringify(call.history ?? [])];
  if (call.answeredAt !== undefined) {
    fv.push('answeredAt', call.answeredAt);
    const ms = Date.parse(call.answeredAt);
    if (Number.isFinite(ms)) fv.push('answeredAtMs', String(ms));
  }
  if (call.endedAt !== undefined) fv.push('endedAt', call.endedAt);
  if (call.durationSec !== undefined) fv.push('durationSec', String(call.durationSec));
  if (call.providerCallId !== undefined) fv.push('providerCallId', call.providerCallId);
  if (call.crmLog !== undefined) fv.push('crmLog', JSON.stringify(call.crmLog));
  return fv;
}

function profileOf(input: UserInput, numbers: string[]): string {
  const p: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) p[k] = v;
  p.numbers = numbers;
  return JSON.stringify(p);
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

class RedisSharedState implements SharedState {
  constructor(
    private readonly store: RedisStore,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(k: string): string {
    return `${this.prefix}shared:${k}`;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.key(key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs && ttlMs > 0) await this.redis.set(this.key(key), value, 'PX', Math.ceil(ttlMs));
    else await this.redis.set(this.key(key), value);
  }

  async del(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    const token = randomBytes(16).toString('hex');
    const ok = await this.redis.set(this.key(key), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return ok === 'OK' ? token : null;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.store.run('release_lock', [this.key(key)], [token]);
  }
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly shared: SharedState;
  private readonly prefix: string;
  private readonly installBatch: number;
  private readonly scripts: Map<ScriptName, LuaScript>;

  /** Takes ownership of the client: close() quits it. */
  constructor(
    private readonly redis: Redis,
    opts: RedisStoreOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? 'dg:';
    this.installBatch = opts.installBatch ?? 2000;
    this.scripts = luaScripts();
    this.shared = new RedisSharedState(this, redis, this.prefix);
  }

  /** A store on its own connection to `url` (connects in the background; ping() tells readiness). */
  static connect(url: string, opts: RedisStoreOptions = {}): RedisStore {
    const redis = new Redis(url, { maxRetriesPerRequest: 3 });
    // commands reject with the error themselves; without a listener ioredis prints every failed
    // reconnect as "[ioredis] Unhandled error event" with a stack (seen in the worker while Redis restarted)
    redis.on('error', () => {});
    return new RedisStore(redis, opts);
  }

  /** @internal runs a named Lua script */
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.scripts.get(name)!.run(this.redis, keys, args);
  }

  private o(orgId: string): string {
    return `${this.prefix}{org:${orgId}}:`;
  }

  // ---- orgs and keys ----

  async createOrg(org: Org, key: ApiKeyRecord): Promise<void> {
    await this.redis.set(`${this.o(org.id)}org`, JSON.stringify(org));
    await this.redis.set(`${this.prefix}apikey:${key.keyId}`, JSON.stringify(key));
  }

  async getOrg(orgId: string): Promise<Org | null> {
    const v = await this.redis.get(`${this.o(orgId)}org`);
    return v ? (JSON.parse(v) as Org) : null;
  }

  async getApiKey(keyId: string): Promise<ApiKeyRecord | null> {
    const v = await this.redis.get(`${this.prefix}apikey:${keyId}`);
    return v ? (JSON.parse(v) as ApiKeyRecord) : null;
  }

  // ---- users ----

  async putUser(orgId: string, userId: string, input: UserInput, now: string): Promise<PutUserResult> {
    const P = this.o(orgId);
    const numbers = dedupe(input.numbers ?? []);
    const r = (await this.run(
      'put_user',
      [`${P}u:${userId}`, `${P}users`, `${P}dids`, `${P}providers`, `${P}region`, `${P}prov`],
      [P, userId, profileOf(input, numbers), input.region, now, numbers.join('\n')],
    )) as Reply;
    if (r[0] === '!') {
      if (r[1] === 'number_taken') throw storeErrors.numberTaken(String(r[2]));
      throw storeErrors.regionUnavailable(String(r[2]), String(r[3]));
    }
    return { user: userFrom(userId, pairs(r, 3), r[2] ? String(r[2]) : null), created: Number(r[1]) === 1 };
  }

  async getUser(orgId: string, userId: string): Promise<User | null> {
    const P = this.o(orgId);
    const r = (await this.run('get_user', [`${P}u:${userId}`, `${P}prov`], [userId])) as Reply;
    return r.length === 0 ? null : userFrom(userId, pairs(r, 1), r[0] ? String(r[0]) : null);
  }

  async deleteUser(orgId: string, userId: string): Promise<boolean> {
    const P = this.o(orgId);
    const r = await this.run('delete_user', [`${P}u:${userId}`, `${P}users`, `${P}dids`, `${P}region`, `${P}prov`], [P, userId]);
    return Number(r) === 1;
  }

  async listUsers(
    orgId: string,
    q: { limit: number; cursor?: string; providerId?: string; region?: string; unassigned?: boolean },
  ): Promise<Page<User>> {
    const P = this.o(orgId);
    const index = q.providerId !== undefined ? `${P}pu:${q.providerId}` : `${P}users`;
    const conds: string[] = [];
    if (q.region !== undefined) conds.push('o', `${P}region`, q.region);
    if (q.unassigned) conds.push('o', `${P}prov`, '');
    const { members, nextCursor } = await this.page(index, `${P}u:`, 'asc', false, q.cursor, q.limit, conds);
    return { items: await this.loadUsers(P, members), nextCursor };
  }

  async findUserByNumber(orgId: string, e164: string): Promise<User | null> {
    const id = await this.redis.hget(`${this.o(orgId)}dids`, e164);
    return id === null ? null : this.getUser(orgId, id);
  }

  private async loadUsers(P: string, ids: string[]): Promise<User[]> {
    if (ids.length === 0) return [];
    // MULTI so each user's profile and assignment are read at one instant
    const tx = this.redis.multi();
    for (const id of ids) tx.hgetall(`${P}u:${id}`).hget(`${P}prov`, id);
    const res = (await tx.exec()) ?? [];
    const out: User[] = [];
    ids.forEach((id, i) => {
      const [e1, h] = res[2 * i];
      const [e2, prov] = res[2 * i + 1];
      if (e1 || e2) throw e1 ?? e2;
      const hash = h as Record<string, string>;
      if (hash.region !== undefined) out.push(userFrom(id, hash, (prov as string | null) ?? null)); // else deleted since the page was read
    });
    return out;
  }

  /**
   * A page of index members that match every condition, walking the index with the page script
   * until the page is full (plus one member, to know whether another page exists).
   */
  private async page(
    index: string,
    itemPrefix: string,
    dir: 'asc' | 'desc',
    sorted: boolean,
    cursor: string | undefined,
    limit: number,
    conds: string[],
  ): Promise<{ members: string[]; nextCursor: string | null }> {
    const n = clampLimit(limit);
    const want = n + 1;
    const collected: string[] = [];
    let pos = decodeCursor(cursor) ?? '';
    while (collected.length < want) {
      const r = (await this.run('page', [index], [itemPrefix, dir, pos, want - collected.length, PAGE_SCAN, sorted ? '1' : '0', ...conds])) as string[];
      collected.push(...r.slice(1));
      if (r[0] === '') break;
      pos = r[0];
    }
    const members = collected.slice(0, n);
    return { members, nextCursor: collected.length > n ? encodeCursor(members[n - 1]) : null };
  }

  // ---- providers ----

  private providerFields(input: ProviderInput | ProviderPatch): string[] {
    const fv: string[] = [];
    if ('kind' in input && input.kind !== undefined) fv.push('kind', input.kind);
    if (input.name !== undefined) fv.push('name', input.name);
    if (input.config !== undefined) fv.push('config', JSON.stringify(input.config));
    if (input.regions !== undefined) {
      fv.push('regions', JSON.stringify(input.regions), 'allow', regionList(input.regions.allow), 'deny', regionList(input.regions.deny));
    }
    if (input.priority !== undefined) fv.push('priority', String(input.priority));
    if ('scope' in input && input.scope !== undefined) fv.push('scope', input.scope);
    if (input.futureUsers !== undefined) fv.push('future', input.futureUsers ? '1' : '0');
    return fv;
  }

  async createProvider(orgId: string, providerId: string, input: ProviderInput, now: string): Promise<Provider> {
    const P = this.o(orgId);
    // the global lookup lives in another slot, so it is claimed first and undone if the org refuses
    const orgKey = `${this.prefix}provider-org:${providerId}`;
    const claimed = await this.redis.set(orgKey, orgId, 'NX');
    if (claimed !== 'OK') throw storeErrors.providerExists(providerId);
    const fv = this.providerFields({ ...input, regions: input.regions ?? {} });
    fv.push('createdAt', now, 'updatedAt', now);
    const r = (await this.run('create_provider', [`${P}p:${providerId}`, `${P}providers`], [providerId, ...fv])) as Reply;
    if (r[0] === '!') {
      await this.redis.del(orgKey);
      throw storeErrors.providerExists(providerId);
    }
    return providerFrom(orgId, providerId, pairs(r, 1));
  }

  async getProvider(orgId: string, providerId: string): Promise<Provider | null> {
    const h = await this.redis.hgetall(`${this.o(orgId)}p:${providerId}`);
    return h.kind !== undefined ? providerFrom(orgId, providerId, h) : null;
  }

  getProviderOrg(providerId: string): Promise<string | null> {
    return this.redis.get(`${this.prefix}provider-org:${providerId}`);
  }

  async listProviders(orgId: string): Promise<Provider[]> {
    const P = this.o(orgId);
    const ids = await this.redis.smembers(`${P}providers`);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(`${P}p:${id}`);
    const res = (await pipe.exec()) ?? [];
    const out: Provider[] = [];
    res.forEach(([err, h], i) => {
      if (err) throw err;
      const hash = h as Record<string, string>;
      if (hash.kind !== undefined) out.push(providerFrom(orgId, ids[i], hash));
    });
    return out.sort((a, b) =>
      a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
  }

  async updateProvider(orgId: string, providerId: string, patch: ProviderPatch, now: string): Promise<Provider> {
    const fv = this.providerFields(patch);
    fv.push('updatedAt', now);
    const P = this.o(orgId);
    const r = (await this.run('update_provider', [`${P}p:${providerId}`, `${P}pu:${providerId}`, `${P}region`], fv)) as Reply;
    if (r[0] === '!' && r[1] === 'region_unavailable') {
      const users: { userId: string; region: string }[] = [];
      for (let i = 3; i + 1 < r.length; i += 2) users.push({ userId: String(r[i]), region: String(r[i + 1]) });
      throw storeErrors.regionsStrandUsers(providerId, Number(r[2]), users);
    }
    if (r[0] === '!') throw storeErrors.providerNotFound(providerId);
    return providerFrom(orgId, providerId, pairs(r, 1));
  }

  async deleteProvider(orgId: string, providerId: string, force: boolean): Promise<boolean> {
    const P = this.o(orgId);
    const r = (await this.run(
      'delete_provider',
      [`${P}p:${providerId}`, `${P}providers`, `${P}pu:${providerId}`, `${P}prov`],
      [providerId, force ? '1' : '0'],
    )) as Reply;
    if (r[0] === '!') throw storeErrors.providerHasUsers(providerId, Number(r[2]));
    if (Number(r[1]) !== 1) return false;
    // only after the org no longer has it, so webhooks never resolve to a half-deleted provider's org
    const orgKey = `${this.prefix}provider-org:${providerId}`;
    if ((await this.redis.get(orgKey)) === orgId) await this.redis.del(orgKey);
    return true;
  }

  userCount(orgId: string, providerId: string): Promise<number> {
    return this.redis.zcard(`${this.o(orgId)}pu:${providerId}`);
  }

  async userCounts(orgId: string): Promise<Record<string, number>> {
    const P = this.o(orgId);
    const ids = await this.redis.smembers(`${P}providers`);
    if (ids.length === 0) return {};
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.zcard(`${P}pu:${id}`);
    const res = (await pipe.exec()) ?? [];
    const out: Record<string, number> = {};
    res.forEach(([err, n], i) => {
      if (err) throw err;
      out[ids[i]] = Number(n);
    });
    return out;
  }

  listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>> {
    return this.listUsers(orgId, { ...q, providerId });
  }

  // ---- assignment ----

  async assignUsers(orgId: string, providerId: string, userIds: string[]): Promise<AssignResult> {
    const P = this.o(orgId);
    const r = (await this.run(
      'assign_users',
      [`${P}p:${providerId}`, `${P}pu:${providerId}`, `${P}region`, `${P}prov`],
      [providerId, ...dedupe(userIds)],
    )) as Reply;
    if (r[0] === '!') throw storeErrors.providerNotFound(providerId);
    const assigned = outcomes(r, 1)
      .filter(([, code]) => code === 'a')
      .map(([userId]) => userId);
    return { assigned, conflicts: conflictsFrom(r, 1) };
  }

  async unassignUser(orgId: string, providerId: string, userId: string): Promise<boolean> {
    const P = this.o(orgId);
    const r = await this.run('unassign_user', [`${P}prov`, `${P}pu:${providerId}`], [providerId, userId]);
    return Number(r) === 1;
  }

  async moveUser(orgId: string, userId: string, toProviderId: string): Promise<User> {
    const P = this.o(orgId);
    const r = (await this.run(
      'move_user',
      [`${P}u:${userId}`, `${P}p:${toProviderId}`, `${P}pu:${toProviderId}`, `${P}region`, `${P}prov`],
      [P, userId, toProviderId],
    )) as Reply;
    if (r[0] === '!') {
      if (r[1] === 'user_not_found') throw storeErrors.userNotFound(userId);
      if (r[1] === 'provider_not_found') throw storeErrors.providerNotFound(toProviderId);
      throw storeErrors.regionUnavailable(String(r[2]), String(r[3]));
    }
    return userFrom(userId, pairs(r, 2), String(r[1]));
  }

  async installAll(orgId: string, providerId: string, futureUsers: boolean, now: string): Promise<AssignResult> {
    const P = this.o(orgId);
    const keys = [`${P}p:${providerId}`, `${P}pu:${providerId}`, `${P}users`, `${P}region`, `${P}prov`];
    const assigned: string[] = [];
    const conflicts: Conflict[] = [];
    let cursor = '';
    let first = true;
    do {
      const r = (await this.run('install_all', keys, [providerId, first ? '1' : '0', futureUsers ? '1' : '0', now, cursor, this.installBatch])) as Reply;
      if (r[0] === '!') throw storeErrors.providerNotFound(providerId);
      const count = Number(r[2]);
      for (let i = 3; i < 3 + count; i++) assigned.push(String(r[i]));
      conflicts.push(...conflictsFrom(r, 3 + count));
      cursor = String(r[1]);
      first = false;
    } while (cursor !== '');
    return { assigned, conflicts };
  }

  // ---- calls ----

  async createCall(call: Call, admission?: Admission): Promise<LimitResult> {
    const P = this.o(call.orgId);
    const hasUser = call.userId !== undefined && call.userId !== '';
    const pcid = call.providerCallId;
    const fv = callFields(call);
    const keys = [`${P}c:${call.id}`, `${P}calls`, `${P}uc:${hasUser ? call.userId : ''}`, `${P}pc:${pcid ? `${call.providerId}:${pcid}` : ''}`];
    const args: (string | number)[] = [callSortKey(call.createdAt, call.id), hasUser ? '1' : '0', pcid ? call.id : '', fv.length, ...fv];
    if (admission) {
      // the limits' keys carry the same {org:ID} tag (PolicyService builds them), so one slot
      const wire = admissionWire(admission, Date.now());
      keys.push(...wire.keys);
      args.push(...wire.args);
    }
    const r = (await this.run('create_call', keys, args)) as number[];
    return r[0] === 1 ? ADMITTED : refusedBy(admission!, r[1], r[2]);
  }

  async getCall(orgId: string, callId: string): Promise<Call | null> {
    const h = await this.redis.hgetall(`${this.o(orgId)}c:${callId}`);
    return h.base !== undefined ? callFrom(h) : null;
  }

  async listCalls(orgId: string, q: CallQuery): Promise<Page<Call>> {
    const P = this.o(orgId);
    const index = q.userId !== undefined ? `${P}uc:${q.userId}` : `${P}calls`;
    const conds = q.status !== undefined ? ['h', 'status', q.status] : [];
    const { members, nextCursor } = await this.page(index, `${P}c:`, 'desc', true, q.cursor, q.limit, conds);
    if (members.length === 0) return { items: [], nextCursor };
    const pipe = this.redis.pipeline();
    for (const m of members) pipe.hgetall(`${P}c:${m.slice(m.indexOf(':') + 1)}`);
    const res = (await pipe.exec()) ?? [];
    const items: Call[] = [];
    for (const [err, h] of res) {
      if (err) throw err;
      const hash = h as Record<string, string>;
      if (hash.base !== undefined) items.push(callFrom(hash));
    }
    return { items, nextCursor };
  }

  async findCallByProviderCallId(orgId: string, providerId: string, providerCallId: string): Promise<Call | null> {
    const id = await this.redis.get(`${this.o(orgId)}pc:${providerId}:${providerCallId}`);
    return id === null ? null : this.getCall(orgId, id);
  }

  async transition(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null> {
    const ms = Date.parse(input.at);
    const P = this.o(orgId);
    const link = input.linkProviderId !== undefined && input.providerCallId !== undefined;
    const r = (await this.run(
      'transition',
      [`${P}c:${callId}`, link ? `${P}pc:${input.linkProviderId}:${input.providerCallId}` : `${P}pc:`],
      [
        input.status,
        input.at,
        Number.isFinite(ms) ? String(ms) : '',
        input.cause ?? '',
        input.providerCallId ?? '',
        input.durationSec !== undefined ? String(input.durationSec) : '',
        link ? callId : '',
      ],
    )) as Reply;
    if (r[0] === 'none') return null;
    const applied = Number(r[1]) === 1;
    const call = callFrom(pairs(r, 2));
    // applied + terminal can happen once only: the script refuses every move out of a terminal status
    return { applied, call, becameTerminal: applied && isTerminal(input.status) };
  }

  async setCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<void> {
    const r = await this.run('set_crm_log', [`${this.o(orgId)}c:${callId}`], [JSON.stringify(state)]);
    if (Number(r) !== 1) throw storeErrors.callNotFound(callId);
  }

  /**
   * The first crmLog of a call (the call-log job was just queued): written only when the call
   * exists and has none yet, so it never overwrites what a worker has recorded. True if written.
   */
  async initCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<boolean> {
    return Number(await this.run('init_crm_log', [`${this.o(orgId)}c:${callId}`], [JSON.stringify(state)])) === 1;
  }

  /**
   * What a call-log job needs, in one round trip instead of three: the call, its user and the
   * org's CRM config (also as stored, so the caller can tell an unchanged config cheaply).
   */
  async loadCallLogContext(
    orgId: string,
    callId: string,
  ): Promise<{ call: Call | null; user: User | null; crmConfig: Record<string, unknown> | null; crmConfigJson: string | null }> {
    const P = this.o(orgId);
    const [c, crm, u, prov] = (await this.run('call_log_context', [`${P}c:${callId}`, `${P}crm`, `${P}prov`], [`${P}u:`])) as [
      Reply,
      string | null,
      Reply,
      string | null,
    ];
    const ch = pairs(c);
    const call = ch.base !== undefined ? callFrom(ch) : null;
    const uh = pairs(u);
    const user = call?.userId && uh.region !== undefined ? userFrom(call.userId, uh, prov ?? null) : null;
    return { call, user, crmConfig: crm ? (JSON.parse(crm) as Record<string, unknown>) : null, crmConfigJson: crm ?? null };
  }

  async orgRegions(orgId: string): Promise<string[]> {
    // HSCAN keeps a huge org from blocking Redis with one HVALS reply
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(`${this.o(orgId)}region`, cursor, 'COUNT', 5000);
      for (let i = 1; i < flat.length; i += 2) seen.add(flat[i]);
      cursor = next;
    } while (cursor !== '0');
    return [...seen].sort();
  }

  async reassignCall(orgId: string, callId: string, to: { providerId: string; providerKind: string; failedOverFrom: string }): Promise<boolean> {
    const r = await this.run('reassign_call', [`${this.o(orgId)}c:${callId}`], [to.providerId, to.providerKind, to.failedOverFrom]);
    return Number(r) === 1;
  }

  // ---- idempotency ----

  async claimIdempotency(orgId: string, key: string, fingerprint: string, ttlSec: number): Promise<IdempotencyRecord | null> {
    const r = await this.run('idem_claim', [`${this.o(orgId)}idem:${key}`], [JSON.stringify({ fingerprint }), Math.max(1, Math.ceil(ttlSec))]);
    return r === null || r === undefined ? null : (JSON.parse(String(r)) as IdempotencyRecord);
  }

  async completeIdempotency(orgId: string, key: string, record: IdempotencyRecord, ttlSec: number): Promise<void> {
    await this.redis.set(`${this.o(orgId)}idem:${key}`, JSON.stringify(record), 'EX', Math.max(1, Math.ceil(ttlSec)));
  }

  async releaseIdempotency(orgId: string, key: string): Promise<void> {
    await this.redis.del(`${this.o(orgId)}idem:${key}`);
  }

  // ---- CRM ----

  async getCrmConfig(orgId: string): Promise<Record<string, unknown> | null> {
    const v = await this.redis.get(`${this.o(orgId)}crm`);
    return v ? (JSON.parse(v) as Record<string, unknown>) : null;
  }

  async putCrmConfig(orgId: string, config: Record<string, unknown>): Promise<void> {
    await this.redis.set(`${this.o(orgId)}crm`, JSON.stringify(config));
  }

  // ---- lifecycle ----

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), 1000);
      timer.unref();
    });
    try {
      return (await Promise.race([this.redis.ping(), timeout])) === 'PONG';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    // QUIT flushes pending replies; a client that is not connected would only queue it forever
    if (this.redis.status !== 'ready') {
      this.redis.disconnect();
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
