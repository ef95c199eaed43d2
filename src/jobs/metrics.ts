// Call-log metrics. One set per prom-client registry (the gateway's or the default one), so the
// gateway and a separate worker process can each expose them without double registration.

import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';

export interface CallLogMetrics {
  logs: Counter<'crm' | 'outcome'>;
  duration: Histogram<'crm'>;
  depth: Gauge;
  /** the queue whose depth the gauge reports at scrape time */
  setDepthSource(fn: (() => Promise<number>) | null): void;
}

const byRegistry = new WeakMap<Registry, CallLogMetrics>();

export function callLogMetrics(registry: Registry = defaultRegistry): CallLogMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  let depthSource: (() => Promise<number>) | null = null;
  const m: CallLogMetrics = {
    logs: new Counter({
      name: 'dialgate_crm_logs_total',
      help: 'Call-log job outcomes by CRM kind (logged, already_logged, skipped, retry, failed, no_crm)',
      labelNames: ['crm', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'dialgate_crm_log_duration_seconds',
      help: 'Time from the end of a call to its log being written in the CRM',
      labelNames: ['crm'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    depth: new Gauge({
      name: 'dialgate_crm_queue_depth',
      help: 'Call-log jobs waiting, delayed for retry or running',
      registers: [registry],
      async collect() {
        if (!depthSource) return;
        try {
          this.set(await depthSource());
        } catch {
          // a scrape must not fail because Redis blinked; the last value stands
        }
      },
    }),
    setDepthSource(fn) {
      depthSource = fn;
    },
  };
  byRegistry.set(registry, m);
  return m;
}
