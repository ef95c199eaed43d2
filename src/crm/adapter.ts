// The CRM adapter interface. One folder per CRM kind under adapters/crm/, registered in
// adapters/registry.ts; the call-log pipeline (src/jobs), screen pops and the CRM's own requests
// to the gateway (click-to-dial) use only these types.

import type { Logger } from 'pino';
import type { Call, User } from '../domain/types.js';
import type { WebhookReply, WebhookRequest } from '../providers/adapter.js';
import type { SharedState } from '../store/state/port.js';

export interface CrmMatch {
  module: string; // e.g. "Contacts", "Leads", "Accounts"
  id: string;
  name?: string;
  /** where the record opens in the CRM, when the CRM says */
  url?: string;
}

/** One change of a call after its log was written (src/domain/call-updates.ts). */
export interface CallLogUpdate {
  call: Call;
  user: User | null;
  /** the CRM's id of the call's log record, when it gave one */
  recordId?: string;
  /** the record the call is linked to now */
  record: CrmMatch | null;
  group: string;
  n: number;
  /** `<callId>:<group>:<n>`: stable for this change, so a redelivery is recognised */
  idempotencyKey: string;
  /** the group's fields as they stand (null: removed) */
  fields: Record<string, unknown>;
}

export interface CallLog {
  call: Call;
  user: User | null;
  /** The record to link: the click's crmRecord, or the phone-number match. */
  record: CrmMatch | null;
  /** 1 on the first try; above 1 an earlier attempt may have been committed, so look before writing. */
  attempt?: number;
}

export interface CrmWriteResult {
  recordId?: string;
  /** true when the CRM already had this call (found by its call id) and nothing was written */
  alreadyLogged?: boolean;
  /** true when this CRM logs calls itself (PhoneBridge) and nothing was written */
  skipped?: boolean;
}

/** Thrown for failures: `retryable` false ends the job as failed with `message` as the reason. */
export class CrmError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CrmError';
  }
}

export interface CrmContext {
  orgId: string;
  config: Record<string, unknown>;
  shared: SharedState;
  logger: Logger;
}

export interface CrmAdapter {
  findByPhone(e164: string): Promise<CrmMatch | null>;
  /** Writes the call log exactly once per call id (look before writing again on retry). */
  writeCallLog(log: CallLog): Promise<CrmWriteResult>;
  /**
   * Every record matching the number (several: the agent picks). Optional: without it the
   * single findByPhone match is the only candidate.
   */
  findMatches?(e164: string, callId: string): Promise<CrmMatch[]>;
  /** Sends one change of an already-logged call (never writes a second log); optional. */
  updateCallLog?(u: CallLogUpdate): Promise<void>;
  /** Live call events (PhoneBridge callnotify); optional. */
  notify?(call: Call, user: User | null): Promise<void>;
}

/** What a CRM's request to the gateway may do (its kind's handleWebhook decides, after authenticating it). */
export interface CrmWebhookContext {
  orgId: string;
  /** the org's CRM config of this kind, secrets included */
  config: Record<string, unknown>;
  getUser(userId: string): Promise<User | null>;
  /** places a click-to-call exactly like POST /v1/calls (policy, limits, idempotency) */
  clickToCall(input: { userId: string; to: string }, actor: string): Promise<Call>;
}

export interface CrmKindDefinition {
  kind: string;
  configSchema: Record<string, unknown>;
  secretFields: string[];
  create(ctx: CrmContext): CrmAdapter;
  /**
   * Requests the CRM itself sends to the gateway, at /webhooks/crm/{kind}/{orgId}/... (Zoho
   * PhoneBridge's click-to-dial): authenticate them the CRM's way, then act through ctx. A
   * DomainError thrown here is answered in the API's error shape.
   */
  handleWebhook?(req: WebhookRequest, ctx: CrmWebhookContext): Promise<WebhookReply>;
}
