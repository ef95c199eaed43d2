// Benchmark: screen-pop latency — from the moment an inbound-call webhook is sent to the gateway
// (POST /webhooks/sim/{providerId}/inbound) to the moment the call.incoming message arrives on an
// agent's WebSocket, both clients on this machine, at a fixed rate (default 500 pops/s for 4 s,
// after a short warm-up). Target: p99 ≤ 5 ms. The gateway runs on Redis as a child process.
//
//   npx tsx scripts/bench/screen-pop.ts
//   POP_RATE=500 POP_SECONDS=4 to change the load

import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { errorSummary, openLoop, pool } from './load.js';
import { benchRedis, startGatewayProcess, type GatewayChild } from './processes.js';
import { benchOrg, seedUsers, torontoNumber } from './setup.js';
import { fmtInt, fmtMs, percentile, table } from './table.js';

export interface ScreenPopOptions {
  rate?: number;
  seconds?: number;
  warmupSeconds?: number;
  gateway?: GatewayChild;
  redisUrl?: string;
  log?: (line: string) => void;
}

export interface ScreenPopResult {
  rate: number;
  seconds: number;
  sent: number;
  received: number;
  /** webhook sent → call.incoming on the socket, ms */
  p50: number;
  p99: number;
  max: number;
  /** the webhook's own HTTP answer, ms */
  httpP50: number;
  httpP99: number;
  errors: string;
  /** the gateway's own figure (dialgate_screen_pop_seconds, mean, ms): webhook in → event published */
  insideMeanMs: number;
}

const DIDS = 200;

export function openSocket(url: string, apiKey: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/events', { headers: { authorization: `Bearer ${apiKey}` }, perMessageDeflate: false });
    ws.once('message', () => resolve(ws)); // the hello: the subscription is in place
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`events socket refused: ${res.statusCode}`)));
  });
}

async function metricMean(base: string, name: string): Promise<number> {
  const text = await (await fetch(base + '/metrics')).text();
  const sum = new RegExp(`^${name}_sum\\{[^}]*\\} (\\S+)`, 'm').exec(text);
  const count = new RegExp(`^${name}_count\\{[^}]*\\} (\\S+)`, 'm').exec(text);
  return sum && count && Number(count[1]) > 0 ? (Number(sum[1]) / Number(count[1])) * 1000 : NaN;
}

export async function run(opts: ScreenPopOptions = {}): Promise<ScreenPopResult> {
  const rate = opts.rate ?? Number(process.env.POP_RATE ?? 500);
  const seconds = opts.seconds ?? Number(process.env.POP_SECONDS ?? 4);
  const warmupSeconds = opts.warmupSeconds ?? 1;
  const log = opts.log ?? (() => {});
  const redis = opts.redisUrl ? { url: opts.redisUrl, stop: async () => {} } : await benchRedis();
  let gateway = opts.gateway;
  const ownGateway = !gateway;
  let ws: WebSocket | undefined;
  try {
    if (!gateway) {
      log('starting the gateway (child process)');
      gateway = await startGatewayProcess(redis.url);
    }
    // the agent's phone never answers during the run: only the screen pop is measured
    const org = await benchOrg(gateway.url, gateway.adminToken, 'bench screen-pop', { ringAfterMs: 3_600_000, answerAfterMs: 3_600_000, durationMs: 3_600_000 });
    const dids = Array.from({ length: DIDS }, (_, i) => torontoNumber(5_000_000 + i));
    await seedUsers(redis.url, org.orgId, 'pop-', DIDS, (i) => ({ numbers: [dids[i]] }));
    ws = await openSocket(gateway.url, org.apiKey);

    const sentAt = new Map<string, number>();
    const lat: number[] = [];
    let recording = false;
    ws.on('message', (data) => {
      const now = performance.now();
      const m = JSON.parse(String(data));
      if (m.type !== 'call.incoming') return;
      const t = sentAt.get(m.call.from);
      if (t === undefined) return;
      sentAt.delete(m.call.from);
      if (recording) lat.push(now - t);
    });

    const p = pool(gateway.url, 64);
    const path = `/webhooks/sim/${org.providerId}/inbound`;
    const headers = { 'content-type': 'application/json' };
    let caller = 0;
    const make = (i: number) => {
      const from = torontoNumber(100_000 + caller++);
      return { from, req: { method: 'POST' as const, path, headers, body: JSON.stringify({ from, to: dids[i % DIDS] }) } };
    };
    const pending = new Map<number, string>();
    const phase = (count: number) =>
      openLoop(p, {
        rate,
        count,
        expect: 200,
        make: (i) => {
          const { from, req } = make(i);
          pending.set(i, from);
          return req;
        },
        onSent: (i, t) => {
          sentAt.set(pending.get(i)!, t);
          pending.delete(i);
        },
      });
    try {
      await phase(Math.round(rate * warmupSeconds));
      await new Promise((r) => setTimeout(r, 200));
      sentAt.clear();
      recording = true;
      const count = Math.round(rate * seconds);
      const http = await phase(count);
      // the last messages may still be on their way
      const deadline = Date.now() + 5000;
      while (lat.length < http.ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const res: ScreenPopResult = {
        rate,
        seconds,
        sent: count,
        received: lat.length,
        p50: percentile(lat, 0.5),
        p99: percentile(lat, 0.99),
        max: lat.length ? Math.max(...lat) : NaN,
        httpP50: http.p50,
        httpP99: http.p99,
        errors: errorSummary(http),
        insideMeanMs: await metricMean(gateway.url, 'dialgate_screen_pop_seconds'),
      };
      log(`screen pop: ${res.received}/${res.sent} received, p50 ${fmtMs(res.p50)} ms, p99 ${fmtMs(res.p99)} ms`);
      return res;
    } finally {
      await p.close();
    }
  } catch (e) {
    if (gateway) (e as Error).message += `\n--- gateway output:\n${gateway.output()}`;
    throw e;
  } finally {
    ws?.terminate();
    if (ownGateway) await gateway?.stop();
    if (!opts.redisUrl) await redis.stop();
  }
}

export function formatTable(r: ScreenPopResult): string {
  return [
    table(
      ['screen pop (webhook → WebSocket)', 'pops/s', 'sent', 'received', 'p50 ms', 'p99 ms', 'max ms', 'HTTP p50', 'HTTP p99', 'errors'],
      [[`${r.seconds} s open loop`, fmtInt(r.rate), fmtInt(r.sent), fmtInt(r.received), fmtMs(r.p50), fmtMs(r.p99), fmtMs(r.max), fmtMs(r.httpP50), fmtMs(r.httpP99), r.errors]],
    ),
    `p99 ${fmtMs(r.p99)} ms against a target of ≤ 5 ms: ${r.p99 <= 5 ? 'met' : 'NOT met'}` +
      `   [inside the gateway, webhook in → event published: ${fmtMs(r.insideMeanMs)} ms mean]`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(`# ${l}`) })
    .then((r) => console.log(`\nscreen-pop\n${formatTable(r)}`))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
