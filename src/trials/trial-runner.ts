// One provider's share of a trial: `calls` trial calls through that provider, at most
// `concurrency` of them live at once, each waited on until it ends. The run is resumable: what was
// placed is in the trial store, so a run restarted after a gateway restart (a BullMQ job taken up
// again) first waits for the calls the previous run left open, then places only the rest.
//
// A run stopped by a graceful shutdown hangs up its live calls (the simulated provider's calls
// would otherwise die with the process; real ones would ring on unobserved) and answers
// "interrupted" so the queue hands the job to the next instance. Calls left open by a crash are
// given hangUpAfterMs + abandonAfterMs from their creation, then failed as "trial_abandoned".

import type { Logger } from 'pino';
import type { CallEvents } from '../calls/call-events.js';
import type { Reconciler } from '../calls/reconciler.js';
import type { Dispatcher } from '../calls/dispatch.js';
import type { OrgConfigCache } from '../directory/org-config.js';
import { isTerminal } from '../domain/state-machine.js';
import { DomainError } from '../domain/errors.js';
import type { Call } from '../domain/types.js';
import type { CallStore } from '../store/calls/port.js';
import type { PerfStore } from '../store/perf/port.js';
import type { TrialRunResult } from '../store/queues/port.js';
import type { TrialMeta, TrialStore } from '../store/trials/port.js';
import { trialOutcome } from './trial-observer.js';
import type { CallWaiters } from './waiters.js';

export interface TrialRunnerDeps {
  calls: CallStore;
  configs: OrgConfigCache;
  dispatcher: Pick<Dispatcher, 'placeTrialCall'>;
  reconciler: Pick<Reconciler, 'hangUp'>;
  events: Pick<CallEvents, 'apply'>;
  trials: TrialStore;
  perf: PerfStore;
  waiters: CallWaiters;
  logger: Logger;
  /** how long past hangUpAfterMs a call may stay open before it is written off (default 120 s) */
  abandonAfterMs?: number;
  /** how often a waiting run looks at the store for calls ended elsewhere (default 1 s) */
  pollMs?: number;
}

export type RunResult = TrialRunResult;

export async function runTrialPart(d: TrialRunnerDeps, trialId: string, orgId: string, providerId: string, signal: AbortSignal): Promise<RunResult> {
  const state = await d.trials.get(orgId, trialId);
  if (!state) {
    d.logger.warn({ trialId }, 'trial run for an unknown (expired?) trial; dropped');
    return 'done';
  }
  const meta: TrialMeta = state.meta;
  if (state.parts.find((p) => p.providerId === providerId)?.done) return 'done';
  const provider = (await d.configs.get(orgId)).provider(providerId);
  if (!provider) {
    await d.trials.finishPart(orgId, trialId, providerId, 'provider_not_found');
    return 'done';
  }
  const abandonAfterMs = d.abandonAfterMs ?? 120_000;
  const pollMs = d.pollMs ?? 1000;

  let next = await d.trials.placedCount(orgId, trialId, providerId);
  const leftOpen = await d.trials.openCalls(orgId, trialId, providerId);
  let stopCode: string | undefined;
  let failure: unknown;

  /** Waits until the call ends; hangs it up when the run is interrupted. */
  const settle = async (callId: string): Promise<void> => {
    let call: Call | null = await d.calls.getCall(orgId, callId);
    const deadline = (call ? Date.parse(call.createdAt) : Date.now()) + meta.hangUpAfterMs + abandonAfterMs;
    for (;;) {
      if (!call || isTerminal(call.status)) {
        await d.trials.markDone(orgId, trialId, providerId, callId, call ? trialOutcome(call) : undefined);
        return;
      }
      if (signal.aborted) {
        await d.reconciler.hangUp(orgId, callId, false).catch((e: Error) => d.logger.warn({ trialId, callId, err: e.message }, 'could not hang up an interrupted trial call'));
        const ended = await d.calls.getCall(orgId, callId);
        if (ended && isTerminal(ended.status)) await d.trials.markDone(orgId, trialId, providerId, callId, trialOutcome(ended));
        return;
      }
      if (Date.now() >= deadline) {
        await d.events.apply(orgId, callId, { status: 'failed', at: new Date().toISOString(), cause: 'trial_abandoned' });
        await d.trials.markDone(orgId, trialId, providerId, callId);
        return;
      }
      await d.waiters.wait(callId, Math.min(pollMs, deadline - Date.now()), signal);
      call = await d.calls.getCall(orgId, callId);
    }
  };

  const lane = async (): Promise<void> => {
    try {
      for (let open = leftOpen.shift(); open; open = leftOpen.shift()) await settle(open);
      while (!signal.aborted && !stopCode && !failure && next < meta.calls) {
        next++;
        let call: Call;
        try {
          call = await d.dispatcher.placeTrialCall(orgId, provider, meta.to, { trialId, hangUpAfterMs: meta.hangUpAfterMs, actor: meta.actor });
        } catch (e) {
          next--;
          // a refusal (the dial policy changed since the trial started...) ends this provider's run
          if (e instanceof DomainError && e.status < 500) stopCode = e.code;
          else throw e;
          return;
        }
        await d.trials.addPlaced(orgId, trialId, providerId, call.id);
        await settle(call.id);
      }
    } catch (e) {
      failure ??= e;
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, meta.concurrency) }, lane));
  if (signal.aborted) return 'interrupted';
  if (failure) throw failure;
  // the last calls' figures are written fire-and-forget: let them land before the trial says done
  await d.perf.flush();
  if (await d.trials.finishPart(orgId, trialId, providerId, stopCode)) d.logger.info({ trialId }, 'trial completed');
  return 'done';
}
