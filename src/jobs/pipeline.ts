// The call-log pipeline as the composition roots use it: the backend's call-log queue with this
// gateway's retry policy and metrics, and its worker (in the gateway unless disabled, or in
// `npm run worker`).

import { settleCost } from '../costs/cost-service.js';
import type { Call } from '../domain/types.js';
import type { ProviderKindDefinition } from '../providers/adapter.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Backend } from '../store/backend.js';
import type { CallLogQueue } from '../store/queues/port.js';
import type { CrmConnectors } from '../crm/connectors.js';
import { isPermanent, retryDelayMs, retryPolicy, type RetryPolicy } from './call-log-policy.js';
import { callLogProcessor } from './call-log-worker.js';
import { callLogMetrics } from './metrics.js';

export interface CallLogPipelineOptions {
  logger: Logger;
  /** metrics go here (default: prom-client's default registry) */
  registry?: Registry;
  retry?: Partial<RetryPolicy>;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/** The call-log queue of this backend (its depth reported in the metrics). */
export function callLogQueue(backend: Backend, opts: CallLogPipelineOptions): CallLogQueue {
  const policy = retryPolicy(opts.retry);
  const queue = backend.queues.callLog({
    attempts: policy.attempts,
    retryDelay: (attemptsMade, err) => retryDelayMs(policy, attemptsMade, err),
    isPermanent,
    logger: opts.logger,
    lockDurationMs: opts.lockDurationMs,
    stalledIntervalMs: opts.stalledIntervalMs,
  });
  callLogMetrics(opts.registry).setDepthSource(() => queue.depth());
  return queue;
}

/** Runs the queue's jobs in this process, `concurrency` at once per queue shard. */
export function startCallLogWorker(
  queue: CallLogQueue,
  backend: Backend,
  crm: CrmConnectors,
  opts: CallLogPipelineOptions & { concurrency: number; providerKinds?: Pick<ProviderKindDefinition, 'kind' | 'priceWaitSec'>[] },
): void {
  const costs = (orgId: string, call: Call) => settleCost(backend.costs, orgId, call);
  const waits = new Map((opts.providerKinds ?? []).map((k) => [k.kind, (k.priceWaitSec ?? 0) * 1000]));
  const priceWaitMs = (kind: string) => waits.get(kind) ?? 0;
  queue.startWorker(callLogProcessor({ calls: backend.calls, crm, logger: opts.logger, metrics: callLogMetrics(opts.registry), costs, priceWaitMs }), opts.concurrency);
}
