// The memory backend: local mode. One process, not durable; the same ports and rules as Redis.

import { MemoryAudit } from '../audit/memory.js';
import type { Backend, BackendConfig, BackendOptions } from '../port.js';
import { MemoryCalls } from '../calls/memory.js';
import { MemoryDirectory } from '../directory/memory.js';
import { MemoryEvents } from '../events/memory.js';
import { MemoryHealth } from '../health/memory.js';
import { MemoryLimits } from '../limits/memory.js';
import { MemoryOrgs } from '../orgs/memory.js';
import { MemoryPerfStore } from '../perf/memory.js';
import { MemoryQueues } from '../queues/memory.js';
import { MemorySettings } from '../settings/memory.js';
import { MemoryShared } from '../state/memory.js';
import { MemoryTrialStore } from '../trials/memory.js';
import { MemoryData } from './state.js';
import { MemoryCosts } from '../costs/memory.js';
import { MemoryCompliance } from '../compliance/memory.js';

export function createMemoryBackend(config: BackendConfig, _opts?: BackendOptions): Backend {
  const data = new MemoryData(config.callRetentionSec * 1000);
  return {
    kind: 'memory',
    orgs: new MemoryOrgs(data),
    directory: new MemoryDirectory(data),
    calls: new MemoryCalls(data),
    settings: new MemorySettings(data),
    audit: new MemoryAudit(data),
    limits: new MemoryLimits(data),
    perf: new MemoryPerfStore(),
    trials: new MemoryTrialStore(),
    health: new MemoryHealth(data),
    costs: new MemoryCosts(data),
    compliance: new MemoryCompliance(data),
    events: new MemoryEvents(data),
    queues: new MemoryQueues(),
    shared: new MemoryShared(),
    ready: async () => ({ ok: true }),
    whenConnected: async () => true,
    close: async () => {},
  };
}
