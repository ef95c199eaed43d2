// The reliability part of the stress suite (issue 8, items 1–3), short form: real processes on
// loopback — redis-server (append-only, fsync always), two gateways behind one public URL, the
// call-log worker and the webhook-CRM fake — under bounded load. Each scenario prints its table
// of figures; `npm run soak` runs the same scenarios longer (scripts/soak/index.ts).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.js';
import { printTable, type ScenarioResult } from './lib/stats.js';
import { CRM_OUTAGE_SHORT, crmOutage } from './scenarios/crm-outage.js';
import { REDIS_RESTART_SHORT, redisRestart } from './scenarios/redis-restart.js';
import { LB_PUBLIC_URL, SHUTDOWN_SHORT, shutdown } from './scenarios/shutdown.js';

function passed(r: ScenarioResult): void {
  printTable(r);
  assert.deepEqual(r.failures, [], r.failures.join('\n'));
}

describe('stress: reliability (short form)', { timeout: 600_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await Cluster.start({ name: 'reliability', gateways: 2, publicUrl: LB_PUBLIC_URL, logLevel: 'info' });
  });

  after(async () => {
    await cluster?.stop();
  });

  test('2. CRM outage under load: every call log delivered exactly once afterwards', async () => {
    passed(await crmOutage(cluster, CRM_OUTAGE_SHORT));
  });

  test('1. Redis crash and restart under load: fast 503s, not ready, recovery, 0 lost', async () => {
    passed(await redisRestart(cluster, REDIS_RESTART_SHORT));
  });

  test('3. SIGTERM drains, SIGKILL loses no acknowledged webhook', async () => {
    passed(await shutdown(cluster, SHUTDOWN_SHORT));
  });
});
