// Scenario 2: the CRM answers 503 to every call log for a while under load; afterwards every
// call log is delivered exactly once (the queue retries with backoff; Idempotency-Key = call id).

import { Cluster, setupOrg } from '../lib/cluster.js';
import { sleep } from '../lib/proc.js';
import { Figures, type ScenarioResult } from '../lib/stats.js';
import { fmtCounts, Traffic } from '../lib/traffic.js';
import { describeMissing, waitForLogs } from '../lib/verify.js';

export interface CrmOutageParams {
  users: number;
  clicksPerSec: number;
  inboundPerSec: number;
  outageMs: number;
  /** load before the outage starts, and after it ends */
  marginMs: number;
  logTimeoutMs: number;
}

export const CRM_OUTAGE_SHORT: CrmOutageParams = { users: 150, clicksPerSec: 20, inboundPerSec: 10, outageMs: 20_000, marginMs: 3000, logTimeoutMs: 90_000 };
export const CRM_OUTAGE_LONG: CrmOutageParams = { users: 2000, clicksPerSec: 150, inboundPerSec: 50, outageMs: 120_000, marginMs: 15_000, logTimeoutMs: 600_000 };

const SIM = { apiLatencyMs: 50, ringAfterMs: 100, answerAfterMs: 200, durationMs: 500 };

export async function crmOutage(cluster: Cluster, p: CrmOutageParams): Promise<ScenarioResult> {
  const f = new Figures('2. CRM outage', `CRM answers 503 for ${p.outageMs / 1000} s; ${p.clicksPerSec} clicks/s + ${p.inboundPerSec} inbound/s on ${cluster.gateways.length} gateways`);
  const gws = cluster.gateways;
  const org = await setupOrg(gws[0].url, cluster.adminToken, { name: 'crm-outage', users: p.users, sim: SIM, crm: cluster.crm, limits: { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000 } });
  const before = await cluster.crm.stats();
  const traffic = new Traffic({
    org,
    targets: () => gws.map((g) => g.url),
    clicksPerSec: p.clicksPerSec,
    inboundPerSec: p.inboundPerSec,
    durationMs: p.outageMs + 2 * p.marginMs,
    callLengthMs: SIM.apiLatencyMs + SIM.ringAfterMs + SIM.answerAfterMs + SIM.durationMs + 1500,
    timeoutMs: 20_000,
    destOffset: 20_000,
  }).start();
  await sleep(p.marginMs);
  await cluster.crm.outage(p.outageMs);
  const outageEnd = Date.now() + p.outageMs;
  await traffic.done;
  const acked = traffic.acked();
  const errors = traffic.sent.filter((s) => s.status === 0 || s.status >= 500);
  f.info('requests sent', traffic.sent.length);
  f.info('answers', fmtCounts(traffic.statusCounts()));
  f.check('API errors while the CRM was down (5xx, transport)', errors.length, '0', errors.length === 0);
  const logs = await waitForLogs(cluster.crm, acked, p.logTimeoutMs);
  const after = await cluster.crm.stats();
  f.info('acknowledged calls', logs.acked);
  f.check('acknowledged calls with their call log', logs.logged, `= ${logs.acked}`, logs.missing.length === 0, logs.missing.length ? await describeMissing(gws[0], org.key, logs.missing) : undefined);
  f.check('call logs lost', logs.missing.length, '0', logs.missing.length === 0);
  f.info('delivery attempts the CRM received (all, incl. refused)', after.requests - before.requests);
  f.info('redeliveries refused by the CRM as duplicates', after.duplicates - before.duplicates);
  f.info('last log delivered after the outage ended (s)', Math.max(0, (Date.now() - outageEnd) / 1000 - (logs.missing.length ? 0 : 0)));
  f.info('wait for the last log once load stopped (s)', logs.drainSec);
  return f.result();
}
