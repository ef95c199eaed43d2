// The one storage seam. A Backend holds every storage port of the gateway; createBackend(config)
// is the only code that reads the Redis settings or builds a client, and the gateway, the worker
// and the trial runner receive a Backend. Three kinds behind the same ports:
//   memory   local mode: one process, not durable (a one-command demo)
//   redis    one Redis (REDIS_URL)
//   cluster  a Redis Cluster (REDIS_CLUSTER_NODES): every org in one slot, events on sharded
//            pub/sub, call-log jobs spread over DIALGATE_QUEUE_SHARDS queues
// test/store/contract/ runs every port against all three (test/store/{memory,redis,cluster}.test.ts).

import type { Backend, BackendConfig, BackendOptions } from './port.js';

export type { Backend, BackendConfig, BackendKind, BackendOptions, Readiness, RedisSettings } from './port.js';

/** Builds the backend the config names. */
export async function createBackend(config: BackendConfig, opts: BackendOptions): Promise<Backend> {
  if (!config.redis) {
    const { createMemoryBackend } = await import('./memory/backend.js');
    return createMemoryBackend(config, opts);
  }
  const { createRedisBackend } = await import('./redis/backend.js');
  return createRedisBackend(config, config.redis, opts);
}
