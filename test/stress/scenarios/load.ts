// Scenario 6: load. Click-to-call at a fixed rate through sim providers with 300 ms API latency,
// spread over the gateways, while agents' WebSocket clients are connected (each on one user's
// events, as an agent's screen is): 0 errors; the latency the gateway adds to the provider's
// 300 ms (p50/p99); memory per socket; and event fan-out latency (from the transition's
// timestamp to the client's receipt). Limits are raised so the gateway, not the limiter, is
// measured.

import WebSocket from 'ws';
import type { Cluster } from '../lib/cluster.js';
import { setupOrg } from '../lib/cluster.js';
import { sleep } from '../lib/proc.js';
import { Figures, percentile, type ScenarioResult } from '../lib/stats.js';
import { fmtCounts, Traffic } from '../lib/traffic.js';
import { send } from '../lib/http.js';

export interface LoadParams {
  users: number;
  clicksPerSec: number;
  durationMs: number;
  sockets: number;
}

// 100/s in CI: at 200/s two gateways on a shared 2-core runner (with the worker, Redis, the
// generator and 2,000 sockets on the same cores) queue for tens of seconds — a figure for the
// soak's table, not a pass/fail test (measured: p50 added latency 11–28 s at 200/s)
export const LOAD_SHORT: LoadParams = { users: 500, clicksPerSec: 100, durationMs: 10_000, sockets: 2000 };
export const LOAD_LONG: LoadParams = { users: 2000, clicksPerSec: 1000, durationMs: 60_000, sockets: 10_000 };

const API_LATENCY_MS = 300;
const SIM = { apiLatencyMs: API_LATENCY_MS, ringAfterMs: 100, answerAfterMs: 200, durationMs: 500 };

export async function load(cluster: Cluster, p: LoadParams): Promise<ScenarioResult> {
  const f = new Figures('6. Load', `${p.clicksPerSec} clicks/s for ${p.durationMs / 1000} s, sim API latency ${API_LATENCY_MS} ms, ${p.users} users, ${p.sockets} WebSocket clients, ${cluster.gateways.length} gateways`);
  const gws = cluster.gateways;
  const org = await setupOrg(gws[0].url, cluster.adminToken, {
    name: 'load',
    users: p.users,
    sim: SIM,
    crm: cluster.crm,
    limits: { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000, liveCallsPerUser: 1000 } as Record<string, number>,
  });

  // ---- sockets ------------------------------------------------------------------------------
  const mem0 = await Promise.all(gws.map((g) => g.memory()));
  const fanout: number[] = [];
  let received = 0;
  let closedEarly = 0;
  let connectFailures = 0;
  const sockets: WebSocket[] = [];
  const t0 = performance.now();
  for (let i = 0; i < p.sockets; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, p.sockets - i) }, (_, j) => {
        const n = i + j;
        const g = gws[n % gws.length];
        const user = org.users[n % org.users.length];
        return new Promise<void>((res) => {
          const ws = new WebSocket(`${g.url.replace('http', 'ws')}/v1/events?userId=${encodeURIComponent(user.id)}`, { headers: { authorization: `Bearer ${org.key}` }, perMessageDeflate: false });
          ws.once('open', () => {
            sockets.push(ws);
            res();
          });
          ws.once('error', () => {
            connectFailures++;
            res();
          });
          ws.on('close', () => {
            if (!stopping) closedEarly++;
          });
          ws.on('message', (d) => {
            const now = Date.now();
            received++;
            const m = JSON.parse(String(d));
            if (m.type === 'call.status' || m.type === 'call.created') {
              const at = Date.parse(m.call?.updatedAt ?? '');
              if (Number.isFinite(at)) fanout.push(now - at);
            }
          });
        });
      }),
    );
  }
  let stopping = false;
  const connectSecs = (performance.now() - t0) / 1000;
  await sleep(2000);
  const mem1 = await Promise.all(gws.map((g) => g.memory()));
  const sum = (xs: Array<{ rss: number; heap: number }>, k: 'rss' | 'heap') => xs.reduce((a, m) => a + m[k], 0);
  const perSocketRss = (sum(mem1, 'rss') - sum(mem0, 'rss')) / Math.max(1, sockets.length);
  const perSocketHeap = (sum(mem1, 'heap') - sum(mem0, 'heap')) / Math.max(1, sockets.length);

  // ---- clicks ---------------------------------------------------------------------------------
  const traffic = new Traffic({
    org,
    targets: () => gws.map((g) => g.url),
    clicksPerSec: p.clicksPerSec,
    inboundPerSec: 0,
    durationMs: p.durationMs,
    // liveCallsPerUser is raised: a user may start the next call while one is live
    reuseUsers: true,
    callLengthMs: 0,
    timeoutMs: 60_000,
    destOffset: 0,
  }).start();
  await traffic.done;
  // the calls' later events (ringing, answered, completed) arrive after the last click: wait
  // until every expected one is in, or none came for 5 s (bounded)
  const expected = traffic.sent.filter((s) => s.status === 201).length * 5 * Math.max(1, Math.floor(p.sockets / p.users)); // created, dialing, ringing, answered, completed
  const settleDeadline = Date.now() + 90_000;
  for (let last = -1, quietSince = Date.now(); fanout.length < expected && Date.now() < settleDeadline && Date.now() - quietSince < 5000; ) {
    if (fanout.length !== last) quietSince = Date.now();
    last = fanout.length;
    await sleep(250);
  }
  // The exact count: a call emits call.created plus one call.status per transition the state
  // machine applied, i.e. its history's length (a "ringing" overtaken by "answered" on a busy
  // gateway is dropped, not delivered late, so 5 per call is only an upper bound).
  const perUserSockets = Math.max(1, Math.floor(p.sockets / p.users));
  let exact = 0;
  const ids = traffic.sent.filter((s) => s.status === 201 && s.callId).map((s) => s.callId as string);
  for (let i = 0; i < ids.length; i += 50) {
    const got = await Promise.all(ids.slice(i, i + 50).map((id) => send(gws[0].url, 'GET', `/v1/calls/${id}`, { key: org.key })));
    for (const r of got) exact += (r.status === 200 ? (r.body.history?.length ?? 5) : 5) * perUserSockets;
  }
  for (let last = -1, quietSince = Date.now(); fanout.length < exact && Date.now() < settleDeadline && Date.now() - quietSince < 5000; ) {
    if (fanout.length !== last) quietSince = Date.now();
    last = fanout.length;
    await sleep(250);
  }
  const mem2 = await Promise.all(gws.map((g) => g.memory()));
  stopping = true;
  for (const ws of sockets) ws.terminate();

  const ok = traffic.sent.filter((s) => s.status === 201);
  const errors = traffic.sent.filter((s) => s.status !== 201);
  const added = ok.map((s) => s.ms - API_LATENCY_MS);
  const elapsed = Math.max(...traffic.sent.map((s) => s.at)) / 1000;
  f.info('clicks sent', traffic.sent.length);
  f.info('achieved send rate (clicks/s)', traffic.sent.length / Math.max(elapsed, 0.001));
  f.info('answers', fmtCounts(traffic.statusCounts()));
  f.check('errors (anything but 201)', errors.length, '0', errors.length === 0, fmtCounts(traffic.statusCounts()));
  f.check('clicks not sent (no user free)', traffic.noFreeUser, '0', traffic.noFreeUser === 0);
  const lastAnswer = Math.max(...traffic.sent.map((s) => s.at + s.ms));
  f.info('throughput: 201s per second, first send to last answer', ok.length / (lastAnswer / 1000));
  // response time as the client sees it: includes waiting for one of its 256 connections per
  // gateway when the gateways fall behind the offered rate
  f.info('added latency p50 (ms; response time − 300 ms API latency)', percentile(added, 50));
  f.info('added latency p99 (ms)', percentile(added, 99));
  f.info('added latency max (ms)', Math.max(...added));
  f.info('WebSocket clients connected', `${sockets.length} (${connectSecs.toFixed(1)} s to connect)`);
  f.check('WebSocket connect failures', connectFailures, '0', connectFailures === 0);
  f.check('WebSocket clients dropped during the run', closedEarly, '0', closedEarly === 0);
  f.info('memory per socket, RSS (KB)', perSocketRss / 1024);
  f.info('memory per socket, JS heap (KB)', perSocketHeap / 1024);
  f.info('gateways RSS idle → sockets → after load (MB)', `${Math.round(sum(mem0, 'rss') / 1048576)} → ${Math.round(sum(mem1, 'rss') / 1048576)} → ${Math.round(sum(mem2, 'rss') / 1048576)}`);
  f.info('call events received by agents (created + status)', fanout.length);
  f.info('all WebSocket messages received', received);
  f.info('call events published (history of each call × sockets per user)', exact);
  f.info('event fan-out latency p50 (ms)', percentile(fanout, 50));
  f.info('event fan-out latency p99 (ms)', percentile(fanout, 99));
  f.check('call events delivered (of published)', `${fanout.length}/${exact}`, '≥ 99%', fanout.length >= exact * 0.99);
  return f.result();
}
