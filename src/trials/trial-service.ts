// Trials: test calls through several providers side by side before a rollout. Starting one checks
// everything a run would otherwise trip on (providers of this org, a valid E.164 destination the
// dial policy allows through each provider), records it, audits it and queues one run per
// provider; the report merges progress with each provider's figures from the trial's calls, and
// with what those calls cost: each ended call priced on its own provider's rate table (or at the
// price the provider reported), from the outcome kept with it when it ended.

import { costOfCalls, type CallsCost } from '../costs/cost-service.js';
import type { OrgConfigCache } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import { newId } from '../domain/random.js';
import type { Provider } from '../domain/types.js';
import { distributionOf } from '../perf/codec.js';
import type { ProviderFigures } from '../perf/perf-service.js';
import { figuresFor } from '../perf/perf-service.js';
import type { AuditLog } from '../store/audit/port.js';
import type { CostStore } from '../store/costs/port.js';
import type { PerfStore } from '../store/perf/port.js';
import type { TrialQueue } from '../store/queues/port.js';
import type { TrialMeta, TrialSpec, TrialStore } from '../store/trials/port.js';
import { isEmergencyNumber } from '../policy/emergency.js';
import type { PolicyService } from '../policy/policy-service.js';

export interface TrialReportRow extends ProviderFigures {
  placed: number;
  finished: number;
  /** setup-time histograms ([upper bound s, calls]) for charts such as scripts/provider-trial.ts */
  distributions: { setupToRinging: Array<[number, number]>; setupToAnswer: Array<[number, number]> };
  /** why this provider's run stopped early, when it did */
  error?: string;
  /** the ended calls priced on this provider's rate table (a reported price replaces it) */
  cost: CallsCost;
}

export interface TrialReport {
  id: string;
  status: 'running' | 'completed';
  createdAt: string;
  completedAt: string | null;
  to: string;
  providerIds: string[];
  calls: number;
  concurrency: number;
  hangUpAfterMs: number;
  progress: { placed: number; finished: number; total: number };
  report: TrialReportRow[];
}

export interface TrialServiceDeps {
  configs: OrgConfigCache;
  trials: TrialStore;
  perf: PerfStore;
  policy: PolicyService;
  audit: AuditLog;
  queue: TrialQueue;
  costs: Pick<CostStore, 'allRates'>;
}

export class TrialService {
  constructor(private readonly d: TrialServiceDeps) {}

  async start(orgId: string, spec: TrialSpec, actor: string): Promise<{ id: string }> {
    const { policy } = this.d;
    const snapshot = await this.d.configs.load(orgId);
    const ids = [...new Set(spec.providerIds)];
    const providers: Provider[] = [];
    for (const id of ids) {
      const p = snapshot.provider(id);
      if (!p) throw new DomainError('provider_not_found', `provider ${id} not found`);
      providers.push(p);
    }
    const num = spec.to.trim().startsWith('+') ? parsePhone(spec.to.trim()) : undefined;
    // an emergency number is refused as such (403, audited), whatever its form
    if (isEmergencyNumber(spec.to)) await policy.enforce({ snapshot, raw: spec.to, number: num, user: null, provider: providers[0], actor, path: 'trial' });
    if (!num) throw new DomainError('invalid_number', `"${spec.to}" is not a valid E.164 number (+ and country code)`);
    // every provider's own narrowing too: a run refused midway would be a trial half done
    for (const p of providers) await policy.enforce({ snapshot, raw: spec.to, number: num, user: null, provider: p, actor, path: 'trial' });

    const meta: TrialMeta = {
      id: newId('trl'),
      orgId,
      providerIds: ids,
      to: num.number,
      calls: spec.calls,
      concurrency: spec.concurrency,
      hangUpAfterMs: spec.hangUpAfterMs,
      createdAt: new Date().toISOString(),
      actor,
    };
    await this.d.trials.create(meta);
    const { orgId: _o, actor: _a, id, ...after } = meta;
    await this.d.audit.append(orgId, { actor, action: 'trial.start', target: { type: 'trial', id }, after });
    await this.d.queue.start(orgId, id, ids);
    return { id };
  }

  async get(orgId: string, trialId: string): Promise<TrialReport> {
    const state = await this.d.trials.get(orgId, trialId);
    if (!state) throw new DomainError('not_found', `trial ${trialId} not found`);
    const { meta } = state;
    const [counters, snapshot, tables] = await Promise.all([this.d.perf.trial(orgId, trialId), this.d.configs.get(orgId), this.d.costs.allRates(orgId)]);
    // a provider uninstalled since keeps its row, under its id
    const known = meta.providerIds.map((id) => snapshot.provider(id) ?? { id, kind: 'unknown', name: '(uninstalled)' });
    const figures = figuresFor(known, counters);
    const report = figures.map((f, i) => {
      const part = state.parts[i];
      const c = counters.get(f.providerId);
      return {
        ...f,
        placed: part.placed,
        finished: part.finished,
        ...(part.error ? { error: part.error } : {}),
        cost: costOfCalls((part.outcomes ?? []).map((o) => ({ to: meta.to, durationSec: o.talkSec, ...(o.price ? { providerPrice: o.price } : {}) })), tables[f.providerId] ?? null),
        distributions: { setupToRinging: distributionOf(c, 'setupToRinging'), setupToAnswer: distributionOf(c, 'setupToAnswer') },
      };
    });
    const placed = state.parts.reduce((a, p) => a + p.placed, 0);
    const finished = state.parts.reduce((a, p) => a + p.finished, 0);
    return {
      id: meta.id,
      status: state.completedAt ? 'completed' : 'running',
      createdAt: meta.createdAt,
      completedAt: state.completedAt,
      to: meta.to,
      providerIds: meta.providerIds,
      calls: meta.calls,
      concurrency: meta.concurrency,
      hangUpAfterMs: meta.hangUpAfterMs,
      progress: { placed, finished, total: meta.calls * meta.providerIds.length },
      report,
    };
  }
}
