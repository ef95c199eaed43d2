// Shared setup for the call-log suites: a store with a fresh org, calls driven to a terminal
// status through the store's own transition rules, and polling helpers.

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Call, CallDirection, CallStatus, CrmRecordRef } from '../../src/domain/types.js';
import type { Store } from '../../src/store/store.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { testRedisUrl } from '../helpers/redis.js';

export const silentLogger = pino({ level: 'silent' });

export function rid(prefix = ''): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

export interface TestStore {
  store: Store;
  keyPrefix: string;
  close(): Promise<void>;
}

export function redisStore(keyPrefix = `dgt-${rid()}:`): TestStore {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  const store = new RedisStore(redis, { keyPrefix });
  return { store, keyPrefix, close: () => store.close() };
}

export function memoryStore(): TestStore {
  const store = new MemoryStore();
  return { store, keyPrefix: '', close: () => store.close() };
}

export async function setupOrg(store: Store, crm: Record<string, unknown> | null, user: { crmUserId?: string; phone?: string } = {}) {
  const orgId = rid('org_');
  const now = new Date().toISOString();
  await store.createOrg({ id: orgId, name: 'Test org', createdAt: now }, { keyId: rid('k_'), orgId, secretHash: 'x'.repeat(64), createdAt: now });
  const userId = rid('u_');
  await store.putUser(orgId, userId, { region: 'US', numbers: [], phone: user.phone ?? '+14155559999', ...(user.crmUserId ? { crmUserId: user.crmUserId } : {}) }, now);
  if (crm) await store.putCrmConfig(orgId, crm);
  return { orgId, userId };
}

export interface CallSpec {
  direction?: CallDirection;
  /** the customer's number */
  customer?: string;
  outcome?: Extract<CallStatus, 'completed' | 'failed' | 'busy' | 'no-answer' | 'canceled'>;
  answered?: boolean;
  durationSec?: number;
  crmRecord?: CrmRecordRef;
}

/** Creates a call and moves it through the state machine to its terminal status. */
export async function finishedCall(store: Store, orgId: string, userId: string, spec: CallSpec = {}): Promise<Call> {
  const direction = spec.direction ?? 'outbound';
  const customer = spec.customer ?? '+14155550100';
  const outcome = spec.outcome ?? 'completed';
  const answered = spec.answered ?? outcome === 'completed';
  const id = rid('call_');
  const t0 = Date.now() - 120_000;
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const call: Call = {
    id,
    orgId,
    userId,
    providerId: 'prov_test',
    providerKind: 'sim',
    direction,
    from: direction === 'outbound' ? '+14155559999' : customer,
    to: direction === 'outbound' ? customer : '+14155559999',
    status: 'queued',
    createdAt: at(0),
    updatedAt: at(0),
    history: [{ status: 'queued', at: at(0) }],
    ...(spec.crmRecord ? { crmRecord: spec.crmRecord } : {}),
  };
  await store.createCall(call);
  await store.transition(orgId, id, { status: 'dialing', at: at(1) });
  await store.transition(orgId, id, { status: 'ringing', at: at(2) });
  if (answered) await store.transition(orgId, id, { status: 'answered', at: at(5) });
  const r = await store.transition(orgId, id, {
    status: outcome,
    at: at(5 + (spec.durationSec ?? 65)),
    ...(answered ? { durationSec: spec.durationSec ?? 65 } : {}),
  });
  if (!r?.becameTerminal) throw new Error('test call did not become terminal');
  return r.call;
}

/** Polls until `cond` holds; fails with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function crmLogs(store: Store, orgId: string, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await store.getCall(orgId, id))?.crmLog));
}
