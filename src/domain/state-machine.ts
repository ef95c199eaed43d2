// The one normalised call state machine. Progress statuses only move forward
// (queued → dialing → ringing → answered); the first terminal status wins and nothing moves a
// call after it. The Redis store runs the same rules in Lua (src/store/redis/lua/transition.lua, via lib.lua);
// test/calls/state-machine.test.ts checks both against shuffled event orders.

import { TERMINAL_STATUSES, type Call, type CallStatus } from './types.js';

export const STATUS_RANK: Record<CallStatus, number> = {
  queued: 0,
  dialing: 1,
  ringing: 2,
  answered: 3,
  completed: 4,
  failed: 4,
  busy: 4,
  'no-answer': 4,
  canceled: 4,
};

export function isTerminal(s: CallStatus): boolean {
  return TERMINAL_STATUSES.has(s);
}

/** Whether a call in `from` may move to `to`. */
export function canTransition(from: CallStatus, to: CallStatus): boolean {
  if (isTerminal(from)) return false;
  return STATUS_RANK[to] > STATUS_RANK[from];
}

export interface TransitionEvent {
  status: CallStatus;
  at: string;
  cause?: string;
  providerCallId?: string;
  durationSec?: number;
}

/**
 * A provider's event time, moved up to the call's last transition when it falls before it: provider
 * clocks differ from ours and some (Twilio's Timestamp) have whole seconds only, so a "ringing" can
 * claim to precede our own "dialing". History must never run backwards. Unparseable times: now.
 */
export function notBefore(at: string, call: Pick<Call, 'history'>): string {
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return new Date().toISOString();
  const last = call.history[call.history.length - 1]?.at;
  return last && Date.parse(last) > t ? last : at;
}

/**
 * Applies an event to a call in place. Returns whether it changed the call. Shared by the memory
 * backend; keep in step with apply_transition in src/store/redis/lua/lib.lua.
 */
export function applyTransition(call: Call, event: TransitionEvent): boolean {
  if (event.providerCallId && !call.providerCallId) call.providerCallId = event.providerCallId;
  if (!canTransition(call.status, event.status)) return false;
  const ev = { ...event, at: notBefore(event.at, call) };
  call.status = ev.status;
  call.updatedAt = ev.at;
  call.history.push(ev.cause ? { status: ev.status, at: ev.at, cause: ev.cause } : { status: ev.status, at: ev.at });
  if (ev.status === 'answered') call.answeredAt = ev.at;
  if (isTerminal(ev.status)) {
    call.endedAt = ev.at;
    if (ev.durationSec !== undefined) call.durationSec = ev.durationSec;
    else if (call.answeredAt && ev.status === 'completed') {
      call.durationSec = Math.max(0, Math.round((Date.parse(ev.at) - Date.parse(call.answeredAt)) / 1000));
    }
  }
  return true;
}
