// A trial's definition and progress: which calls were placed through each provider and which of
// them have ended, and which providers' runs are over. Sets of call ids (not counters) so a
// repeated write — a resumed run, an event seen twice — never counts twice. Kept as long as the
// trial's figures (TRIAL_TTL_SEC).

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

export interface TrialPart {
  providerId: string;
  placed: number;
  finished: number;
  /** this provider's run is over */
  done: boolean;
  /** why the run stopped early (e.g. the destination became refused), when it did */
  error?: string;
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
  markDone(orgId: string, trialId: string, providerId: string, callId: string): Promise<void>;
  /** how many calls of this provider's run were placed so far */
  placedCount(orgId: string, trialId: string, providerId: string): Promise<number>;
  /** calls placed and not yet ended (a resumed run waits for them) */
  openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]>;
  /** Marks one provider's run over; true when that made the whole trial complete. */
  finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean>;
}
