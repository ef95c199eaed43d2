// The one storage seam: what a Backend holds (every storage port of the gateway) and how it is
// configured. src/store/backend.ts builds one (createBackend); the memory and Redis
// implementations (src/store/memory, src/store/redis) implement it. Kept apart from the factory so
// the implementations depend on the seam, and the factory on them, with no loop.

import type { Logger } from 'pino';
import type { AuditLog } from './audit/port.js';
import type { CallStore } from './calls/port.js';
import type { DirectoryStore } from './directory/port.js';
import type { EventBus } from './events/port.js';
import type { HealthStore } from './health/port.js';
import type { LimitStore } from './limits/port.js';
import type { OrgStore } from './orgs/port.js';
import type { PerfStore } from './perf/port.js';
import type { QueueFactory } from './queues/port.js';
import type { SettingsStore } from './settings/port.js';
import type { SharedState } from './state/port.js';
import type { TrialStore } from './trials/port.js';
import type { CostStore } from './costs/port.js';
import type { ComplianceStore } from './compliance/port.js';

export type BackendKind = 'memory' | 'redis' | 'cluster';

export interface RedisSettings {
  /** one Redis (redis:// or rediss://, credentials in the URL) */
  url?: string;
  /** Redis Cluster seed nodes */
  clusterNodes?: { host: string; port: number }[];
  /** for the cluster nodes (REDIS_USERNAME / REDIS_PASSWORD / REDIS_TLS) */
  username?: string;
  password?: string;
  tls?: boolean;
}

export interface BackendConfig {
  /** absent: local mode (memory) */
  redis?: RedisSettings;
  /** BullMQ prefix, a hash tag such as `{dialgate}` */
  queuePrefix: string;
  /** call-log queues (an org always on the same one) */
  queueShards: number;
  /** how long an ended call whose log is settled is kept */
  callRetentionSec: number;
}

export interface BackendOptions {
  logger: Logger;
  /** prefix of every key (default "dg:"); tests isolate instances with a random one */
  keyPrefix?: string;
  /** users per install-all script run (default 2000) */
  installBatch?: number;
  /** what this process is, in Redis CLIENT LIST */
  role?: string;
}

export interface Readiness {
  ok: boolean;
  detail?: string;
}

export interface Backend {
  readonly kind: BackendKind;
  readonly orgs: OrgStore;
  readonly directory: DirectoryStore;
  readonly calls: CallStore;
  readonly settings: SettingsStore;
  readonly audit: AuditLog;
  readonly limits: LimitStore;
  readonly perf: PerfStore;
  readonly trials: TrialStore;
  readonly health: HealthStore;
  readonly costs: CostStore;
  readonly compliance: ComplianceStore;
  readonly events: EventBus;
  readonly queues: QueueFactory;
  readonly shared: SharedState;
  /** ready only when the backend answers a real command (and, on a cluster, its state is ok) */
  ready(): Promise<Readiness>;
  /** resolves when the first connection is up, or after `ms` (false) */
  whenConnected(ms: number): Promise<boolean>;
  close(): Promise<void>;
}
