// Scenario 1: Redis crashes (SIGKILL) and comes back under load. While it is down the gateways
// refuse quickly (503) and /readyz says not ready; they recover by themselves within 5 s of Redis
// answering again; afterwards every acknowledged call has exactly one call log at the CRM.

import { Cluster, setupOrg, type GatewayProc } from '../lib/cluster.js';
import { send } from '../lib/http.js';
import { sleep } from '../lib/proc.js';
import { Figures, percentile, type ScenarioResult } from '../lib/stats.js';
import { fmtCounts, Traffic } from '../lib/traffic.js';
import { describeMissing, waitForLogs } from '../lib/verify.js';

export interface RedisRestartParams {
  users: number;
  clicksPerSec: number;
  inboundPerSec: number;
  /** load before the crash */
  beforeMs: number;
  /** how long Redis stays down */
  downMs: number;
  /** load after Redis is back */
  afterMs: number;
  logTimeoutMs: number;
}

export const REDIS_RESTART_SHORT: RedisRestartParams = { users: 200, clicksPerSec: 30, inboundPerSec: 15, beforeMs: 3000, downMs: 4000, afterMs: 6000, logTimeoutMs: 90_000 };
export const REDIS_RESTART_LONG: RedisRestartParams = { users: 2000, clicksPerSec: 150, inboundPerSec: 50, beforeMs: 20_000, downMs: 15_000, afterMs: 30_000, logTimeoutMs: 300_000 };

const SIM = { apiLatencyMs: 50, ringAfterMs: 100, answerAfterMs: 200, durationMs: 500 };

/** Polls /readyz of every gateway until all say ready; returns ms taken (NaN on timeout). */
async function readyAgain(gws: GatewayProc[], timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  const pending = new Set(gws);
  while (pending.size && performance.now() - t0 < timeoutMs) {
    await Promise.all(
      [...pending].map(async (g) => {
        if ((await send(g.url, 'GET', '/readyz', { timeoutMs: 2000 })).status === 200) pending.delete(g);
      }),
    );
    if (pending.size) await sleep(50);
  }
  return pending.size ? NaN : performance.now() - t0;
}

export async function redisRestart(cluster: Cluster, p: RedisRestartParams): Promise<ScenarioResult> {
  const f = new Figures('1. Redis restart under load', `${cluster.gateways.length} gateways, ${p.clicksPerSec} clicks/s + ${p.inboundPerSec} inbound/s, Redis down ${p.downMs / 1000} s (SIGKILL; AOF appendfsync always)`);
  const gws = cluster.gateways;
  const setupT0 = Date.now();
  const org = await setupOrg(gws[0].url, cluster.adminToken, { name: 'redis-restart', users: p.users, sim: SIM, crm: cluster.crm, limits: { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000 } });
  f.info('set-up: org, sim provider, users (s)', (Date.now() - setupT0) / 1000);
  const total = p.beforeMs + p.downMs + p.afterMs;
  const traffic = new Traffic({
    org,
    targets: () => gws.map((g) => g.url),
    clicksPerSec: p.clicksPerSec,
    inboundPerSec: p.inboundPerSec,
    durationMs: total,
    callLengthMs: SIM.apiLatencyMs + SIM.ringAfterMs + SIM.answerAfterMs + SIM.durationMs + 1500,
    timeoutMs: 20_000,
  }).start();

  await sleep(p.beforeMs);
  const downAt = traffic.now();
  await cluster.redis.crash();

  // while down: /readyz must say not ready (polled on every gateway)
  let readyzSeen = 0;
  let readyzNotReady = 0;
  const readyzMs: number[] = [];
  const pollUntil = performance.now() + p.downMs;
  while (performance.now() < pollUntil) {
    const rs = await Promise.all(gws.map((g) => send(g.url, 'GET', '/readyz', { timeoutMs: 5000 })));
    for (const r of rs) {
      readyzSeen++;
      readyzMs.push(r.ms);
      if (r.status === 503 && r.body?.status === 'not_ready') readyzNotReady++;
    }
    await sleep(200);
  }
  // requests answered before Redis was started again must all be refusals
  const restartAt = traffic.now();
  await cluster.redis.start();
  const upAt = traffic.now();
  const upPerf = performance.now();
  const recoverMs = await readyAgain(gws, 30_000);
  // and a real request works again on every gateway (not only the ping behind /readyz)
  const firstOk = await Promise.all(
    gws.map(async (g) => {
      while (performance.now() - upPerf < 30_000) {
        const r = await send(g.url, 'GET', '/v1/users?limit=1', { key: org.key, timeoutMs: 5000 });
        if (r.status === 200) return performance.now() - upPerf;
        await sleep(50);
      }
      return NaN;
    }),
  );
  await traffic.done;

  // requests sent while Redis was down (with a short grace for those already in flight)
  // requests sent and answered while Redis was down (those in flight at either edge excluded)
  const during = traffic.sent.filter((s) => s.at >= downAt + 200 && s.at + s.ms < restartAt);
  const refused = during.filter((s) => s.status === 503);
  const refusedMax = refused.length ? Math.max(...refused.map((s) => s.ms)) : 0;
  const duringMax = during.length ? Math.max(...during.map((s) => s.ms)) : 0;
  const allMax = Math.max(...traffic.sent.map((s) => s.ms));
  const afterOk = traffic.sent.filter((s) => s.at > upAt + 5000);
  const after5xx = afterOk.filter((s) => s.status === 0 || s.status >= 500);
  const transport = traffic.sent.filter((s) => s.status === 0);
  const bad5xx = traffic.sent.filter((s) => s.status >= 500 && s.status !== 503);

  f.info('requests sent (clicks + inbound)', traffic.sent.length);
  const slowest = [...traffic.sent].sort((x, y) => y.ms - x.ms).slice(0, 3);
  f.info('slowest requests (kind @sent-ms-after-crash status ms)', slowest.map((s) => `${s.kind} @${Math.round(s.at - downAt)} ${s.status || s.error} ${Math.round(s.ms)}`).join('; '));
  f.info('answers, all', fmtCounts(traffic.statusCounts()));
  f.info('requests sent and answered while Redis was down', during.length);
  f.info('Redis down (ms, crash to restart)', restartAt - downAt);
  f.check('of those refused with 503', refused.length, `= ${during.length}`, refused.length === during.length, fmtCounts(Object.fromEntries(Object.entries(countBy(during)).filter(([k]) => k !== '503'))));
  // generous: CI machines are shared; the figure itself is what the table reports
  f.check('max latency of a refused request (ms)', refusedMax, '< 3000', refusedMax < 3000);
  f.info('p99 latency of refused requests (ms)', percentile(refused.map((s) => s.ms), 99));
  f.check('max latency of any request during the outage (ms)', duringMax, '< 5000 (no hung request)', duringMax < 5000);
  f.check('max latency of any request in the run (ms)', allMax, '< 10000', allMax < 10_000);
  f.check('transport errors (reset/timeout)', transport.length, '0', transport.length === 0, fmtCounts(traffic.statusCounts()));
  f.check('5xx other than 503', bad5xx.length, '0', bad5xx.length === 0);
  f.check('/readyz not ready while down', `${readyzNotReady}/${readyzSeen}`, 'all', readyzSeen > 0 && readyzNotReady === readyzSeen);
  f.info('max /readyz latency while down (ms)', Math.max(...readyzMs));
  f.check('all gateways ready after Redis answered (ms)', recoverMs, '< 5000', recoverMs < 5000);
  f.check('first API success per gateway after Redis answered (ms)', firstOk.map((x) => Math.round(x)).join(' / '), '< 5000', firstOk.every((x) => x < 5000));
  f.check('errors from 5 s after Redis returned', after5xx.length, '0', after5xx.length === 0, fmtCounts(countBy(after5xx)));

  const acked = traffic.acked();
  const logs = await waitForLogs(cluster.crm, acked, p.logTimeoutMs);
  f.info('acknowledged calls (201 clicks + 200 inbound)', logs.acked);
  f.check('acknowledged calls with their call log', logs.logged, `= ${logs.acked}`, logs.missing.length === 0, logs.missing.length ? await describeMissing(gws[0], org.key, logs.missing) : undefined);
  f.check('call logs lost', logs.missing.length, '0', logs.missing.length === 0);
  f.info('redeliveries refused by the CRM as duplicates (Idempotency-Key)', logs.redeliveries);
  f.info('seconds until the last log arrived (after load)', logs.drainSec);
  return f.result();
}

function countBy(list: Array<{ status: number; error?: string; code?: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const k = s.status === 0 ? `err:${s.error}` : `${s.status}${s.code ? ':' + s.code : ''}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
