// Prometheus metrics (names per PROTOCOLS.md §5: `dialgate_` prefix, base units, `_total`
// counters, bounded labels only — never a user id, number or call id). `provider_id` is bounded
// by the providers installed (two accounts of one kind can be told apart on a dashboard).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SETUP_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60];

export class Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly calls: Counter<'provider_kind' | 'provider_id' | 'direction' | 'outcome'>;
  readonly callsDispatched: Counter<'provider_kind' | 'provider_id' | 'result'>;
  readonly callSetup: Histogram<'provider_kind' | 'provider_id' | 'stage'>;
  readonly dispatchOverhead: Histogram<'provider_kind'>;
  readonly providerRequest: Histogram<'provider_kind' | 'provider_id' | 'operation' | 'outcome'>;
  readonly probes: Counter<'provider_kind' | 'provider_id' | 'result'>;
  readonly probeDuration: Histogram<'provider_kind' | 'provider_id'>;
  readonly callsReconciled: Counter<'outcome'>;
  readonly webhooks: Counter<'provider_kind' | 'result'>;
  readonly inboundUnknown: Counter<'provider_kind'>;
  readonly screenPop: Histogram<'provider_kind'>;
  readonly wsConnections: Gauge;
  readonly wsDropped: Counter<'reason'>;
  readonly callsRefused: Counter<'reason'>;
  readonly failovers: Counter<'provider_kind'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'dialgate_' });
    const registers = [this.registry];
    this.httpDuration = new Histogram({
      name: 'dialgate_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.calls = new Counter({
      name: 'dialgate_calls_total',
      help: 'Calls that reached a terminal status, by provider, direction and outcome',
      labelNames: ['provider_kind', 'provider_id', 'direction', 'outcome'],
      registers,
    });
    this.callsDispatched = new Counter({
      name: 'dialgate_calls_dispatched_total',
      help: 'Click-to-call dispatches to a provider, by result (ok, or the error code)',
      labelNames: ['provider_kind', 'provider_id', 'result'],
      registers,
    });
    this.callSetup = new Histogram({
      name: 'dialgate_call_setup_seconds',
      help: 'Time from dial to ringing and to answered, by provider',
      labelNames: ['provider_kind', 'provider_id', 'stage'],
      buckets: SETUP_BUCKETS,
      registers,
    });
    this.dispatchOverhead = new Histogram({
      name: 'dialgate_dispatch_overhead_seconds',
      help: 'Time spent inside the gateway per click-to-call, excluding the provider API request',
      labelNames: ['provider_kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.providerRequest = new Histogram({
      name: 'dialgate_provider_request_duration_seconds',
      help: 'Provider API request duration by provider, operation and outcome',
      labelNames: ['provider_kind', 'provider_id', 'operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.probes = new Counter({
      name: 'dialgate_provider_probes_total',
      help: 'Active health probes of a provider (run by one instance at a time), by result (ok, failed)',
      labelNames: ['provider_kind', 'provider_id', 'result'],
      registers,
    });
    this.probeDuration = new Histogram({
      name: 'dialgate_provider_probe_duration_seconds',
      help: 'Time one active health probe of a provider took',
      labelNames: ['provider_kind', 'provider_id'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.callsReconciled = new Counter({
      name: 'dialgate_calls_reconciled_total',
      help: 'Live calls with no news the reconciler asked their provider about, by outcome (ended, updated, unchanged, unsure)',
      labelNames: ['outcome'],
      registers,
    });
    this.webhooks = new Counter({
      name: 'dialgate_webhooks_received_total',
      help: 'Provider webhooks received, by result (ok, rejected, unknown_provider, error)',
      labelNames: ['provider_kind', 'result'],
      registers,
    });
    this.inboundUnknown = new Counter({
      name: 'dialgate_inbound_unknown_number_total',
      help: 'Inbound calls to numbers no user owns (refused)',
      labelNames: ['provider_kind'],
      registers,
    });
    this.screenPop = new Histogram({
      name: 'dialgate_screen_pop_seconds',
      help: 'Time from an inbound call reaching the gateway to its screen-pop event being published',
      labelNames: ['provider_kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.wsConnections = new Gauge({
      name: 'dialgate_websocket_connections',
      help: 'Open event WebSocket connections on this instance',
      registers,
    });
    this.wsDropped = new Counter({
      name: 'dialgate_websocket_dropped_total',
      help: 'Event WebSocket connections closed by the gateway, by reason (heartbeat, slow_consumer)',
      labelNames: ['reason'],
      registers,
    });
    this.callsRefused = new Counter({
      name: 'dialgate_calls_refused_total',
      help: 'Outbound calls refused before any provider was asked, by reason (destination_not_allowed, emergency, rate_limited, concurrent_calls)',
      labelNames: ['reason'],
      registers,
    });
    this.failovers = new Counter({
      name: 'dialgate_call_failovers_total',
      help: 'Click-to-calls moved to another provider because theirs refused or was down, by the kind that failed',
      labelNames: ['provider_kind'],
      registers,
    });
  }
}
