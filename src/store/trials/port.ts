// A trial's definition and progress: which calls were placed through each provider and which of
// them have ended, and which providers' runs are over. Sets of call ids (not counters) so a
// repeated write — a resumed run, an event seen twice — never counts twice. Kept as long as the
// trial's figures (TRIAL_TTL_SEC). An ended call's outcome (talk time, a reported price) is kept
// with it, by call id, so the report can price each call on its provider's rate table.

import type { Money } from '../../costs/rates.js';

export interface TrialSpec {
  providerIds: string[];
  /** E.164 */
  to: string;
  calls: number;
  concurrency: number;
  hangUpAfterMs: number;
}

export interface TrialMeta extends TrialSpec {
  id: string;
  orgId: string;
  createdAt: string;
  /** the credential id that started it */
  actor: string;
}

/** How an ended trial call went, as far as its cost goes. */
export interface TrialOutcome {
  talkSec: number;
  /** the provider's reported price, when it gave one */
  price?: Money;
}

export interface TrialPart {
  providerId: string;
  placed: number;
  finished: number;
  /** this provider's run is over */
  done: boolean;
  /** why the run stopped early (e.g. the destination became refused), when it did */
  error?: string;
  /** the ended calls' outcomes (absent: none recorded) */
  outcomes?: TrialOutcome[];
}

export interface TrialState {
  meta: TrialMeta;
  completedAt: string | null;
  parts: TrialPart[];
}

export interface TrialStore {
  create(meta: TrialMeta): Promise<void>;
  get(orgId: string, trialId: string): Promise<TrialState | null>;
  addPlaced(orgId: string, trialId: string, providerId: string, callId: string): Promise<void>;
  /** Marks a call ended; with its outcome, kept by call id (a repeat replaces it, never adds). */
  markDone(orgId: string, trialId: string, providerId: string, callId: string, outcome?: TrialOutcome): Promise<void>;
  /** how many calls of this provider's run were placed so far */
  placedCount(orgId: string, trialId: string, providerId: string): Promise<number>;
  /** calls placed and not yet ended (a resumed run waits for them) */
  openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]>;
  /** Marks one provider's run over; true when that made the whole trial complete. */
  finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean>;
}
