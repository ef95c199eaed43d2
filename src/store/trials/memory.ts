// Trials in local mode.

import type { TrialMeta, TrialOutcome, TrialState, TrialStore } from './port.js';

interface MemTrial {
  meta: TrialMeta;
  completedAt: string | null;
  placed: Map<string, Set<string>>;
  done: Map<string, Set<string>>;
  outcomes: Map<string, Map<string, TrialOutcome>>;
  parts: Set<string>;
  errors: Map<string, string>;
}

export class MemoryTrialStore implements TrialStore {
  private readonly trials = new Map<string, MemTrial>();

  private key(orgId: string, trialId: string) {
    return `${orgId}/${trialId}`;
  }

  private set(map: Map<string, Set<string>>, pid: string): Set<string> {
    let s = map.get(pid);
    if (!s) map.set(pid, (s = new Set()));
    return s;
  }

  async create(meta: TrialMeta): Promise<void> {
    this.trials.set(this.key(meta.orgId, meta.id), { meta: structuredClone(meta), completedAt: null, placed: new Map(), done: new Map(), outcomes: new Map(), parts: new Set(), errors: new Map() });
  }

  async get(orgId: string, trialId: string): Promise<TrialState | null> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return null;
    const parts = t.meta.providerIds.map((providerId) => {
      const placed = t.placed.get(providerId)?.size ?? 0;
      const err = t.errors.get(providerId);
      const out = t.outcomes.get(providerId);
      return {
        providerId,
        placed,
        finished: Math.min(placed, t.done.get(providerId)?.size ?? 0),
        done: t.parts.has(providerId),
        ...(err ? { error: err } : {}),
        ...(out?.size ? { outcomes: structuredClone([...out.values()]) } : {}),
      };
    });
    return { meta: structuredClone(t.meta), completedAt: t.completedAt, parts };
  }

  async addPlaced(orgId: string, trialId: string, providerId: string, callId: string): Promise<void> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (t) this.set(t.placed, providerId).add(callId);
  }

  async markDone(orgId: string, trialId: string, providerId: string, callId: string, outcome?: TrialOutcome): Promise<void> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return;
    this.set(t.done, providerId).add(callId);
    if (!outcome) return;
    let m = t.outcomes.get(providerId);
    if (!m) t.outcomes.set(providerId, (m = new Map()));
    m.set(callId, structuredClone(outcome));
  }

  async placedCount(orgId: string, trialId: string, providerId: string): Promise<number> {
    return this.trials.get(this.key(orgId, trialId))?.placed.get(providerId)?.size ?? 0;
  }

  async openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return [];
    const done = t.done.get(providerId) ?? new Set<string>();
    return [...(t.placed.get(providerId) ?? [])].filter((id) => !done.has(id));
  }

  async finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return false;
    t.parts.add(providerId);
    if (error) t.errors.set(providerId, error);
    if (t.parts.size < t.meta.providerIds.length || t.completedAt) return false;
    t.completedAt = new Date().toISOString();
    return true;
  }
}
