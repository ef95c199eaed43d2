// Wires the provider-evidence features into a gateway: the live figures (perf store + observer +
// GET /v1/providers/performance) and trials (store, runs on BullMQ or in-process, observer,
// POST|GET /v1/trials). src/wiring.ts merges what this returns into its extension.

import type { CallObserver } from '../calls/call-service.js';
import type { GatewayParts } from '../gateway.js';
import { performanceRoutes } from '../http/routes/performance.js';
import { trialRoutes } from '../http/routes/trials.js';
import { PerfService } from '../perf/perf-service.js';
import { MemoryPerfStore, RedisPerfStore, type PerfStore } from '../perf/perf-store.js';
import { PerfRecorder } from '../perf/recorder.js';
import type { AppDeps } from '../http/app.js';
import { BullTrialQueue, LocalTrialQueue, type TrialQueue } from './trial-queue.js';
import { runTrialPart, type TrialRunnerDeps } from './trial-runner.js';
import { trialObserver } from './trial-observer.js';
import { TrialService } from './trial-service.js';
import { MemoryTrialStore, RedisTrialStore, type TrialStore } from './trial-store.js';
import { CallWaiters } from './waiters.js';

export interface EvidenceOptions {
  /** BullMQ prefix for trial runs (hash-tagged); the call-log queue's prefix does */
  queuePrefix: string;
  runner?: Pick<TrialRunnerDeps, 'abandonAfterMs' | 'pollMs'>;
}

export interface Evidence {
  observers: CallObserver[];
  plugins: NonNullable<AppDeps['plugins']>;
  perf: PerfStore;
  trials: TrialStore;
  close(): Promise<void>;
}

export function wireEvidence(parts: GatewayParts, opts: EvidenceOptions): Evidence {
  const { redis, keyPrefix, logger, config } = parts;
  const perf: PerfStore = redis ? new RedisPerfStore(redis, keyPrefix, logger) : new MemoryPerfStore();
  const trials: TrialStore = redis ? new RedisTrialStore(redis, keyPrefix) : new MemoryTrialStore();
  const recorder = new PerfRecorder(perf, parts.metrics.registry, parts.providers.breakers, logger);
  const waiters = new CallWaiters();
  const runDeps: TrialRunnerDeps = { store: parts.store, calls: parts.calls, trials, perf, waiters, logger, ...opts.runner };
  const run = (trialId: string, orgId: string, providerId: string, signal: AbortSignal) => runTrialPart(runDeps, trialId, orgId, providerId, signal);
  const queue: TrialQueue = config.redisUrl
    ? new BullTrialQueue({ redisUrl: config.redisUrl, prefix: opts.queuePrefix, run, logger })
    : new LocalTrialQueue(run, logger);
  const service = new TrialService({ store: parts.store, trials, perf, policy: parts.policy, audit: parts.audit, queue });
  return {
    observers: [recorder, trialObserver(trials, waiters, logger)],
    plugins: [performanceRoutes(new PerfService(parts.store, perf)), trialRoutes(service)],
    perf,
    trials,
    async close() {
      // runs first: interrupted ones hang up their calls while the adapters are still alive
      await queue.close();
      await perf.flush();
    },
  };
}
