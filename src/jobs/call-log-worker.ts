// One call-log job: load the call, its user and the org's CRM connection (one backend round
// trip); find the record to link (the click's crmRecord, else a cached phone search); write the
// log once; record the outcome on the call (crmLog), which also settles its hand-off.

import type { Logger } from 'pino';
import { CrmError, type CrmAdapter, type CrmMatch } from '../crm/adapter.js';
import { safeReason, type CrmConnectors } from '../crm/connectors.js';
import { TERMINAL_STATUSES, type Call, type CrmLogState } from '../domain/types.js';
import type { CallStore } from '../store/calls/port.js';
import type { CallLogJob, CallLogProcessor } from '../store/queues/port.js';
import type { CallLogMetrics } from './metrics.js';
import { groupFields, updateKey, type UpdateGroup } from '../domain/call-updates.js';

export interface CallLogDeps {
  calls: Pick<CallStore, 'callLogContext' | 'setCrmLog' | 'settleUpdate'>;
  crm: CrmConnectors;
  logger: Logger;
  metrics?: CallLogMetrics;
  /** settles an ended call's cost before its log is written (src/costs), so the log carries it */
  costs?: (orgId: string, call: Call) => Promise<Call>;
  /** ms after an answered call's end its provider kind may still report its price (ProviderKindDefinition.priceWaitSec) */
  priceWaitMs?: (providerKind: string) => number;
}

/** a log waiting for a price is looked at again this often at least (the queue's backoff may wait longer) */
const PRICE_POLL_MS = 2000;

/**
 * Throws a retryable price_pending while the call's provider may still report what it charged
 * (an answered outbound call with neither a price nor a cost yet, inside the kind's wait): the
 * log then carries the provider's cost instead of the rate table's. Past the wait it is logged
 * with the rate table's.
 */
function awaitPrice(deps: CallLogDeps, call: Call, now = Date.now()): void {
  if (call.direction !== 'outbound' || call.trial || call.cost || call.providerPrice || !call.answeredAt) return;
  const waitMs = deps.priceWaitMs?.(call.providerKind) ?? 0;
  const left = (Date.parse(call.endedAt ?? call.updatedAt) || now) + waitMs - now;
  if (waitMs > 0 && left > 0) throw new CrmError(`the provider has not reported the price of call ${call.id} yet`, true, Math.min(left, PRICE_POLL_MS), 'price_pending');
}

export type CallLogOutcome = 'logged' | 'already_logged' | 'skipped' | 'no_crm' | 'done_before';

/** The number on the customer's side of the call. */
export function customerNumber(call: Call): string | undefined {
  return call.direction === 'outbound' ? call.to : call.from;
}

async function findRecord(deps: CallLogDeps, orgId: string, adapter: CrmAdapter, call: Call): Promise<CrmMatch | null> {
  if (call.crmRecord) return { module: call.crmRecord.module, id: call.crmRecord.id };
  // the screen pop's search: its one match, or no guess among several (the agent's pick links it later)
  if (call.match) return call.match;
  if (call.candidates?.length) return null;
  const number = customerNumber(call);
  if (!number) return null;
  try {
    return await deps.crm.findByPhone(orgId, adapter, number);
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
 * the call says where it stands either way. `started` must count every run that started, crashed
 * ones included (BullMQ's attemptsStarted): above 1 the adapter looks for an already-written
 * record before writing. Attempts recorded on the call by earlier failures count as well.
 */
export async function processCallLog(deps: CallLogDeps, job: CallLogJob): Promise<CallLogOutcome> {
  const { orgId, callId, attempt, maxAttempts } = job;
  const started = job.started ?? attempt;
  const { call: stored, user, crmConfig: config, crmConfigJson } = await deps.calls.callLogContext(orgId, callId);
  if (!stored) throw new CrmError(`call ${callId} not found`, false, undefined, 'call_not_found');
  if (stored.crmLog?.status === 'logged' || (stored.crmLog?.status === 'skipped' && stored.crmLog.attempts > 0)) return 'done_before';
  if (!TERMINAL_STATUSES.has(stored.status)) throw new CrmError(`call ${callId} has not ended`, true, 5000, 'call_not_ended');
  awaitPrice(deps, stored);
  const call = deps.costs ? await deps.costs(orgId, stored) : stored;

  if (!config) {
    await deps.calls.setCrmLog(orgId, callId, { status: 'skipped', attempts: 0 });
    deps.metrics?.logs.inc({ crm: 'none', outcome: 'no_crm' });
    return 'no_crm';
  }

  // every run so far, this one included: the queue's count of started runs (crashed ones too) or
  // the failures recorded on the call (which survive a manual retry), whichever is larger
  const runNo = Math.max(attempt, started, (call.crmLog?.attempts ?? 0) + 1);
  let crm = String(config.kind ?? 'unknown');
  try {
    const { kind, adapter } = deps.crm.adapterFor(orgId, config, crmConfigJson ?? undefined);
    crm = kind;
    const record = await findRecord(deps, orgId, adapter, call);
    const result = await adapter.writeCallLog({ call, user, record, attempt: runNo });
    // the changes this log carries: their updates, queued or to come, are folded into it
    const covers = call.changes ? { covers: call.changes } : {};
    const state: CrmLogState = result.skipped
      ? { status: 'skipped', attempts: runNo }
      : { status: 'logged', attempts: runNo, ...(result.recordId ? { recordId: result.recordId } : {}), ...covers };
    await deps.calls.setCrmLog(orgId, callId, state);
    const outcome: CallLogOutcome = result.skipped ? 'skipped' : result.alreadyLogged ? 'already_logged' : 'logged';
    deps.metrics?.logs.inc({ crm, outcome });
    if (call.endedAt) deps.metrics?.duration.observe({ crm }, Math.max(0, (Date.now() - Date.parse(call.endedAt)) / 1000));
    return outcome;
  } catch (e) {
    const retryable = !(e instanceof CrmError) || e.retryable;
    const final = !retryable || attempt >= maxAttempts;
    await deps.calls
      .setCrmLog(orgId, callId, { status: final ? 'failed' : 'pending', attempts: runNo, lastError: safeReason(e) })
      .catch((se) => deps.logger.warn({ orgId, callId, err: (se as Error).name }, 'could not record the call-log failure'));
    deps.metrics?.logs.inc({ crm, outcome: final ? 'failed' : 'retry' });
    deps.logger[final ? 'warn' : 'info']({ orgId, callId, attempt: runNo, reason: safeReason(e) }, final ? 'call log failed' : 'call log will be retried');
    throw e;
  }
}

export type LogUpdateOutcome = 'sent' | 'folded' | 'superseded' | 'not_logged' | 'unsupported';

/**
 * Sends one change of a call after its log (job update = {group, n}), never a second log: while
 * the log is pending it waits (retried); a change the log already carried (crmLog.covers) or
 * one a later change supersedes sends nothing; else the group's current values go to the CRM
 * with Idempotency-Key `<callId>:<group>:<n>`.
 */
export async function processLogUpdate(deps: CallLogDeps, job: CallLogJob): Promise<LogUpdateOutcome> {
  const { orgId, callId } = job;
  const { group, n } = job.update!;
  const { call, user, crmConfig: config, crmConfigJson } = await deps.calls.callLogContext(orgId, callId);
  if (!call) throw new CrmError(`call ${callId} not found`, false, undefined, 'call_not_found');
  const log = call.crmLog;
  if (!log || log.status === 'pending') throw new CrmError(`the log of call ${callId} is not written yet`, true, 1000, 'log_pending');
  if (log.status === 'failed') throw new CrmError(`the log of call ${callId} failed; its retry carries this change`, false, undefined, 'log_failed');
  if (log.status !== 'logged' || !config) return 'not_logged';
  if ((log.covers?.[group] ?? 0) >= n) return 'folded';
  if ((call.changes?.[group] ?? 0) > n) return 'superseded';
  const crm = deps.crm.adapterFor(orgId, config, crmConfigJson ?? undefined);
  if (!crm.adapter.updateCallLog) return 'unsupported';
  const record = call.crmRecord ? { module: call.crmRecord.module, id: call.crmRecord.id } : (call.match ?? null);
  try {
    await crm.adapter.updateCallLog({
      call,
      user,
      ...(log.recordId ? { recordId: log.recordId } : {}),
      record,
      group,
      n,
      idempotencyKey: updateKey(callId, group, n),
      fields: groupFields(call, group as UpdateGroup),
    });
  } catch (e) {
    deps.metrics?.logs.inc({ crm: crm.kind, outcome: 'update_retry' });
    deps.logger.info({ orgId, callId, group, reason: safeReason(e) }, 'call log update will be retried');
    throw e;
  }
  deps.metrics?.logs.inc({ crm: crm.kind, outcome: 'updated' });
  return 'sent';
}

/**
 * Runs one update job and, once it has come to its end (sent, folded, superseded, or failed for
 * good), takes it out of the update outbox; while it may still run again it stays there, so
 * housekeeping enqueues it again should the job be lost. A settle that fails leaves it listed: the
 * job then runs once more, and the CRM takes the same Idempotency-Key once.
 */
async function runLogUpdate(deps: CallLogDeps, job: CallLogJob): Promise<void> {
  const settle = () =>
    deps.calls.settleUpdate(job.orgId, job.callId, job.update!).catch((e: Error) =>
      deps.logger.warn({ orgId: job.orgId, callId: job.callId, err: e.message }, 'could not settle the CRM update; it may be sent again'),
    );
  try {
    await processLogUpdate(deps, job);
  } catch (e) {
    const retryable = !(e instanceof CrmError) || e.retryable;
    if (!retryable || job.attempt >= job.maxAttempts) await settle();
    throw e;
  }
  await settle();
}

/** The queue's processor for these deps: a call's log, or one change after it. */
export function callLogProcessor(deps: CallLogDeps): CallLogProcessor {
  return async (job) => {
    if (job.update) await runLogUpdate(deps, job);
    else await processCallLog(deps, job);
  };
}
