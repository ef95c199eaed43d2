// Feeds trial progress from the normal status path: a trial call's terminal status marks it
// finished in its trial, with its talk time and any price its provider reported (what the
// report prices it from: the write the status path already makes, no extra one), and wakes the
// run waiting on it. Never blocks the call path.

import type { Logger } from 'pino';
import type { CallObserver } from '../calls/call-events.js';
import { isTerminal } from '../domain/state-machine.js';
import type { Call, CallStatus } from '../domain/types.js';
import type { TrialOutcome, TrialStore } from '../store/trials/port.js';
import type { CallWaiters } from './waiters.js';

export function trialObserver(trials: TrialStore, waiters: CallWaiters, logger?: Logger): CallObserver {
  return {
    dialed() {},
    transitioned(call: Call, status: CallStatus) {
      if (!call.trialId || !isTerminal(status)) return;
      trials.markDone(call.orgId, call.trialId, call.providerId, call.id, trialOutcome(call)).then(
        () => waiters.wake(call.id),
        (e: Error) => {
          logger?.warn({ trialId: call.trialId, err: e.message }, 'trial progress not recorded');
          waiters.wake(call.id);
        },
      );
    },
  };
}

/** What an ended trial call's cost is computed from. */
export function trialOutcome(call: Call): TrialOutcome {
  return { talkSec: call.durationSec ?? 0, ...(call.providerPrice ? { price: { ...call.providerPrice } } : {}) };
}
