// A backend for tests that use the storage ports directly: on the throwaway Redis or Redis
// Cluster from `npm test` (a random key prefix and queue tag, so suites never see each other's
// data), or in memory.

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createBackend, type Backend, type BackendConfig } from '../../src/store/backend.js';
import { testClusterNodes, testRedisUrl } from './redis.js';

export type BackendKind = 'memory' | 'redis' | 'cluster';

export interface TestBackend {
  backend: Backend;
  keyPrefix: string;
  queuePrefix: string;
  close(): Promise<void>;
}

export async function testBackend(kind: BackendKind = 'redis', opts: { keyPrefix?: string; queuePrefix?: string; config?: Partial<BackendConfig> } = {}): Promise<TestBackend> {
  const keyPrefix = opts.keyPrefix ?? `dgt-${randomBytes(5).toString('hex')}:`;
  const queuePrefix = opts.queuePrefix ?? `{tq${randomBytes(4).toString('hex')}}`;
  const redis = kind === 'redis' ? { url: testRedisUrl() } : kind === 'cluster' ? { clusterNodes: testClusterNodes() } : undefined;
  const backend = await createBackend(
    { ...(redis ? { redis } : {}), queuePrefix, queueShards: 1, callRetentionSec: 7 * 86_400, ...opts.config },
    { logger: pino({ level: 'silent' }), keyPrefix, role: 'test' },
  );
  await backend.whenConnected(5000);
  return { backend, keyPrefix, queuePrefix, close: () => backend.close() };
}
