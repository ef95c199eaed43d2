// The Redis backend: one Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES) behind the
// same ports. All of an org's keys share its hash tag (../keys.ts), so every script runs in one
// slot either way.

import type { Backend, BackendConfig, BackendOptions, RedisSettings } from '../port.js';
import type { AuditLog } from '../audit/port.js';
import { RedisAudit } from '../audit/redis.js';
import { RedisCalls } from '../calls/redis.js';
import { RedisDirectory } from '../directory/redis.js';
import { RedisEvents } from '../events/redis.js';
import { RedisHealth } from '../health/redis.js';
import { KeyLayout } from '../keys.js';
import { RedisLimits } from '../limits/redis.js';
import { RedisOrgs } from '../orgs/redis.js';
import { RedisPerfStore } from '../perf/redis.js';
import { RedisQueues } from '../queues/redis.js';
import { RedisSettings as RedisSettingsStore } from '../settings/redis.js';
import { RedisShared } from '../state/redis.js';
import { RedisTrialStore } from '../trials/redis.js';
import { RedisConn } from './connection.js';
import { RedisCosts } from '../costs/redis.js';
import { RedisCompliance } from '../compliance/redis.js';

export function createRedisBackend(config: BackendConfig, redis: RedisSettings, opts: BackendOptions): Backend {
  const conn = new RedisConn(redis, opts.logger, opts.role ?? 'gateway');
  const keys = new KeyLayout(opts.keyPrefix);
  const events = new RedisEvents(conn, keys, opts.logger);
  const perf = new RedisPerfStore(conn, keys, opts.logger);
  const audit: AuditLog = new RedisAudit(conn, keys);
  return {
    kind: conn.cluster ? 'cluster' : 'redis',
    orgs: new RedisOrgs(conn, keys),
    directory: new RedisDirectory(conn, keys, opts.installBatch),
    calls: new RedisCalls(conn, keys, config.callRetentionSec * 1000),
    settings: new RedisSettingsStore(conn, keys),
    audit,
    limits: new RedisLimits(conn, keys),
    perf,
    trials: new RedisTrialStore(conn, keys),
    health: new RedisHealth(conn, keys),
    costs: new RedisCosts(conn, keys),
    compliance: new RedisCompliance(conn, keys),
    events,
    queues: new RedisQueues(conn, config.queuePrefix, config.queueShards),
    shared: new RedisShared(conn, keys),
    ready: () => conn.ready(),
    whenConnected: (ms) => conn.whenConnected(ms),
    async close() {
      await perf.flush().catch(() => {});
      await events.close();
      await conn.close();
    },
  };
}
