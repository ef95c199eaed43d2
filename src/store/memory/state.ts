// Local mode's data: plain Maps in this process, shared by the memory ports (a click spans the
// directory, limits, health, idempotency and calls, like its Lua twin spans the org's keys).
// Every port method does its work synchronously before returning a settled Promise, so each one
// is atomic exactly like its script on Redis. Values go in and out through structuredClone so
// callers can never mutate stored state. Single instance, not durable: the gateway says so.

import type { ApiKeyRecord, Call, Org, Provider, User } from '../../domain/types.js';
import type { AuditEntry } from '../audit/port.js';
import { Listeners, type EventType } from '../events/port.js';
import type { IdempotencyRecord } from '../calls/port.js';
import type { HealthRecord } from '../health/rules.js';
import type { RateTable } from '../../costs/rates.js';
import type { CostEntry } from '../costs/port.js';

export interface BucketState {
  t: number;
  ts: number;
  capacity: number;
  refillPerMs: number;
}

export class OrgData {
  org?: Org;
  /** config version (see src/store/keys.ts: ver) */
  version = 0;
  readonly users = new Map<string, User>();
  readonly userVersion = new Map<string, number>();
  readonly dids = new Map<string, string>();
  readonly regionCount = new Map<string, number>();
  readonly providers = new Map<string, Provider>();
  /** provider id → its users' ids; always agrees with users[*].providerId */
  readonly providerUsers = new Map<string, Set<string>>();
  readonly settings = new Map<string, string>();
  readonly calls = new Map<string, Call>();
  /** `${providerId}:${providerCallId}` → call id */
  readonly providerCalls = new Map<string, string>();
  /** call id → its link fields in providerCalls (the purge removes them; Redis: the call's `_pcl`) */
  readonly callLinks = new Map<string, Set<string>>();
  /** live call id → ms of its last news */
  readonly liveCalls = new Map<string, number>();
  readonly idempotency = new Map<string, { record: IdempotencyRecord; expiresAt: number }>();
  readonly buckets = new Map<string, BucketState>();
  /** user id → its live click-to-calls (those holding a live-call slot) */
  readonly live = new Map<string, Set<string>>();
  readonly health = new Map<string, HealthRecord>();
  /** call id → ms it was handed to the call log */
  readonly outbox = new Map<string, number>();
  /** "<callId>:<group>:<n>" → ms: CRM updates of ended calls not yet settled (Redis: updbox) */
  readonly updbox = new Map<string, number>();
  /** call id → ms it got candidates without a crmRecord (Redis: unresolved) */
  readonly unresolved = new Map<string, number>();
  /** call id → ms it is purged */
  readonly expiry = new Map<string, number>();
  readonly audit: AuditEntry[] = [];
  readonly apiKeys = new Map<string, ApiKeyRecord>();
  /** provider id → rate table */
  readonly rates = new Map<string, RateTable>();
  /** call id → its cost ledger entry */
  readonly costLedger = new Map<string, CostEntry>();
  /** do-not-call numbers (E.164) */
  readonly dnc = new Set<string>();
  /** sticky caller ids: stickyField(providerId, to) → "<number>|<expiry ms>" */
  readonly callerIds = new Map<string, string>();
  /** user id → agent-token version (see src/store/keys.ts: tokver) */
  readonly tokenVersion = new Map<string, number>();

  /** the user's agent tokens minted so far stop working */
  revokeTokens(userId: string): void {
    this.tokenVersion.set(userId, (this.tokenVersion.get(userId) ?? 0) + 1);
  }

  /** a user's region joins or leaves the org's set: the config the click path caches changed */
  countRegion(region: string, delta: 1 | -1): void {
    const n = (this.regionCount.get(region) ?? 0) + delta;
    if (n <= 0) this.regionCount.delete(region);
    else this.regionCount.set(region, n);
    if ((delta === 1 && n === 1) || (delta === -1 && n <= 0)) this.version++;
  }

  /** Indexes a call under a provider's call id. */
  link(field: string, callId: string): void {
    this.providerCalls.set(field, callId);
    let set = this.callLinks.get(callId);
    if (!set) this.callLinks.set(callId, (set = new Set()));
    set.add(field);
  }

  providerSet(providerId: string): Set<string> {
    let set = this.providerUsers.get(providerId);
    if (!set) this.providerUsers.set(providerId, (set = new Set()));
    return set;
  }
}

export class MemoryData {
  readonly orgs = new Map<string, OrgData>();
  readonly apiKeys = new Map<string, ApiKeyRecord>();
  readonly providerOrg = new Map<string, string>();
  readonly listeners = new Listeners();

  constructor(readonly retentionMs: number) {}

  org(orgId: string): OrgData {
    let s = this.orgs.get(orgId);
    if (!s) this.orgs.set(orgId, (s = new OrgData()));
    return s;
  }

  /** delivered at once, like the Redis bus delivers what a script publishes */
  emit(orgId: string, type: EventType, userId: string, json: string): void {
    this.listeners.emit(orgId, { type, userId, json });
  }
}

export const clone = <T>(v: T): T => structuredClone(v);
export const done = <T>(v: T): Promise<T> => Promise.resolve(v);

/** Runs fn synchronously and turns a throw into a rejected Promise, so callers see one style. */
export function atomic<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Orders like Redis ZRANGEBYLEX (ids are ASCII, so UTF-16 code units order as bytes do). */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
