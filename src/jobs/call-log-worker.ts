// One call-log job: load the call, its user and the org's CRM connection; find the record to link
// (the click's crmRecord, else a cached phone search); write the log once; record the outcome on
// the call (crmLog). Also the time-boxed caller lookup used by inbound screen pops.

import type { Logger } from 'pino';
import { CrmError, type CrmAdapter, type CrmKindDefinition, type CrmMatch } from '../crm/adapter.js';
import { TERMINAL_STATUSES, type Call, type CrmLogState, type User } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { CallLogMetrics } from './metrics.js';
import type { CallLogJob } from './call-log-queue.js';

/** What one job reads before it can write: the call, its user, the org's CRM config. */
export interface CallLogContext {
  call: Call | null;
  user: User | null;
  crmConfig: Record<string, unknown> | null;
  /** the config as stored, when the store has it at hand (saves re-serialising it per job) */
  crmConfigJson?: string | null;
}

/**
 * The store as the pipeline uses it. The optional methods are fast paths a store may offer (the
 * Redis store does): the job's reads in one round trip, and the "pending" mark at enqueue time.
 */
export type CallLogStore = Pick<Store, 'getCall' | 'getUser' | 'setCrmLog' | 'getCrmConfig' | 'shared'> & {
  loadCallLogContext?(orgId: string, callId: string): Promise<CallLogContext>;
  /** sets crmLog only if the call exists and has none; true if it was set */
  initCrmLog?(orgId: string, callId: string, state: CrmLogState): Promise<boolean>;
};

export interface CallLogDeps {
  store: CallLogStore;
  crmKinds: CrmKindDefinition[];
  logger: Logger;
  metrics?: CallLogMetrics;
  /** how long a phone-number match is cached (default 5 min; misses 1 min) */
  matchCacheTtlMs?: number;
}

export type CallLogOutcome = 'logged' | 'already_logged' | 'skipped' | 'no_crm' | 'done_before';

const DEFAULT_MATCH_TTL_MS = 5 * 60_000;
const MISS_TTL_MS = 60_000;

/** The number on the customer's side of the call. */
export function customerNumber(call: Call): string | undefined {
  return call.direction === 'outbound' ? call.to : call.from;
}

/** An error message safe to store on the call and show through the API. */
export function safeReason(e: unknown): string {
  if (e instanceof CrmError) return e.message.slice(0, 500);
  // anything else may carry internals (a Redis address, a stack); keep only its kind
  return `internal error (${(e as Error)?.name ?? 'Error'})`;
}

interface CachedAdapter {
  configJson: string;
  kind: string;
  adapter: CrmAdapter;
}

const MAX_CACHED_ADAPTERS = 1000;
const adapterCache = new WeakMap<CallLogDeps, Map<string, CachedAdapter>>();

/**
 * The org's adapter, reused while its config is unchanged: building one per job would throw away
 * the adapter's in-process state (Zoho's token, kept beside the shared copy) on every call.
 */
function createAdapter(
  deps: CallLogDeps,
  orgId: string,
  config: Record<string, unknown>,
  configJson = JSON.stringify(config),
): { kind: string; adapter: CrmAdapter } {
  let cache = adapterCache.get(deps);
  if (!cache) adapterCache.set(deps, (cache = new Map()));
  const hit = cache.get(orgId);
  if (hit && hit.configJson === configJson) return hit;
  const kind = String(config.kind ?? '');
  const def = deps.crmKinds.find((k) => k.kind === kind);
  if (!def) throw new CrmError(`unknown CRM kind "${kind}"`, false, undefined, 'unknown_crm_kind');
  const adapter = def.create({ orgId, config, shared: deps.store.shared, logger: deps.logger.child({ orgId, crm: kind }) });
  cache.delete(orgId);
  if (cache.size >= MAX_CACHED_ADAPTERS) cache.delete(cache.keys().next().value as string);
  const entry = { configJson, kind, adapter };
  cache.set(orgId, entry);
  return entry;
}

function matchKey(orgId: string, e164: string): string {
  return `crm:${orgId}:match:${e164}`;
}

/**
 * An adapter may declare `searchesByPhone = false` (a plain webhook has no search API): its
 * findByPhone always answers null, so neither the log nor a screen pop goes through the cache.
 */
export function searchesByPhone(adapter: CrmAdapter): boolean {
  return (adapter as { searchesByPhone?: boolean }).searchesByPhone !== false;
}

/** findByPhone through a short shared cache (hits and misses), so a burst of calls searches once. */
export async function cachedFindByPhone(deps: CallLogDeps, orgId: string, adapter: CrmAdapter, e164: string): Promise<CrmMatch | null> {
  if (!searchesByPhone(adapter)) return null;
  const key = matchKey(orgId, e164);
  const hit = await deps.store.shared.get(key);
  if (hit) {
    try {
      return (JSON.parse(hit) as { m: CrmMatch | null }).m;
    } catch {
      // unreadable cache entry: search again
    }
  }
  const m = await adapter.findByPhone(e164);
  await deps.store.shared.set(key, JSON.stringify({ m }), m ? (deps.matchCacheTtlMs ?? DEFAULT_MATCH_TTL_MS) : Math.min(MISS_TTL_MS, deps.matchCacheTtlMs ?? MISS_TTL_MS));
  return m;
}

/**
 * The job's reads: one round trip where the store offers it, else the call and config together
 * and then the call's user. Read fresh for every job, so a PUT /v1/crm applies to the next job.
 */
async function loadContext(deps: CallLogDeps, orgId: string, callId: string): Promise<CallLogContext> {
  if (deps.store.loadCallLogContext) return deps.store.loadCallLogContext(orgId, callId);
  const [call, crmConfig] = await Promise.all([deps.store.getCall(orgId, callId), deps.store.getCrmConfig(orgId)]);
  const user = call?.userId ? await deps.store.getUser(orgId, call.userId) : null;
  return { call, user, crmConfig };
}

async function findRecord(deps: CallLogDeps, orgId: string, adapter: CrmAdapter, call: Call): Promise<CrmMatch | null> {
  if (call.crmRecord) return { module: call.crmRecord.module, id: call.crmRecord.id };
  const number = customerNumber(call);
  if (!number) return null;
  try {
    return await cachedFindByPhone(deps, orgId, adapter, number);
  } catch (e) {
    // a search the CRM refuses for good must not cost the call its log: log it unlinked
    if (e instanceof CrmError && !e.retryable) {
      deps.logger.warn({ orgId, callId: call.id, reason: e.message }, 'CRM search refused; logging the call without a record');
      return null;
    }
    throw e;
  }
}

/**
 * Runs one call-log job. Throws a CrmError for the queue to retry (retryable) or fail; crmLog on
 * the call says where it stands either way. `attempt` must count every run that started, crashed
 * ones included (BullMQ's attemptsStarted): above 1 the adapter looks for an already-written
 * record before writing. Attempts recorded on the call by earlier failures count as well.
 */
export async function processCallLog(
  deps: CallLogDeps,
  orgId: string,
  callId: string,
  attempt = 1,
  maxAttempts = Number.POSITIVE_INFINITY,
  started = attempt,
): Promise<CallLogOutcome> {
  const { call, user, crmConfig: config, crmConfigJson } = await loadContext(deps, orgId, callId);
  if (!call) throw new CrmError(`call ${callId} not found`, false, undefined, 'call_not_found');
  if (call.crmLog?.status === 'logged' || (call.crmLog?.status === 'skipped' && call.crmLog.attempts > 0)) return 'done_before';
  if (!TERMINAL_STATUSES.has(call.status)) throw new CrmError(`call ${callId} has not ended`, true, 5000, 'call_not_ended');

  if (!config) {
    await deps.store.setCrmLog(orgId, callId, { status: 'skipped', attempts: 0 });
    deps.metrics?.logs.inc({ crm: 'none', outcome: 'no_crm' });
    return 'no_crm';
  }

  // every run so far, this one included: the queue's count of started runs (crashed ones too) or
  // the failures recorded on the call (which survive a manual retry), whichever is larger
  const runNo = Math.max(attempt, started, (call.crmLog?.attempts ?? 0) + 1);
  let crm = String(config.kind ?? 'unknown');
  try {
    const { kind, adapter } = createAdapter(deps, orgId, config, crmConfigJson ?? undefined);
    crm = kind;
    const record = await findRecord(deps, orgId, adapter, call);
    const result = await adapter.writeCallLog({ call, user, record, attempt: runNo });
    const state: CrmLogState = result.skipped
      ? { status: 'skipped', attempts: runNo }
      : { status: 'logged', attempts: runNo, ...(result.recordId ? { recordId: result.recordId } : {}) };
    await deps.store.setCrmLog(orgId, callId, state);
    const outcome: CallLogOutcome = result.skipped ? 'skipped' : result.alreadyLogged ? 'already_logged' : 'logged';
    deps.metrics?.logs.inc({ crm, outcome });
    if (call.endedAt) deps.metrics?.duration.observe({ crm }, Math.max(0, (Date.now() - Date.parse(call.endedAt)) / 1000));
    return outcome;
  } catch (e) {
    const retryable = !(e instanceof CrmError) || e.retryable;
    const final = !retryable || attempt >= maxAttempts;
    await deps.store
      .setCrmLog(orgId, callId, { status: final ? 'failed' : 'pending', attempts: runNo, lastError: safeReason(e) })
      .catch((se) => deps.logger.warn({ orgId, callId, err: (se as Error).name }, 'could not record the call-log failure'));
    deps.metrics?.logs.inc({ crm, outcome: final ? 'failed' : 'retry' });
    deps.logger[final ? 'warn' : 'info']({ orgId, callId, attempt: runNo, reason: safeReason(e) }, final ? 'call log failed' : 'call log will be retried');
    throw e;
  }
}

/** The queue's processor for these deps. */
export function callLogProcessor(deps: CallLogDeps) {
  deps = { ...deps }; // its own adapter cache
  return async (job: CallLogJob): Promise<void> => {
    await processCallLog(deps, job.orgId, job.callId, job.attempt, job.maxAttempts, job.started ?? job.attempt);
  };
}

/**
 * The CRM record for an inbound caller, for the screen pop (`call.matched`). Cached like the
 * log's search and time-boxed: null when there is no CRM, no match, an error, or no answer
 * within `timeoutMs` (the search goes on in the background and fills the cache).
 */
export async function matchCaller(deps: CallLogDeps, orgId: string, e164: string, timeoutMs: number): Promise<CrmMatch | null> {
  let timer: NodeJS.Timeout | undefined;
  const work = (async () => {
    const config = await deps.store.getCrmConfig(orgId);
    if (!config) return null;
    const { adapter } = createAdapter(deps, orgId, config);
    return cachedFindByPhone(deps, orgId, adapter, e164);
  })().catch((e) => {
    deps.logger.warn({ orgId, reason: safeReason(e) }, 'caller lookup failed');
    return null;
  });
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Live call events for CRMs that take them (Zoho PhoneBridge: ringing, answered). Never throws:
 * a CRM that is down must not disturb the call; the final outcome goes through the job.
 */
export async function notifyCrm(deps: CallLogDeps, orgId: string, call: Call): Promise<void> {
  try {
    const config = await deps.store.getCrmConfig(orgId);
    if (!config) return;
    const { adapter } = createAdapter(deps, orgId, config);
    if (!adapter.notify) return;
    const user = call.userId ? await deps.store.getUser(orgId, call.userId) : null;
    await adapter.notify(call, user);
  } catch (e) {
    deps.logger.warn({ orgId, callId: call.id, reason: safeReason(e) }, 'CRM live notification failed');
  }
}
