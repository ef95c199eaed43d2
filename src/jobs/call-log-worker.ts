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

export interface CallLogDeps {
  calls: Pick<CallStore, 'callLogContext' | 'setCrmLog'>;
  crm: CrmConnectors;
  logger: Logger;
  metrics?: CallLogMetrics;
  /** settles an ended call's cost before its log is written (src/costs), so the log carries it */
  costs?: (orgId: string, call: Call) => Promise<Call>;
}

export type CallLogOutcome = 'logged' | 'already_logged' | 'skipped' | 'no_crm' | 'done_before';

/** The number on the customer's side of the call. */
export function customerNumber(call: Call): string | undefined {
  return call.direction === 'outbound' ? call.to : call.from;
}

async function findRecord(deps: CallLogDeps, orgId: string, adapter: CrmAdapter, call: Call): Promise<CrmMatch | null> {
  if (call.crmRecord) return { module: call.crmRecord.module, id: call.crmRecord.id };
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
    const state: CrmLogState = result.skipped
      ? { status: 'skipped', attempts: runNo }
      : { status: 'logged', attempts: runNo, ...(result.recordId ? { recordId: result.recordId } : {}) };
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

/** The queue's processor for these deps. */
export function callLogProcessor(deps: CallLogDeps): CallLogProcessor {
  return async (job) => {
    await processCallLog(deps, job);
  };
}
