// Local mode's store: plain Maps in this process. Every method does its work synchronously before
// returning a settled Promise, so each one is atomic exactly like its Lua twin in the Redis store.
// Values go in and out through structuredClone so callers can never mutate stored state.
// Single instance, not durable: the gateway says so in its log when it runs on this store.

import { randomBytes } from 'node:crypto';
import { applyTransition, isTerminal } from '../../calls/state-machine.js';
import { ADMITTED, type Admission, type LimitResult } from '../../domain/limits.js';
import { MemoryLimits } from './memory-limits.js';
import type {
  ApiKeyRecord,
  AssignResult,
  Call,
  Conflict,
  CrmLogState,
  Org,
  Page,
  Provider,
  User,
  UserInput,
} from '../../domain/types.js';
import {
  callSortKey,
  clampLimit,
  decodeCursor,
  dedupe,
  encodeCursor,
  pickFutureProvider,
  servesRegion,
} from '../rules.js';
import { storeErrors } from '../errors.js';
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

interface OrgState {
  org?: Org;
  users: Map<string, User>;
  /** DID (E.164) → user id */
  dids: Map<string, string>;
  providers: Map<string, Provider>;
  /** provider id → its users' ids; always agrees with users[*].providerId */
  providerUsers: Map<string, Set<string>>;
  calls: Map<string, Call>;
  /** `${providerId}\n${providerCallId}` → call id */
  providerCalls: Map<string, string>;
  idempotency: Map<string, { record: IdempotencyRecord; expiresAt: number }>;
  crm: Record<string, unknown> | null;
}

const clone = <T>(v: T): T => structuredClone(v);
const done = <T>(v: T): Promise<T> => Promise.resolve(v);

/** Runs fn synchronously and turns a throw into a rejected Promise, so callers see one style. */
function atomic<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

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

class MemorySharedState implements SharedState {
  private readonly values = new Map<string, { value: string; expiresAt: number | null }>();

  private live(key: string): string | null {
    const e = this.values.get(key);
    if (!e) return null;
    if (e.expiresAt !== null && e.expiresAt <= Date.now()) {
      this.values.delete(key);
      return null;
    }
    return e.value;
  }

  get(key: string): Promise<string | null> {
    return done(this.live(key));
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : null });
    return done(undefined);
  }

  del(key: string): Promise<void> {
    this.values.delete(key);
    return done(undefined);
  }

  acquireLock(key: string, ttlMs: number): Promise<string | null> {
    if (this.live(key) !== null) return done(null);
    const token = randomBytes(16).toString('hex');
    this.values.set(key, { value: token, expiresAt: Date.now() + ttlMs });
    return done(token);
  }

  releaseLock(key: string, token: string): Promise<void> {
    if (this.live(key) === token) this.values.delete(key);
    return done(undefined);
  }
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly shared: SharedState = new MemorySharedState();
  /** call limits, taken as click-to-calls are created; shared with MemoryRateLimiter */
  readonly limits = new MemoryLimits();
  private readonly orgs = new Map<string, OrgState>();
  private readonly apiKeys = new Map<string, ApiKeyRecord>();
  private readonly providerOrg = new Map<string, string>();

  private org(orgId: string): OrgState {
    let s = this.orgs.get(orgId);
    if (!s) {
      s = {
        users: new Map(),
        dids: new Map(),
        providers: new Map(),
        providerUsers: new Map(),
        calls: new Map(),
        providerCalls: new Map(),
        idempotency: new Map(),
        crm: null,
      };
      this.orgs.set(orgId, s);
    }
    return s;
  }

  // ---- orgs and keys ----

  createOrg(org: Org, key: ApiKeyRecord): Promise<void> {
    this.org(org.id).org = clone(org);
    this.apiKeys.set(key.keyId, clone(key));
    return done(undefined);
  }

  getOrg(orgId: string): Promise<Org | null> {
    const o = this.orgs.get(orgId)?.org;
    return done(o ? clone(o) : null);
  }

  getApiKey(keyId: string): Promise<ApiKeyRecord | null> {
    const k = this.apiKeys.get(keyId);
    return done(k ? clone(k) : null);
  }

  // ---- users ----

  putUser(orgId: string, userId: string, input: UserInput, now: string): Promise<PutUserResult> {
    return atomic(() => {
      const s = this.org(orgId);
      const existing = s.users.get(userId);
      const numbers = dedupe(input.numbers ?? []);
      for (const n of numbers) {
        const owner = s.dids.get(n);
        if (owner !== undefined && owner !== userId) {
          throw storeErrors.numberTaken(n);
        }
      }
      let providerId: string | null = null;
      if (existing) {
        providerId = existing.providerId;
        if (providerId) {
          const p = s.providers.get(providerId);
          if (p && !servesRegion(p.regions, input.region)) {
            throw storeErrors.regionUnavailable(providerId, input.region);
          }
        }
      } else {
        providerId = pickFutureProvider(s.providers.values(), input.region)?.id ?? null;
      }

      for (const n of existing?.numbers ?? []) if (s.dids.get(n) === userId) s.dids.delete(n);
      for (const n of numbers) s.dids.set(n, userId);

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
      if (providerId && !existing) this.providerSet(s, providerId).add(userId);
      return { user: clone(user), created: !existing };
    });
  }

  getUser(orgId: string, userId: string): Promise<User | null> {
    const u = this.orgs.get(orgId)?.users.get(userId);
    return done(u ? clone(u) : null);
  }

  deleteUser(orgId: string, userId: string): Promise<boolean> {
    const s = this.org(orgId);
    const u = s.users.get(userId);
    if (!u) return done(false);
    if (u.providerId) s.providerUsers.get(u.providerId)?.delete(userId);
    for (const n of u.numbers) if (s.dids.get(n) === userId) s.dids.delete(n);
    s.users.delete(userId);
    return done(true);
  }

  listUsers(
    orgId: string,
    q: { limit: number; cursor?: string; providerId?: string; region?: string; unassigned?: boolean },
  ): Promise<Page<User>> {
    const s = this.org(orgId);
    const ids = q.providerId !== undefined ? [...(s.providerUsers.get(q.providerId) ?? [])] : [...s.users.keys()];
    ids.sort(byCodeUnit);
    return done(
      pageOf(ids, q.cursor, q.limit, (id) => {
        const u = s.users.get(id);
        if (!u) return null;
        if (q.region !== undefined && u.region !== q.region) return null;
        if (q.unassigned && u.providerId !== null) return null;
        if (q.providerId !== undefined && u.providerId !== q.providerId) return null;
        return clone(u);
      }),
    );
  }

  findUserByNumber(orgId: string, e164: string): Promise<User | null> {
    const s = this.org(orgId);
    const id = s.dids.get(e164);
    const u = id !== undefined ? s.users.get(id) : undefined;
    return done(u ? clone(u) : null);
  }

  // ---- providers ----

  createProvider(orgId: string, providerId: string, input: ProviderInput, now: string): Promise<Provider> {
    return atomic(() => {
      const s = this.org(orgId);
      if (s.providers.has(providerId) || this.providerOrg.has(providerId)) {
        throw storeErrors.providerExists(providerId);
      }
      const p: Provider = {
        id: providerId,
        orgId,
        kind: input.kind,
        name: input.name,
        config: clone(input.config),
        regions: clone(input.regions ?? {}),
        priority: input.priority,
        scope: input.scope,
        futureUsers: input.futureUsers,
        createdAt: now,
        updatedAt: now,
      };
      s.providers.set(providerId, p);
      s.providerUsers.set(providerId, new Set());
      this.providerOrg.set(providerId, orgId);
      return clone(p);
    });
  }

  getProvider(orgId: string, providerId: string): Promise<Provider | null> {
    const p = this.orgs.get(orgId)?.providers.get(providerId);
    return done(p ? clone(p) : null);
  }

  getProviderOrg(providerId: string): Promise<string | null> {
    return done(this.providerOrg.get(providerId) ?? null);
  }

  listProviders(orgId: string): Promise<Provider[]> {
    const list = [...this.org(orgId).providers.values()].sort((a, b) =>
      a.createdAt !== b.createdAt ? byCodeUnit(a.createdAt, b.createdAt) : byCodeUnit(a.id, b.id),
    );
    return done(list.map(clone));
  }

  updateProvider(orgId: string, providerId: string, patch: ProviderPatch, now: string): Promise<Provider> {
    return atomic(() => {
      const p = this.org(orgId).providers.get(providerId);
      if (!p) throw storeErrors.providerNotFound(providerId);
      if (patch.regions !== undefined) {
        const stranded: { userId: string; region: string }[] = [];
        for (const id of this.org(orgId).providerUsers.get(providerId) ?? []) {
          const u = this.org(orgId).users.get(id);
          if (u && !servesRegion(patch.regions, u.region)) stranded.push({ userId: id, region: u.region });
        }
        if (stranded.length > 0) throw storeErrors.regionsStrandUsers(providerId, stranded.length, stranded.slice(0, 10));
      }
      if (patch.name !== undefined) p.name = patch.name;
      if (patch.config !== undefined) p.config = clone(patch.config);
      if (patch.regions !== undefined) p.regions = clone(patch.regions);
      if (patch.priority !== undefined) p.priority = patch.priority;
      if (patch.futureUsers !== undefined) p.futureUsers = patch.futureUsers;
      p.updatedAt = now;
      return clone(p);
    });
  }

  deleteProvider(orgId: string, providerId: string, force: boolean): Promise<boolean> {
    return atomic(() => {
      const s = this.org(orgId);
      if (!s.providers.has(providerId)) return false;
      const members = s.providerUsers.get(providerId) ?? new Set<string>();
      if (members.size > 0 && !force) {
        throw storeErrors.providerHasUsers(providerId, members.size);
      }
      for (const id of members) {
        const u = s.users.get(id);
        if (u && u.providerId === providerId) u.providerId = null;
      }
      s.providers.delete(providerId);
      s.providerUsers.delete(providerId);
      this.providerOrg.delete(providerId);
      return true;
    });
  }

  userCount(orgId: string, providerId: string): Promise<number> {
    return done(this.orgs.get(orgId)?.providerUsers.get(providerId)?.size ?? 0);
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
        const u = s.users.get(id);
        const c = this.assignOne(s, p, u, id);
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
    return done(true);
  }

  moveUser(orgId: string, userId: string, toProviderId: string): Promise<User> {
    return atomic(() => {
      const s = this.org(orgId);
      const u = s.users.get(userId);
      if (!u) throw storeErrors.userNotFound(userId);
      const p = this.requireProvider(s, toProviderId);
      if (u.providerId === toProviderId) return clone(u);
      if (!servesRegion(p.regions, u.region)) {
        throw storeErrors.regionUnavailable(toProviderId, u.region);
      }
      if (u.providerId) s.providerUsers.get(u.providerId)?.delete(userId);
      u.providerId = toProviderId;
      this.providerSet(s, toProviderId).add(userId);
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
  private assignOne(s: OrgState, p: Provider, u: User | undefined, id: string): Conflict | null {
    if (!u) return { userId: id, reason: 'unknown_user' };
    if (u.providerId === p.id) return null;
    if (u.providerId) return { userId: id, providerId: u.providerId, reason: 'assigned_elsewhere' };
    if (!servesRegion(p.regions, u.region)) return { userId: id, reason: 'region_unavailable' };
    u.providerId = p.id;
    this.providerSet(s, p.id).add(id);
    return null;
  }

  private requireProvider(s: OrgState, providerId: string): Provider {
    const p = s.providers.get(providerId);
    if (!p) throw storeErrors.providerNotFound(providerId);
    return p;
  }

  private providerSet(s: OrgState, providerId: string): Set<string> {
    let set = s.providerUsers.get(providerId);
    if (!set) {
      set = new Set();
      s.providerUsers.set(providerId, set);
    }
    return set;
  }

  // ---- calls ----

  createCall(call: Call, admission?: Admission): Promise<LimitResult> {
    if (admission) {
      const r = this.limits.take(admission);
      if (!r.ok) return done(r);
    }
    const s = this.org(call.orgId);
    s.calls.set(call.id, clone(call));
    if (call.providerCallId) s.providerCalls.set(`${call.providerId}\n${call.providerCallId}`, call.id);
    return done(ADMITTED);
  }

  getCall(orgId: string, callId: string): Promise<Call | null> {
    const c = this.orgs.get(orgId)?.calls.get(callId);
    return done(c ? clone(c) : null);
  }

  listCalls(orgId: string, q: CallQuery): Promise<Page<Call>> {
    const s = this.org(orgId);
    const byKey = new Map<string, Call>();
    for (const c of s.calls.values()) {
      if (q.userId !== undefined && c.userId !== q.userId) continue;
      byKey.set(callSortKey(c.createdAt, c.id), c);
    }
    // newest first: walk keys in descending order, the cursor being the last key returned
    const keys = [...byKey.keys()].sort((a, b) => byCodeUnit(b, a));
    const before = decodeCursor(q.cursor);
    const n = clampLimit(q.limit);
    const items: Call[] = [];
    let last: string | null = null;
    let more = false;
    for (const k of keys) {
      if (before !== undefined && k >= before) continue;
      const c = byKey.get(k)!;
      if (q.status !== undefined && c.status !== q.status) continue;
      if (items.length === n) {
        more = true;
        break;
      }
      items.push(clone(c));
      last = k;
    }
    return done({ items, nextCursor: more && last !== null ? encodeCursor(last) : null });
  }

  findCallByProviderCallId(orgId: string, providerId: string, providerCallId: string): Promise<Call | null> {
    const s = this.org(orgId);
    const id = s.providerCalls.get(`${providerId}\n${providerCallId}`);
    const c = id !== undefined ? s.calls.get(id) : undefined;
    return done(c ? clone(c) : null);
  }

  transition(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null> {
    const s = this.orgs.get(orgId);
    const c = s?.calls.get(callId);
    if (!c) return done(null);
    if (input.linkProviderId !== undefined && input.providerCallId !== undefined) {
      s!.providerCalls.set(`${input.linkProviderId}\n${input.providerCallId}`, callId);
    }
    const { linkProviderId: _link, ...ev } = input;
    const applied = applyTransition(c, clone(ev));
    // applied + terminal can happen once only: canTransition refuses every move out of a terminal status
    return done({ applied, call: clone(c), becameTerminal: applied && isTerminal(input.status) });
  }

  setCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<void> {
    const c = this.orgs.get(orgId)?.calls.get(callId);
    if (!c) return Promise.reject(storeErrors.callNotFound(callId));
    c.crmLog = clone(state);
    return done(undefined);
  }

  orgRegions(orgId: string): Promise<string[]> {
    const seen = new Set<string>();
    for (const u of this.orgs.get(orgId)?.users.values() ?? []) seen.add(u.region);
    return done([...seen].sort());
  }

  reassignCall(orgId: string, callId: string, to: { providerId: string; providerKind: string; failedOverFrom: string }): Promise<boolean> {
    const c = this.orgs.get(orgId)?.calls.get(callId);
    if (!c || c.status !== 'queued') return done(false);
    c.providerId = to.providerId;
    c.providerKind = to.providerKind;
    c.failedOverFrom = to.failedOverFrom;
    return done(true);
  }

  // ---- idempotency ----

  claimIdempotency(orgId: string, key: string, fingerprint: string, ttlSec: number): Promise<IdempotencyRecord | null> {
    const s = this.org(orgId);
    const e = s.idempotency.get(key);
    if (e && e.expiresAt > Date.now()) return done(clone(e.record));
    s.idempotency.set(key, { record: { fingerprint }, expiresAt: Date.now() + ttlSec * 1000 });
    return done(null);
  }

  completeIdempotency(orgId: string, key: string, record: IdempotencyRecord, ttlSec: number): Promise<void> {
    this.org(orgId).idempotency.set(key, { record: clone(record), expiresAt: Date.now() + ttlSec * 1000 });
    return done(undefined);
  }

  releaseIdempotency(orgId: string, key: string): Promise<void> {
    this.org(orgId).idempotency.delete(key);
    return done(undefined);
  }

  // ---- CRM ----

  getCrmConfig(orgId: string): Promise<Record<string, unknown> | null> {
    const c = this.orgs.get(orgId)?.crm;
    return done(c ? clone(c) : null);
  }

  putCrmConfig(orgId: string, config: Record<string, unknown>): Promise<void> {
    this.org(orgId).crm = clone(config);
    return done(undefined);
  }

  ping(): Promise<boolean> {
    return done(true);
  }

  close(): Promise<void> {
    return done(undefined);
  }
}

/** Orders like Redis ZRANGEBYLEX (ids are ASCII, so UTF-16 code units order as bytes do). */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}
