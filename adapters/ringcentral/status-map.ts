// How RingCentral's call states become our normalised statuses. The core's state machine never
// moves a call backwards and keeps the first terminal status, so each mapping may be applied in
// any order; only the choice of terminal status needs to know whether the customer answered,
// which is why terminal session events wait briefly for late "Answered" events (sessions.ts).
//
// RingOut (POST/GET .../ring-out, callStatus / callerStatus (agent leg) / calleeStatus (customer leg)):
//
//   | RingCentral                                         | ours                                   |
//   |-----------------------------------------------------|----------------------------------------|
//   | callStatus InProgress (right after POST)            | dialing (dial's synchronous status)    |
//   | callStatus InProgress, callerStatus InProgress      | ringing (agent's phone rings)          |
//   | callerStatus Success, calleeStatus InProgress       | ringing (customer's phone rings)       |
//   | calleeStatus Success, or callStatus Success         | answered                               |
//   | Finished on any leg                                 | completed if answered, else no-answer  |
//   | Busy (callee first, then caller)                    | busy                                   |
//   | NoAnswer                                            | no-answer                              |
//   | Rejected                                            | canceled if we cancelled, else no-answer (the agent dropped leg 1 while leg 2 rang) |
//   | GenericError, Invalid                               | failed                                 |
//   | InternationalDisabled, DestinationBlocked,          | failed (cause = the RingCentral status)|
//   | NotEnoughFunds, NoSuchUser                          |                                        |
//
// Telephony session events (party.status.code), outbound RingOut sessions (origin.type RingOut;
// party.ringOutRole Initiator = agent leg, Target = customer leg):
//
//   | party      | Setup      | Proceeding | Answered | Hold/Parked | VoiceMail(Screening) | FaxReceive | Disconnected / Gone            |
//   |------------|------------|------------|----------|-------------|----------------------|------------|--------------------------------|
//   | Initiator  | —          | ringing    | ringing  | —           | no-answer            | —          | end (see below)                |
//   | Target     | ringing    | ringing    | answered | answered    | answered (mailbox)   | failed     | end (see below)                |
//
// Inbound sessions (origin.type Call; the agent's party is direction Inbound and owned by an
// extension, the caller's party is direction Outbound from outside the account):
//
//   | party      | Setup/Proceeding | Answered | Hold/Parked | VoiceMail(Screening) | Disconnected / Gone                     |
//   |------------|------------------|----------|-------------|----------------------|-----------------------------------------|
//   | agent's    | ringing          | answered | answered    | no-answer            | end only once answered (an IVR or queue |
//   |            |                  |          |             |                      | party leaving is a hand-off)             |
//   | caller's   | —                | — (IVRs answer too) | — | —                  | end                                     |
//
// "end": completed when the customer (outbound) or agent (inbound) answered; otherwise canceled
// when we asked to hang up, else by status.reason (busy / rejected → busy, error → failed),
// else no-answer.

import type { CallStatus } from '../../src/domain/types.js';

export const RINGOUT_STATUSES = [
  'Invalid',
  'Success',
  'InProgress',
  'Busy',
  'NoAnswer',
  'Rejected',
  'GenericError',
  'Finished',
  'InternationalDisabled',
  'DestinationBlocked',
  'NotEnoughFunds',
  'NoSuchUser',
] as const;

const FAILED = new Set(['GenericError', 'Invalid', 'InternationalDisabled', 'DestinationBlocked', 'NotEnoughFunds', 'NoSuchUser']);

export interface RingOutStatus {
  callStatus?: string;
  callerStatus?: string;
  calleeStatus?: string;
}

export interface Mapped {
  status: CallStatus;
  cause?: string;
}

export function mapRingOutStatus(s: RingOutStatus, ctx: { answered: boolean; canceled: boolean }): Mapped | null {
  const { callStatus, callerStatus, calleeStatus } = s;
  const answered = ctx.answered || callStatus === 'Success' || calleeStatus === 'Success' || calleeStatus === 'Finished';
  if (callStatus === 'Finished' || calleeStatus === 'Finished' || callerStatus === 'Finished') {
    return answered ? { status: 'completed' } : { status: ctx.canceled ? 'canceled' : 'no-answer', cause: 'ringout:Finished' };
  }
  for (const [role, leg] of [
    ['callee', calleeStatus],
    ['caller', callerStatus],
  ] as const) {
    if (!leg) continue;
    const cause = `ringout:${role}:${leg}`;
    if (leg === 'Busy') return { status: 'busy', cause };
    if (leg === 'NoAnswer') return { status: 'no-answer', cause };
    if (leg === 'Rejected') return { status: ctx.canceled ? 'canceled' : 'no-answer', cause };
    if (FAILED.has(leg)) return { status: 'failed', cause };
  }
  if (callStatus && FAILED.has(callStatus)) return { status: 'failed', cause: `ringout:${callStatus}` };
  if (answered) return { status: 'answered' };
  if (callerStatus === 'Success' || callStatus === 'InProgress') return { status: 'ringing' };
  return null;
}

/** The terminal status of a session that ended before the customer/agent answered. */
export function unansweredEnd(reason: string | undefined, ctx: { canceled: boolean }): Mapped {
  if (ctx.canceled) return { status: 'canceled', cause: reason ? `session:${reason}` : undefined };
  const r = (reason ?? '').toLowerCase();
  const cause = reason ? `session:${reason}` : undefined;
  if (r.includes('busy') || r.includes('reject') || r.includes('decline')) return { status: 'busy', cause };
  if (r.includes('error') || r.includes('fail') || r.includes('invalid') || r.includes('blocked')) return { status: 'failed', cause };
  return { status: 'no-answer', cause };
}
