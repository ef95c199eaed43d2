// The live per-provider figures, fed by the call service's observer hook: every dial request
// (attempt, API latency, dial error), and every status change of an outbound call (setup time to
// ringing and to answer from the call's own history, answers, terminal failures). Trial calls
// also feed their trial's totals. Everything here is synchronous and fire-and-forget: the call
// path never waits on figures.
//
// The same figures exist as Prometheus series (labels: provider_kind and a bounded cause only —
// provider ids are per tenant, which PROTOCOLS §5 keeps out of labels): the attempts, answers and
// failures counters below, the breaker gauge, and the core's dialgate_call_setup_seconds and
// dialgate_provider_request_duration_seconds histograms.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CallObserver } from '../calls/call-events.js';
import type { Call, CallStatus, Provider } from '../domain/types.js';
import type { PerfSample } from './codec.js';
import type { HealthStore } from '../store/health/port.js';
import type { PerfStore } from '../store/perf/port.js';

const FAILURE_STATUSES: ReadonlySet<CallStatus> = new Set(['busy', 'no-answer', 'failed', 'canceled']);
/** label values for the failures counter; any other cause is counted as "other" */
const KNOWN_CAUSES = new Set(['busy', 'no-answer', 'failed', 'canceled', 'provider_unavailable', 'provider_error', 'provider_auth_failed', 'invalid_number', 'rate_limited']);

export interface PerfMetrics {
  attempts: Counter<'provider_kind' | 'provider_id'>;
  answered: Counter<'provider_kind' | 'provider_id'>;
  failures: Counter<'provider_kind' | 'provider_id' | 'cause'>;
  breakerOpen: Gauge<'provider_kind' | 'provider_id'>;
}

export function perfMetrics(registry: Registry, breakerStates: () => Promise<Map<string, { kind: string; open: number }>>): PerfMetrics {
  const registers = [registry];
  return {
    attempts: new Counter({
      name: 'dialgate_call_attempts_total',
      help: 'Dial requests sent to a provider (click-to-call, failover and trial calls), by provider',
      labelNames: ['provider_kind', 'provider_id'],
      registers,
    }),
    answered: new Counter({
      name: 'dialgate_calls_answered_total',
      help: 'Outbound calls answered, by provider (answer ratio = this / dialgate_call_attempts_total)',
      labelNames: ['provider_kind', 'provider_id'],
      registers,
    }),
    failures: new Counter({
      name: 'dialgate_call_failures_total',
      help: 'Outbound call failures by provider and cause (busy, no-answer, failed, canceled, or the dial error code)',
      labelNames: ['provider_kind', 'provider_id', 'cause'],
      registers,
    }),
    breakerOpen: new Gauge({
      name: 'dialgate_provider_breaker_open',
      help: 'Whether a provider\'s circuit breaker (shared by every instance) is open or half-open (1) or closed (0); providers this instance dialled or probed since start',
      labelNames: ['provider_kind', 'provider_id'],
      registers,
      async collect() {
        let states: Map<string, { kind: string; open: number }>;
        try {
          states = await breakerStates();
        } catch {
          return; // a scrape must not fail because Redis blinked; the last values stand
        }
        this.reset();
        for (const [id, s] of states) this.set({ provider_kind: s.kind, provider_id: id }, s.open);
      },
    }),
  };
}

function secondsBetween(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const s = (Date.parse(to) - Date.parse(from)) / 1000;
  return Number.isFinite(s) && s >= 0 ? s : undefined;
}

export class PerfRecorder implements CallObserver {
  /** providers dialled or probed on this instance (id → org and kind), for the breaker gauge */
  private readonly seen = new Map<string, { orgId: string; kind: string }>();
  readonly metrics: PerfMetrics;

  constructor(
    private readonly store: PerfStore,
    registry: Registry,
    private readonly health: Pick<HealthStore, 'all'>,
    private readonly logger?: Logger,
  ) {
    this.metrics = perfMetrics(registry, () => this.breakerCounts());
  }

  /** A provider this instance watches (the prober's, beside the ones it dials). */
  track(provider: Provider): void {
    this.seen.set(provider.id, { orgId: provider.orgId, kind: provider.kind });
  }

  private async breakerCounts(): Promise<Map<string, { kind: string; open: number }>> {
    const out = new Map<string, { kind: string; open: number }>();
    const orgs = new Set([...this.seen.values()].map((s) => s.orgId));
    const states = new Map<string, string>();
    for (const orgId of orgs) for (const [id, v] of await this.health.all(orgId)) states.set(id, v.state);
    for (const [id, { kind }] of this.seen) out.set(id, { kind, open: (states.get(id) ?? 'closed') === 'closed' ? 0 : 1 });
    return out;
  }

  private put(call: Call, providerId: string, kind: string, sample: PerfSample): void {
    this.store.record(call.orgId, providerId, sample, call.trialId);
    const labels = { provider_kind: kind, provider_id: providerId };
    if (sample.attempt) this.metrics.attempts.inc(labels);
    if (sample.answered) this.metrics.answered.inc(labels);
    if (sample.failure) this.metrics.failures.inc({ ...labels, cause: KNOWN_CAUSES.has(sample.failure) ? sample.failure : 'other' });
  }

  dialed(call: Call, provider: Provider, apiSeconds: number, errorCode?: string): void {
    try {
      if (call.direction !== 'outbound') return;
      this.seen.set(provider.id, { orgId: call.orgId, kind: provider.kind });
      this.put(call, provider.id, provider.kind, { attempt: true, apiLatency: apiSeconds, ...(errorCode ? { failure: errorCode } : {}) });
    } catch (e) {
      this.logger?.warn({ err: (e as Error).message }, 'perf: dial not recorded');
    }
  }

  transitioned(call: Call, status: CallStatus): void {
    try {
      if (call.direction !== 'outbound') return;
      const dialing = call.history.find((h) => h.status === 'dialing')?.at;
      const at = call.history[call.history.length - 1]?.at;
      if (status === 'ringing') {
        const s = secondsBetween(dialing, at);
        if (s !== undefined) this.put(call, call.providerId, call.providerKind, { setupToRinging: s });
      } else if (status === 'answered') {
        this.put(call, call.providerId, call.providerKind, { answered: true, setupToAnswer: secondsBetween(dialing, at) });
      } else if (status === 'completed' && !call.history.some((h) => h.status === 'answered')) {
        // only an answered call completes; its "answered" report lost the race to "completed"
        // (and was then refused as a step backwards): still an answer, without a setup time
        this.put(call, call.providerId, call.providerKind, { answered: true });
      } else if (FAILURE_STATUSES.has(status) && (dialing || call.providerCallId)) {
        // a call no provider accepted failed at its dial request, already counted there
        this.put(call, call.providerId, call.providerKind, { failure: status });
      }
    } catch (e) {
      this.logger?.warn({ err: (e as Error).message }, 'perf: status not recorded');
    }
  }
}
