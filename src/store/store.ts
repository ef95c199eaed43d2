// The Store: one interface, two implementations (Redis for production, memory for local mode).
// Every method that touches more than one key is atomic in both implementations: the Redis one
// runs it as a single Lua script (see src/store/redis/lua), the memory one runs it synchronously.
// The contract suite in test/store/contract.ts runs the same cases against both.

import type { Admission, LimitResult } from '../domain/limits.js';
import type {
  ApiKeyRecord,
  AssignResult,
  Call,
  CallStatus,
  CrmLogState,
  Org,
  Page,
  Provider,
  StatusChange,
  User,
  UserInput,
} from '../domain/types.js';

export interface ProviderInput {
  kind: string;
  name: string;
  config: Record<string, unknown>;
  regions: { allow?: string[]; deny?: string[] };
  priority: number;
  scope: 'all' | 'specific';
  futureUsers: boolean;
}

export interface ProviderPatch {
  name?: string;
  config?: Record<string, unknown>;
  regions?: { allow?: string[]; deny?: string[] };
  priority?: number;
  futureUsers?: boolean;
}

export interface PutUserResult {
  user: User;
  created: boolean;
}

/** The outcome of applying one status event to a call. */
export interface TransitionResult {
  /** false when the event was stale, duplicated or would move the call backwards */
  applied: boolean;
  call: Call;
  /** true exactly once per call: when this event moved it into a terminal status */
  becameTerminal: boolean;
}

export interface TransitionInput {
  status: CallStatus;
  at: string;
  cause?: string;
  providerCallId?: string;
  /** seconds of talk time reported by the provider on completion */
  durationSec?: number;
  /**
   * With providerCallId: also index the call under (linkProviderId, providerCallId), so the
   * provider's webhooks find it, in the same atomic step as the status (a dial's answer).
   */
  linkProviderId?: string;
}

export interface CallQuery {
  userId?: string;
  status?: CallStatus;
  limit: number;
  cursor?: string;
}

export interface IdempotencyRecord {
  fingerprint: string;
  /** absent while the first request is still in flight */
  response?: { statusCode: number; body: unknown };
}

export interface OrgStore {
  createOrg(org: Org, key: ApiKeyRecord): Promise<void>;
  getOrg(orgId: string): Promise<Org | null>;
  getApiKey(keyId: string): Promise<ApiKeyRecord | null>;
}

export interface DirectoryStore {
  /**
   * Create or replace a user's profile. Atomic: DIDs must be unused by other users of the org
   * (DomainError number_taken); on create, the user joins the best future-users provider that serves
   * their region (lowest priority, then oldest); on update, a region that the current provider
   * does not serve is refused (region_unavailable) and the assignment is kept.
   */
  putUser(orgId: string, userId: string, input: UserInput, now: string): Promise<PutUserResult>;
  getUser(orgId: string, userId: string): Promise<User | null>;
  /** Removes the user, their assignment and their DIDs. false when there was none. */
  deleteUser(orgId: string, userId: string): Promise<boolean>;
  listUsers(
    orgId: string,
    q: { limit: number; cursor?: string; providerId?: string; region?: string; unassigned?: boolean },
  ): Promise<Page<User>>;
  /** The distinct regions of the org's users (the default allowed destinations of its calls). */
  orgRegions(orgId: string): Promise<string[]>;
  /** The user owning a DID in the org, or null. */
  findUserByNumber(orgId: string, e164: string): Promise<User | null>;

  /**
   * Stores the provider record only (assign users with assignUsers / installAll afterwards).
   * Provider ids are global, since webhooks resolve the org from the provider id alone: an id
   * already used by any org is refused with DomainError validation_failed.
   */
  createProvider(orgId: string, providerId: string, input: ProviderInput, now: string): Promise<Provider>;
  getProvider(orgId: string, providerId: string): Promise<Provider | null>;
  /** Resolves the org of a provider id (webhooks carry only the provider id). */
  getProviderOrg(providerId: string): Promise<string | null>;
  listProviders(orgId: string): Promise<Provider[]>;
  updateProvider(orgId: string, providerId: string, patch: ProviderPatch, now: string): Promise<Provider>;
  /**
   * Uninstall. Refused with DomainError provider_has_users {count} when users remain and !force;
   * with force, unassigns every user in the same atomic step. false when there was no provider.
   */
  deleteProvider(orgId: string, providerId: string, force: boolean): Promise<boolean>;
  userCount(orgId: string, providerId: string): Promise<number>;
  userCounts(orgId: string): Promise<Record<string, number>>;
  listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>>;

  /** Assigns each user unless assigned elsewhere, outside the provider's regions, or unknown. Each user atomically. */
  assignUsers(orgId: string, providerId: string, userIds: string[]): Promise<AssignResult>;
  /** Leaves the user unassigned. false when the user was not on this provider. */
  unassignUser(orgId: string, providerId: string, userId: string): Promise<boolean>;
  /** Uninstall-from-old + add-to-new as one atomic step (DomainError region_unavailable / user_not_found / provider_not_found). */
  moveUser(orgId: string, userId: string, toProviderId: string): Promise<User>;
  /**
   * Installs for all users: scope becomes "all" (and futureUsers as given) and every unassigned
   * user the provider serves joins it; users on other providers and users outside its regions are
   * reported as conflicts. Batched on Redis so a 100k-user org never blocks it for long; each
   * user's assignment is atomic. `assigned` lists the users this call added, in id order; users
   * already on the provider appear in neither list. A user created while a batched run is under
   * way is covered by futureUsers (set by the first batch), not necessarily by the run itself.
   */
  installAll(orgId: string, providerId: string, futureUsers: boolean, now: string): Promise<AssignResult>;
}

export interface CallStore {
  /** Stores a new call (status queued) and indexes it by user and by time. */
  /**
   * Stores a new call; one that already has a providerCallId (inbound) is also found by it. With
   * an admission (a click-to-call's limits) the call is stored only when every limit has room,
   * and takes them in the same atomic step; otherwise nothing is written and the refusing limit
   * is returned.
   */
  createCall(call: Call, admission?: Admission): Promise<LimitResult>;
  getCall(orgId: string, callId: string): Promise<Call | null>;
  listCalls(orgId: string, q: CallQuery): Promise<Page<Call>>;
  findCallByProviderCallId(orgId: string, providerId: string, providerCallId: string): Promise<Call | null>;
  /**
   * Applies a status event atomically under the state machine's rules (src/calls/state-machine.ts):
   * never backwards, never a second terminal status. Returns null when the call does not exist.
   */
  transition(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null>;
  setCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<void>;
  /**
   * Failover: moves a call that no provider has accepted yet (status queued) to another provider.
   * Refused (returns false) once the call has left "queued".
   */
  reassignCall(orgId: string, callId: string, to: { providerId: string; providerKind: string; failedOverFrom: string }): Promise<boolean>;

  /**
   * Claims an idempotency key: returns null when this caller now owns it (it must then call
   * completeIdempotency), else the existing record (in flight or completed).
   */
  claimIdempotency(orgId: string, key: string, fingerprint: string, ttlSec: number): Promise<IdempotencyRecord | null>;
  completeIdempotency(orgId: string, key: string, record: IdempotencyRecord, ttlSec: number): Promise<void>;
  /** Releases a claim whose request failed before anything was dialled, so a retry may run. */
  releaseIdempotency(orgId: string, key: string): Promise<void>;
}

/**
 * Small shared-state primitives for adapters (OAuth tokens shared by every instance, one
 * refresher at a time) without handing them a Redis client.
 */
export interface SharedState {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** SET NX PX: returns a token when acquired, null when someone else holds it. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  releaseLock(key: string, token: string): Promise<void>;
}

export interface CrmStore {
  /** The org's CRM connection ({kind, ...config}, secrets included), or null. */
  getCrmConfig(orgId: string): Promise<Record<string, unknown> | null>;
  putCrmConfig(orgId: string, config: Record<string, unknown>): Promise<void>;
}

export interface Store extends OrgStore, DirectoryStore, CallStore, CrmStore {
  readonly kind: 'redis' | 'memory';
  readonly shared: SharedState;
  /** true when the backing store answers (readyz) */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export type { StatusChange };
