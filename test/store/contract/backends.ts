// How the contract suites get their backends: one factory per kind (memory, one Redis, a Redis
// Cluster), each backend with its own random key prefix and BullMQ prefix, so suites never see
// each other's data and never flush anything. closeAll() closes every backend it made and removes
// the keys under their prefixes (SCAN per master on the cluster).

import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { createBackend, type Backend, type BackendConfig, type BackendKind } from '../../../src/store/backend.js';
import { testClusterNodes, testRedisUrl } from '../../helpers/redis.js';
import { deleteByPrefix } from '../redis-keys.js';

/** how long an ended call whose log is settled is kept: purge() takes `now`, so tests never wait for it */
export const RETENTION_SEC = 3600;
/** a tiny install batch, so install-all crosses several script runs on Redis */
export const INSTALL_BATCH = 7;
export const QUEUE_SHARDS = 2;

export interface Made {
  backend: Backend;
  /** every key of the backend starts with it */
  keyPrefix: string;
  /** the BullMQ base prefix (a hash tag) */
  queuePrefix: string;
}

export interface BackendFactory {
  readonly kind: BackendKind;
  /** A fresh backend with its own data. */
  create(): Promise<Backend>;
  /** A second instance over the same data as `of` (another gateway process); null in memory, where there is only one. */
  peer(of: Backend): Promise<Backend> | null;
  /** Key and queue prefixes of a backend this factory made. */
  prefixes(of: Backend): Made;
  /** Every backend made so far (and not yet closed). */
  made(): readonly Made[];
  /** A plain client on the test Redis / Cluster (connected) for checks no port offers; null in memory. Closed by closeAll. */
  admin(): Promise<Redis | Cluster | null>;
  /** Closes every backend made and removes their keys. */
  closeAll(): Promise<void>;
}

export const rnd = (bytes = 5): string => randomBytes(bytes).toString('hex');

export function backendFactory(kind: BackendKind): BackendFactory {
  const made: Made[] = [];
  let adminClient: Promise<Redis | Cluster> | null = null;
  const logger = pino({ level: 'silent' });

  const redis = (): BackendConfig['redis'] =>
    kind === 'memory' ? undefined : kind === 'redis' ? { url: testRedisUrl() } : { clusterNodes: testClusterNodes() };

  async function make(keyPrefix: string, queuePrefix: string): Promise<Backend> {
    const backend = await createBackend(
      { redis: redis(), queuePrefix, queueShards: QUEUE_SHARDS, callRetentionSec: RETENTION_SEC },
      { logger, keyPrefix, installBatch: INSTALL_BATCH, role: 'store-contract' },
    );
    if (!(await backend.whenConnected(10_000))) throw new Error(`the ${kind} backend did not connect within 10 s`);
    made.push({ backend, keyPrefix, queuePrefix });
    return backend;
  }

  return {
    kind,
    create: () => make(`dgtest:${rnd()}:`, `{dgt-${rnd()}}`),
    peer(of) {
      if (kind === 'memory') return null;
      const m = made.find((x) => x.backend === of);
      if (!m) throw new Error('peer() of a backend this factory did not make');
      return make(m.keyPrefix, m.queuePrefix);
    },
    prefixes(of) {
      const m = made.find((x) => x.backend === of);
      if (!m) throw new Error('prefixes() of a backend this factory did not make');
      return m;
    },
    made: () => made,
    admin,
    async closeAll() {
      await Promise.all(made.map((m) => m.backend.close()));
      const client = await admin();
      if (client) {
        // the queue shards' prefixes are "{dgt-x-0}", "{dgt-x-1}": the base without its closing brace covers all
        const prefixes = new Set(made.flatMap((m) => [m.keyPrefix, m.queuePrefix.replace(/\}$/, '')]));
        for (const p of prefixes) await deleteByPrefix(client, p);
        await client.quit().catch(() => client.disconnect());
      }
      made.length = 0;
      adminClient = null;
    },
  };

  function admin(): Promise<Redis | Cluster | null> {
    if (kind === 'memory') return Promise.resolve(null);
    adminClient ??= new Promise((resolve, reject) => {
      const c = kind === 'redis' ? new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 }) : new Cluster(testClusterNodes(), { scaleReads: 'master' });
      c.once('ready', () => resolve(c));
      c.once('error', reject);
    });
    return adminClient;
  }
}
