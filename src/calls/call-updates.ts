// Changes to a call beside its status: the agent's wrap-up (PATCH /v1/calls/{id}: disposition,
// notes, subject, the CRM record picked), a recording or voicemail a provider reports, the
// screen pop's match. Each is one atomic store step that counts the change per group
// (src/domain/call-updates.ts); a change to an ended call then becomes one CRM update job
// (job id and Idempotency-Key `<callId>:<group>:<n>`), which the worker folds into the log when
// the log has not been written yet. A live call needs none: its log, written at the end, carries it.
// The store records each such update in its update outbox in the same step, so an enqueue lost
// here is re-driven by housekeeping (src/housekeeping/housekeeper.ts), like a call's log.

import type { Logger } from 'pino';
import { UPDATE_GROUPS } from '../domain/call-updates.js';
import { DomainError } from '../domain/errors.js';
import { TERMINAL_STATUSES, type Call, type CrmRecordRef } from '../domain/types.js';
import type { CallFieldsResult, CallStore } from '../store/calls/port.js';
import type { EventType } from '../store/events/port.js';
import type { CallLogQueue } from '../store/queues/port.js';
import { handOff } from './hand-off.js';

export interface WrapupInput {
  disposition?: string;
  notes?: string;
  subject?: string;
  crmRecord?: CrmRecordRef;
}

export interface CallUpdatesDeps {
  calls: Pick<CallStore, 'updateCall'>;
  callLog?: Pick<CallLogQueue, 'enqueue'>;
  logger: Logger;
  /** PATCH is open this long after the call ended (DIALGATE_WRAPUP_SEC) */
  wrapupSec: number;
}

const GROUPS: Record<string, string> = { ...UPDATE_GROUPS };

export class CallUpdates {
  constructor(private readonly deps: CallUpdatesDeps) {}

  /** The agent's wrap-up: 404 for an unknown call (or another org's), 409 wrapup_closed after the window. */
  async wrapup(orgId: string, callId: string, input: WrapupInput): Promise<Call> {
    const set: Record<string, unknown> = {};
    for (const k of ['disposition', 'notes', 'subject'] as const) if (input[k] !== undefined) set[k] = input[k];
    // stored in one key order, so a pick sent again with its keys swapped is "the same values"
    if (input.crmRecord) set.crmRecord = { module: input.crmRecord.module, id: input.crmRecord.id };
    const r = await this.apply(orgId, callId, set, { wrapup: true, event: 'call.updated' });
    if (r.kind === 'none') throw new DomainError('call_not_found', `call ${callId} not found`);
    if (r.kind === 'closed') {
      throw new DomainError('wrapup_closed', `call ${callId} ended more than ${this.deps.wrapupSec} s ago; its wrap-up is closed`);
    }
    return r.call;
  }

  /**
   * Applies a change and queues the CRM update of each group it moved, when the call has ended
   * (never a second log: the job id is the change's; a lost enqueue is re-driven from the outbox).
   */
  async apply(orgId: string, callId: string, set: Record<string, unknown>, opts: { wrapup?: boolean; event?: EventType } = {}): Promise<CallFieldsResult> {
    const r = await this.deps.calls.updateCall(orgId, callId, {
      set,
      groups: GROUPS,
      ...(opts.wrapup ? { wrapupMs: this.deps.wrapupSec * 1000 } : {}),
      ...(opts.event ? { event: opts.event } : {}),
    });
    if (r.kind !== 'ok' || r.bumped.length === 0 || !TERMINAL_STATUSES.has(r.call.status) || r.call.trial || !this.deps.callLog) return r;
    for (const b of r.bumped) await handOff(this.deps.callLog, this.deps.logger, orgId, callId, b);
    return r;
  }
}
