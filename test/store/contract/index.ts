// Every port's contract, run against one kind of backend (memory, one Redis, a Redis Cluster) by
// ../memory.test.ts, ../redis.test.ts and ../cluster.test.ts.

import { after, describe } from 'node:test';
import type { BackendFactory } from './backends.js';
import { runAuditContract } from './audit.js';
import { runCallsContract } from './calls.js';
import { runCallUpdatesContract } from './call-updates.js';
import { runDirectoryContract } from './directory.js';
import { runEventsContract } from './events.js';
import { runHealthContract } from './health.js';
import { runLimitsContract } from './limits.js';
import { runOrgsContract } from './orgs.js';
import { runPerfContract } from './perf.js';
import { runQueuesContract } from './queues.js';
import { runSettingsContract } from './settings.js';
import { runSharedContract } from './shared.js';
import { runTrialsContract } from './trials.js';
import { runComplianceContract } from './compliance.js';
import { runCostsContract } from './costs.js';

export function runAllContracts(f: BackendFactory, more?: () => void): void {
  describe(`store contract (${f.kind})`, () => {
    after(() => f.closeAll());
    runDirectoryContract(f);
    runCallsContract(f);
    runCallUpdatesContract(f);
    runSettingsContract(f);
    runCostsContract(f);
    runComplianceContract(f);
    runAuditContract(f);
    runLimitsContract(f);
    runHealthContract(f);
    runOrgsContract(f);
    runSharedContract(f);
    runPerfContract(f);
    runTrialsContract(f);
    runEventsContract(f);
    runQueuesContract(f);
    more?.();
  });
}
