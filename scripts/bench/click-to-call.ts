// Benchmark: click-to-call through the full gateway — auth, validation, dial policy and limits,
// Redis store, dispatch to a sim provider with zero API latency (ring delays of an hour, so
// nothing else runs), state write, event publish — beside a bare node:http server doing one Redis
// GET per request, in the same run with the same load generator (undici Pool, fixed concurrency).
// Rounds alternate baseline / gateway and the best round of each is kept, so a noisy neighbour on
// a shared machine hurts both alike. Target: gateway ≥ 60 % of the baseline's req/s.
// Then a sim provider with 300 ms API latency at a fixed rate, to show concurrency holds.
//
//   npx tsx scripts/bench/click-to-call.ts
//   C2C_CONCURRENCY=64 C2C_SECONDS=4 C2C_ROUNDS=2 C2C_RATE=200 C2C_RATE_SECONDS=5 C2C_USERS=150000 to change the load
//
// Uses REDIS_URL, else a throwaway redis-server; the gateway and the baseline run as child processes.

import { pathToFileURL } from 'node:url';
import { closedLoop, errorCount, errorSummary, openLoop, pool, type LoadRequest, type LoadResult } from './load.js';
import { Redis } from 'ioredis';
import { benchRedis, cpuSeconds, redisCpu, startBareServer, startGatewayProcess, type Child, type GatewayChild } from './processes.js';
import { benchOrg, seedUsers, torontoNumber } from './setup.js';
import { fmtInt, fmtMs, fmtPct, table } from './table.js';

export interface ClickToCallOptions {
  concurrency?: number;
  /** measured seconds per round */
  seconds?: number;
  warmupSeconds?: number;
  rounds?: number;
  /** the 300 ms provider: fixed rate and duration */
  rate?: number;
  rateSeconds?: number;
  /** a running gateway and its Redis (index.ts shares one between benchmarks) */
  gateway?: GatewayChild;
  redisUrl?: string;
  log?: (line: string) => void;
}

export interface ThroughputRow {
  case: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: string;
  /** the server process's CPU over the round, in % of one core, and per request */
  cpuPct: number;
  cpuMsPerReq: number;
  /** redis-server's CPU over the round, in % of one core, and per request */
  redisCpuPct: number;
  redisMsPerReq: number;
}

interface Measured extends LoadResult {
  cpuPct: number;
  cpuMsPerReq: number;
  redisCpuPct: number;
  redisMsPerReq: number;
}

/** One measured round with the server's and Redis's CPU use beside it. */
async function measured(server: Child, redis: Redis, run: () => Promise<LoadResult>): Promise<Measured> {
  const c0 = cpuSeconds(server.proc.pid);
  const r0 = await redisCpu(redis);
  const res = await run();
  const c1 = cpuSeconds(server.proc.pid);
  const r1 = await redisCpu(redis);
  return {
    ...res,
    cpuPct: ((c1 - c0) / res.seconds) * 100,
    cpuMsPerReq: ((c1 - c0) * 1000) / Math.max(1, res.ok),
    redisCpuPct: ((r1 - r0) / res.seconds) * 100,
    redisMsPerReq: ((r1 - r0) * 1000) / Math.max(1, res.ok),
  };
}

export interface ClickToCallResult {
  rows: ThroughputRow[];
  ratio: number;
  fixedRate: { providerLatencyMs: number; targetRate: number; seconds: number; achievedRate: number; p50: number; p99: number; errors: string; maxInFlight: number };
  /** mean time inside the gateway per dispatch, from its own histogram (ms) */
  dispatchOverheadMs: number;
  concurrency: number;
  seconds: number;
  rounds: number;
}

const SIM_IDLE = { apiLatencyMs: 0, ringAfterMs: 3_600_000, answerAfterMs: 3_600_000, durationMs: 3_600_000 };

function row(name: string, r: Measured): ThroughputRow {
  return {
    case: name,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    requests: r.ok + errorCount(r),
    errors: errorSummary(r),
    cpuPct: r.cpuPct,
    cpuMsPerReq: r.cpuMsPerReq,
    redisCpuPct: r.redisCpuPct,
    redisMsPerReq: r.redisMsPerReq,
  };
}

async function metricMean(base: string, name: string): Promise<number> {
  const text = await (await fetch(base + '/metrics')).text();
  const sum = new RegExp(`^${name}_sum\\{[^}]*\\} (\\S+)`, 'm').exec(text);
  const count = new RegExp(`^${name}_count\\{[^}]*\\} (\\S+)`, 'm').exec(text);
  return sum && count && Number(count[1]) > 0 ? (Number(sum[1]) / Number(count[1])) * 1000 : NaN;
}

export async function run(opts: ClickToCallOptions = {}): Promise<ClickToCallResult> {
  const concurrency = opts.concurrency ?? Number(process.env.C2C_CONCURRENCY ?? 64);
  const seconds = opts.seconds ?? Number(process.env.C2C_SECONDS ?? 4);
  const warmupSeconds = opts.warmupSeconds ?? Number(process.env.C2C_WARMUP_SECONDS ?? 1);
  const rounds = opts.rounds ?? Number(process.env.C2C_ROUNDS ?? 2);
  const rate = opts.rate ?? Number(process.env.C2C_RATE ?? 200);
  const rateSeconds = opts.rateSeconds ?? Number(process.env.C2C_RATE_SECONDS ?? 5);
  const log = opts.log ?? (() => {});

  const redis = opts.redisUrl ? { url: opts.redisUrl, stop: async () => {} } : await benchRedis();
  let gateway = opts.gateway;
  const ownGateway = !gateway;
  let bare: Awaited<ReturnType<typeof startBareServer>> | undefined;
  try {
    if (!gateway) {
      log('starting the gateway (child process)');
      gateway = await startGatewayProcess(redis.url);
    }
    bare = await startBareServer(redis.url);

    // 2,000 agents clicking in turn (per-user limits lifted): the users the gateway has seen are
    // in its snapshot cache, as an org's agents are in steady state; a user it has never seen
    // costs one read more on its first click
    const org = await benchOrg(gateway.url, gateway.adminToken, 'bench click-to-call', SIM_IDLE);
    const userCount = Number(process.env.C2C_USERS ?? 2_000);
    const t0 = performance.now();
    const users = await seedUsers(redis.url, org.orgId, 'c2c-', userCount);
    log(`seeded ${fmtInt(userCount)} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const headers = { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' };
    let nextUser = 0;
    const gatewayReq = (): LoadRequest | undefined => {
      const i = nextUser++;
      return { method: 'POST', path: '/v1/calls', headers, body: JSON.stringify({ userId: users[i % users.length], to: torontoNumber(i) }) };
    };
    let bareI = 0;
    const bareReq = (): LoadRequest => {
      const i = bareI++;
      return { method: 'POST', path: '/v1/calls', headers, body: JSON.stringify({ userId: `c2c-${String(i % userCount).padStart(6, '0')}`, to: torontoNumber(i) }) };
    };

    const gwPool = pool(gateway.url, concurrency);
    const barePool = pool(bare.url, concurrency);
    let bestBare: Measured | undefined;
    let bestGw: Measured | undefined;
    const probe = new Redis(redis.url);
    try {
      // one click alone first: the per-org caches (regions, policies) are warm in steady state,
      // and a cold start under 64 concurrent clicks measures a one-off stampede instead
      await closedLoop(gwPool, { concurrency: 1, seconds: 0.5, expect: 201, next: gatewayReq });
      for (let r = 1; r <= rounds; r++) {
        await closedLoop(barePool, { concurrency, seconds: warmupSeconds, expect: 201, next: bareReq });
        const b = await measured(bare, probe, () => closedLoop(barePool, { concurrency, seconds, expect: 201, next: bareReq }));
        await closedLoop(gwPool, { concurrency, seconds: warmupSeconds, expect: 201, next: gatewayReq });
        const g = await measured(gateway, probe, () => closedLoop(gwPool, { concurrency, seconds, expect: 201, next: gatewayReq }));
        log(
          `round ${r}: bare ${fmtInt(b.rps)} req/s (p99 ${fmtMs(b.p99)} ms, cpu ${fmtInt(b.cpuPct)} %), ` +
            `gateway ${fmtInt(g.rps)} req/s (p99 ${fmtMs(g.p99)} ms, cpu ${fmtInt(g.cpuPct)} %, ${fmtMs(g.cpuMsPerReq)} ms/req, redis ${fmtInt(g.redisCpuPct)} %, errors ${errorSummary(g)})`,
        );
        if (!bestBare || b.rps > bestBare.rps) bestBare = b;
        if (!bestGw || g.rps > bestGw.rps) bestGw = g;
      }
    } finally {
      probe.disconnect();
      await gwPool.close();
      await barePool.close();
    }
    const dispatchOverheadMs = await metricMean(gateway.url, 'dialgate_dispatch_overhead_seconds');

    // a slow provider API: concurrency must hold (in flight ≈ rate × latency), not queue up
    const slow = await benchOrg(gateway.url, gateway.adminToken, 'bench slow provider', { ...SIM_IDLE, apiLatencyMs: 300 });
    const count = Math.round(rate * rateSeconds);
    const slowUsers = await seedUsers(redis.url, slow.orgId, 'slow-', count);
    const slowHeaders = { authorization: `Bearer ${slow.apiKey}`, 'content-type': 'application/json' };
    const slowPool = pool(gateway.url, Math.max(64, Math.ceil(rate * 0.3 * 3)));
    let fixed: Awaited<ReturnType<typeof openLoop>>;
    try {
      fixed = await openLoop(slowPool, {
        rate,
        count,
        expect: 201,
        make: (i) => ({ method: 'POST', path: '/v1/calls', headers: slowHeaders, body: JSON.stringify({ userId: slowUsers[i], to: torontoNumber(i) }) }),
      });
    } finally {
      await slowPool.close();
    }
    log(`300 ms provider: ${fmtInt(fixed.ok / fixed.seconds)} calls/s answered of ${rate}, p99 ${fmtMs(fixed.p99)} ms, in flight ≤ ${fixed.maxInFlight}`);

    return {
      rows: [row('bare node:http + 1 Redis GET', bestBare!), row('gateway POST /v1/calls (sim, 0 ms API)', bestGw!)],
      ratio: bestGw!.rps / bestBare!.rps,
      fixedRate: {
        providerLatencyMs: 300,
        targetRate: rate,
        seconds: rateSeconds,
        // answered calls from the first request to the last answer: a server that falls behind
        // (answers arriving after the sending window) shows a lower figure
        achievedRate: fixed.ok / fixed.seconds,
        p50: fixed.p50,
        p99: fixed.p99,
        errors: errorSummary(fixed),
        maxInFlight: fixed.maxInFlight,
      },
      dispatchOverheadMs,
      concurrency,
      seconds,
      rounds,
    };
  } catch (e) {
    if (gateway) (e as Error).message += `\n--- gateway output:\n${gateway.output()}`;
    throw e;
  } finally {
    await bare?.stop();
    if (ownGateway) await gateway?.stop();
    if (!opts.redisUrl) await redis.stop();
  }
}

export function formatTable(r: ClickToCallResult): string {
  const out = [
    table(
      ['case', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'errors', 'server CPU', 'CPU ms/req', 'redis CPU'],
      r.rows.map((x) => [x.case, fmtInt(x.rps), fmtMs(x.p50), fmtMs(x.p99), fmtInt(x.requests), x.errors, `${fmtInt(x.cpuPct)} %`, fmtMs(x.cpuMsPerReq), `${fmtInt(x.redisCpuPct)} %`]),
    ),
    `RATIO gateway / bare = ${fmtPct(r.ratio)} (target ≥ 60 %)   [concurrency ${r.concurrency}, best of ${r.rounds} rounds of ${r.seconds} s]`,
    // on a shared machine req/s follow whoever else runs; CPU per request does much less
    `CPU per request: bare ${fmtMs(r.rows[0].cpuMsPerReq)} ms, gateway ${fmtMs(r.rows[1].cpuMsPerReq)} ms ` +
      `(ratio if each had a core to itself ≈ ${fmtPct(r.rows[0].cpuMsPerReq / r.rows[1].cpuMsPerReq)})`,
    // Redis is single-threaded: its CPU per click bounds any number of gateway instances
    `Redis CPU per request: bare ${fmtMs(r.rows[0].redisMsPerReq)} ms, gateway ${fmtMs(r.rows[1].redisMsPerReq)} ms ` +
      `(one Redis core caps click-to-call at ≈ ${fmtInt(1000 / r.rows[1].redisMsPerReq)} req/s = ${fmtPct(1000 / r.rows[1].redisMsPerReq / r.rows[0].rps)} of the bare figure, however many gateways)`,
    `time inside the gateway per dispatch (mean, dialgate_dispatch_overhead_seconds): ${fmtMs(r.dispatchOverheadMs)} ms`,
    '',
    table(
      ['provider API 300 ms, fixed rate', 'target/s', 'achieved/s', 'p50 ms', 'p99 ms', 'max in flight', 'errors'],
      [[`${r.fixedRate.seconds} s open loop`, fmtInt(r.fixedRate.targetRate), fmtInt(r.fixedRate.achievedRate), fmtMs(r.fixedRate.p50), fmtMs(r.fixedRate.p99), fmtInt(r.fixedRate.maxInFlight), r.fixedRate.errors]],
    ),
  ];
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(`# ${l}`) })
    .then((r) => console.log(`\nclick-to-call\n${formatTable(r)}`))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
