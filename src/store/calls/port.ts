// Calls: creation with everything that must hold with it, the one state machine, the links to
// providers' call ids, idempotency, the call-log hand-off and retention. Each operation is one
// round trip: one Lua script on Redis that declares every key it touches, one synchronous step in
// memory. The scripts also publish the call's event (src/store/events), so an event is never
// announced for a change that did not happen, nor a change made without its event.

import type { Admission } from '../../domain/limits.js';
import type { Call, CallStatus, CrmLogState, Page, User } from '../../domain/types.js';
import type { BreakerPolicy } from '../health/port.js';
import type { VersionedUser } from '../directory/port.js';
import type { EventType } from '../events/port.js';
import type { LogUpdateRef } from '../queues/port.js';
import { parseUpdateKey } from '../../domain/call-updates.js';

/** A click-to-call as decided in Node on snapshots; the script checks the snapshots and commits it. */
export interface ClickRequest {
  /** queued, no provider yet: the script sets providerId/providerKind to the provider it picks */
  call: Call;
  /** the snapshots the decision was made on */
  expect: { orgVersion: number; userVersion: number; providerId: string | null };
  /** providers to try in order (each already allowed by the policy); the first one healthy wins */
  chain: { id: string; kind: string }[];
  admission: Admission;
  idempotency?: { key: string; fingerprint: string; ttlSec: number };
  /**
   * Per chain provider, the caller id to show (its pool's best match for the destination, or
   * its configured caller id; '' none) and its pool: with a pool, the destination keeps the
   * number it was last shown on that provider while it stays in the pool (`stickyMs` after its
   * last use). Absent: no caller id is set.
   */
  callerIds?: { callerId: string; pool: string[] }[];
  stickyMs?: number;
}

export interface ReassignTarget {
  providerId: string;
  providerKind: string;
  failedOverFrom: string;
  /** the new provider's caller id choice for the destination `to` (as ClickRequest.callerIds) */
  callerId?: { callerId: string; pool: string[]; to: string; stickyMs: number };
}

export interface PinnedError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface IdempotencyRecord {
  fingerprint: string;
  /** the call the request created (absent: nothing was created yet) */
  callId?: string;
  /** the request's outcome when it was a refusal pinned to the key */
  error?: PinnedError;
}

export type ClickResult =
  | { kind: 'created'; call: Call; picked: number; trial: boolean; breakerFailures: number }
  /** a snapshot moved: the current config version and the user as it now is (null: gone) */
  | { kind: 'stale'; orgVersion: number; user: VersionedUser | null }
  | { kind: 'replay'; record: IdempotencyRecord; call: Call | null }
  | { kind: 'limited'; limit: string; retryAfterMs: number }
  /** the destination is on the org's do-not-call list */
  | { kind: 'dnc' }
  /** no provider of the chain may be dialled now; the wait is the first provider's */
  | { kind: 'unavailable'; providerId: string; retryAfterMs: number };

export interface TransitionInput {
  status: CallStatus;
  at: string;
  cause?: string;
  providerCallId?: string;
  /** seconds of talk time reported by the provider on completion */
  durationSec?: number;
  /** also index the call under (link, providerCallId), in the same atomic step (a dial's answer) */
  link?: string;
  /** the price the provider reported for the call (kept on the call as providerPrice) */
  providerPrice?: { amount: number; currency: string };
  /** the caller id the provider used, when the call does not have one yet */
  from?: string;
  /** the click's idempotency outcome: give the key back (a retry may dial) or pin a refusal */
  idempotency?: { key: string; release: true } | { key: string; pin: PinnedError };
  /** a dial through this provider succeeded: feed its breaker */
  breakerSuccess?: { providerId: string; policy: BreakerPolicy };
  /** apply only if the call is this provider's (a provider's webhook names a call): else as if absent (null) */
  onlyProvider?: string;
  /**
   * The call as the caller holds it, for a non-terminal move (the dial's answer): when the stored
   * call is still in its status, the result is computed from it instead of read back.
   */
  known?: Call;
}

/** The outcome of applying one status event to a call. */
export interface TransitionResult {
  /** false when the event was stale, duplicated or would move the call backwards */
  applied: boolean;
  call: Call;
  /** true exactly once per call: when this event moved it into a terminal status */
  becameTerminal: boolean;
}

export interface InboundRequest {
  /** ringing, inbound, from and providerCallId set; the script fills in the user */
  call: Call;
  /** the DID called (E.164) */
  did: string;
}

export interface CallQuery {
  userId?: string;
  status?: CallStatus;
  limit: number;
  cursor?: string;
}

/** What a call-log job reads before it can write: the call, its user, the org's CRM config. */
export interface CallLogContext {
  call: Call | null;
  user: User | null;
  crmConfig: Record<string, unknown> | null;
  /** the config as stored (saves re-serialising it to tell whether it changed) */
  crmConfigJson: string | null;
}

/**
 * A change of a call's fields other than its status (wrap-up notes, a recording, the screen pop's
 * match...), applied in one atomic step.
 */
export interface CallFieldsUpdate {
  /**
   * Public fields to set (null removes one) and internal ones (`_name`: strings). A field whose
   * value is unchanged is not written; the groups (src/domain/call-updates.ts) of the fields that
   * did change move their counter (Call.changes) by one.
   */
  set: Record<string, unknown>;
  /** field name → change group ('' or absent: none) */
  groups?: Record<string, string>;
  /** refuse (closed) when the call ended longer ago than this many ms (absent: no window) */
  wrapupMs?: number;
  /** published with the call when anything changed */
  event?: EventType;
}

export type CallFieldsResult =
  | { kind: 'none' }
  /** the wrap-up window is over: nothing written */
  | { kind: 'closed'; call: Call }
  /** `bumped`: the groups that changed with their new counts (empty: nothing changed) */
  | { kind: 'ok'; call: Call; changed: boolean; bumped: { group: string; n: number }[] };

/** A CRM update waiting in the update outbox. */
export interface PendingUpdate {
  callId: string;
  update: LogUpdateRef;
}

/** The update outbox's members (updateKey) read back; malformed ones are skipped. */
export function pendingUpdates(keys: string[]): PendingUpdate[] {
  const out: PendingUpdate[] = [];
  for (const key of keys) {
    const p = parseUpdateKey(key);
    if (p) out.push({ callId: p.callId, update: { group: p.group, n: p.n } });
  }
  return out;
}

export interface CallStore {
  /** A click-to-call in one round trip: snapshots checked, idempotency, health, limits, the call and its event. */
  click(req: ClickRequest): Promise<ClickResult>;
  /** An inbound call to a DID of this provider: its user found, the call created and linked, the screen pop published. null when the DID is not a user of this provider. */
  inbound(req: InboundRequest): Promise<{ call: Call; user: User } | null>;
  /** A call with no limits to take (trial calls). */
  createCall(call: Call): Promise<void>;
  getCall(orgId: string, callId: string): Promise<Call | null>;
  listCalls(orgId: string, q: CallQuery): Promise<Page<Call>>;
  callIdByProviderCallId(orgId: string, providerId: string, providerCallId: string): Promise<string | null>;
  /**
   * Applies a status event under the state machine's rules (src/domain/state-machine.ts): never
   * backwards, never a second terminal status; an event time before the call's last change is
   * moved up to it (provider clocks differ from ours), so history never runs backwards. On the
   * terminal move it also frees the user's live-call slot and hands the call to the call log
   * (the outbox, crmLog pending) unless it is a trial. Publishes call.status when applied. null
   * when the call does not exist.
   */
  transition(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null>;
  /**
   * Failover: moves a call no provider has accepted yet (status queued) to another provider, in
   * the same step choosing the caller id that provider shows (`callerId` as in ClickRequest: its
   * pool's sticky number for the call's destination, or the given one; absent or '' → none).
   * null once the call has left "queued"; else the caller id now on the call.
   */
  reassign(orgId: string, callId: string, to: ReassignTarget): Promise<{ callerId?: string } | null>;
  /** An Idempotency-Key's record and its call (a duplicate request waits on it). */
  idempotency(orgId: string, key: string): Promise<{ record: IdempotencyRecord; call: Call | null } | null>;

  /** The call-log job's reads, in one round trip. */
  callLogContext(orgId: string, callId: string): Promise<CallLogContext>;
  /**
   * Records where the call's log stands. A settled log (logged, skipped) leaves the outbox, and
   * the call is purged DIALGATE_CALL_RETENTION_SEC later; DomainError call_not_found if gone.
   */
  setCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<void>;
  /** Calls handed off to the call log before `beforeMs` and not settled since (to enqueue again). */
  outboxDue(orgId: string, beforeMs: number, limit: number): Promise<string[]>;
  /**
   * CRM updates of ended calls (one per call and group: its latest change) recorded by updateCall
   * before `beforeMs` and not settled since: to enqueue again (a lost enqueue must not lose the update).
   */
  updatesDue(orgId: string, beforeMs: number, limit: number): Promise<PendingUpdate[]>;
  /** The update's job ran to its end (sent, folded, superseded, or given up): it leaves the update outbox. */
  settleUpdate(orgId: string, callId: string, update: LogUpdateRef): Promise<void>;
  /** Live calls with no news since `beforeMs` (the reconciler asks their providers). */
  staleLiveCalls(orgId: string, beforeMs: number, limit: number): Promise<string[]>;
  /**
   * Changes a call's fields (see CallFieldsUpdate) and its place in the unresolved index: a call
   * with candidates and no crmRecord is listed there until it gets one.
   */
  updateCall(orgId: string, callId: string, u: CallFieldsUpdate): Promise<CallFieldsResult>;
  /** The org's live calls (one user's when given), at most `limit`: what a new agent screen is shown first. */
  liveCalls(orgId: string, q: { userId?: string; limit: number }): Promise<Call[]>;
  /** Calls whose CRM record is still to be picked among several candidates, oldest first. */
  unresolved(orgId: string, limit: number): Promise<Call[]>;
  /** Purges calls whose retention ended, with their links, index entries and idempotency keys, and expired idempotency keys. */
  purge(orgId: string, now: number, limit: number): Promise<number>;
}
