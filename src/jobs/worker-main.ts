// Wiring for the call-log pipeline: the queue for the gateway (BullMQ with REDIS_URL, in-process
// otherwise) and a stand-alone worker for `npm run worker`. The caller supplies the store and the
// CRM kinds (the composition root owns the registry).

import type { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { BullCallLogQueue } from './bull-call-log-queue.js';
import type { CallLogQueue } from './call-log-queue.js';
import type { RetryPolicy } from './call-log-policy.js';
import { LocalCallLogQueue } from './local-call-log-queue.js';
import { callLogProcessor, type CallLogDeps, type CallLogStore } from './call-log-worker.js';
import type { CrmLogState } from '../domain/types.js';
import { callLogMetrics } from './metrics.js';

export interface CallLogPipelineOptions extends Omit<CallLogDeps, 'metrics'> {
  /** absent: local mode (in-process queue) */
  redisUrl?: string;
  /** an existing ioredis client instead of redisUrl (must have maxRetriesPerRequest: null) */
  connection?: Redis;
  /** BullMQ key prefix, hash-tagged for Redis Cluster (default `{dialgate}`) */
  prefix?: string;
  retry?: Partial<RetryPolicy>;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** metrics go here (default: prom-client's default registry) */
  registry?: Registry;
}

const PENDING: CrmLogState = { status: 'pending', attempts: 0 };

/**
 * How a queued call comes to show crmLog {pending, attempts 0}. With a store that has a
 * conditional write (Redis: set only while the call has no crmLog) the mark can go out beside the
 * job's add, from any process. Without one (memory), read then write is only safe when no worker
 * can be writing that call's crmLog meanwhile, which the in-process queue guarantees.
 */
export function pendingMarker(store: CallLogStore, conditionalOnly: boolean): ((orgId: string, callId: string) => Promise<unknown>) | undefined {
  if (store.initCrmLog) return (orgId, callId) => store.initCrmLog!(orgId, callId, PENDING);
  if (conditionalOnly) return undefined;
  return async (orgId, callId) => {
    const call = await store.getCall(orgId, callId);
    if (call && !call.crmLog) await store.setCrmLog(orgId, callId, PENDING);
  };
}

/** The queue with its processor bound; call startWorker(n) to also run jobs in this process. */
export function createCallLogQueue(opts: CallLogPipelineOptions): CallLogQueue {
  const metrics = callLogMetrics(opts.registry);
  const processor = callLogProcessor({ ...opts, metrics });
  const conn = opts.connection ?? opts.redisUrl;
  const queue: CallLogQueue = conn
    ? new BullCallLogQueue({
        connection: conn,
        processor,
        prefix: opts.prefix,
        retry: opts.retry,
        lockDurationMs: opts.lockDurationMs,
        stalledIntervalMs: opts.stalledIntervalMs,
        logger: opts.logger,
        markPending: pendingMarker(opts.store, true),
      })
    : new LocalCallLogQueue({ processor, retry: opts.retry, logger: opts.logger, markPending: pendingMarker(opts.store, false) });
  metrics.setDepthSource(() => queue.depth());
  return queue;
}

export interface CallLogWorkerOptions extends CallLogPipelineOptions {
  /** jobs run at once (default 10: Zoho's Standard-edition concurrency) */
  concurrency?: number;
}

export interface RunningCallLogWorker {
  queue: CallLogQueue;
  close(): Promise<void>;
}

/** Starts a worker (the `npm run worker` process, or in the gateway) on the shared queue. */
export function startCallLogWorker(opts: CallLogWorkerOptions): RunningCallLogWorker {
  const queue = createCallLogQueue(opts);
  queue.startWorker(opts.concurrency ?? 10);
  return {
    queue,
    async close() {
      callLogMetrics(opts.registry).setDepthSource(null);
      await queue.close();
    },
  };
}
