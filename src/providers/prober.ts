// Active probing: every housekeeping round (one instance at a time), each installed provider's
// adapter is asked health() — Twilio an authenticated read of its account, RingCentral a token and
// its extension, SIP its trunk's OPTIONS, the simulator its config — and the answer feeds the
// provider's breaker in the backend with the same hysteresis as dials (failureThreshold failed
// probes open it; closeAfter good ones close it once half-open), so a provider whose credentials
// broke or whose API went away shows unhealthy on every instance before anyone dials it. Each
// result is counted in the provider's figures and metrics too.

import type { Logger } from 'pino';
import type { OrgConfigCache } from '../directory/org-config.js';
import type { Provider } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { HealthStore } from '../store/health/port.js';
import type { PerfStore } from '../store/perf/port.js';
import type { ProviderHealth } from './adapter.js';
import { breakerPolicyOf } from './breaker.js';
import type { ProviderRuntime } from './runtime.js';

export interface ProberDeps {
  configs: OrgConfigCache;
  providers: ProviderRuntime;
  health: HealthStore;
  metrics: Metrics;
  logger: Logger;
  /** the probed provider, for metrics kept per provider elsewhere (the breaker gauge) */
  track?: (provider: Provider) => void;
  /** where the figures go (GET /v1/providers/performance shows probes beside the calls) */
  perf?: Pick<PerfStore, 'record'>;
}

const PROBE_TIMEOUT_MS = 10_000;

export class Prober {
  constructor(private readonly deps: ProberDeps) {}

  /** One org's round (a housekeeping task). */
  async org(orgId: string): Promise<void> {
    const snap = await this.deps.configs.load(orgId);
    await Promise.all(snap.providers().map((p) => this.probe(p)));
  }

  async probe(provider: Provider): Promise<ProviderHealth> {
    const { providers, health, metrics, logger } = this.deps;
    const started = performance.now();
    let result: ProviderHealth;
    let timer: NodeJS.Timeout | undefined;
    try {
      result = await Promise.race([
        providers.adapter(provider).health(),
        new Promise<ProviderHealth>((r) => (timer = setTimeout(() => r({ healthy: false, detail: 'probe timed out' }), PROBE_TIMEOUT_MS))),
      ]);
    } catch (e) {
      result = { healthy: false, detail: (e as Error).message };
    } finally {
      clearTimeout(timer);
    }
    this.deps.track?.(provider);
    const labels = { provider_kind: provider.kind, provider_id: provider.id };
    metrics.probes.inc({ ...labels, result: result.healthy ? 'ok' : 'failed' });
    this.deps.perf?.record(provider.orgId, provider.id, { probe: result.healthy ? 'ok' : 'failed' });
    metrics.probeDuration.observe(labels, (performance.now() - started) / 1000);
    const policy = breakerPolicyOf(provider);
    const view = result.healthy ? await health.success(provider.orgId, provider.id, policy) : await health.failure(provider.orgId, provider.id, policy);
    if (!result.healthy) logger.warn({ providerId: provider.id, detail: result.detail, breaker: view.state, failures: view.failures }, 'provider probe failed');
    return result;
  }
}
