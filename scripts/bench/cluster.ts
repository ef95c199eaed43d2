// Benchmark: the same click-to-call load through two gateway processes, first on one Redis, then
// on a throwaway 3-master Redis Cluster, with 30 orgs (an org's keys live in one slot, so orgs
// are what a cluster spreads). It shows what the cluster costs per click (more connections, a
// slot lookup per command) and how evenly the orgs' work lands on the masters: each master's
// share of the Redis CPU. On one machine every process shares the same cores, so req/s compares
// the two set-ups only roughly; CPU per click and the per-master shares are the figures to read.
//
//   npx tsx scripts/bench/cluster.ts
//   CLUSTER_ORGS=30 CLUSTER_SECONDS=6 CLUSTER_CONCURRENCY=64 to change the load

import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { closedLoop, errorSummary, pool, type LoadRequest } from './load.js';
import { cpuSeconds, redisCpu, startGatewayProcess, type GatewayChild } from './processes.js';
import { startRedisCluster, startRedisServer, redisServerOnPath } from './redis-server.js';
import { benchOrg, seedUsers, torontoNumber, type BenchOrg } from './setup.js';
import { fmtInt, fmtMs, fmtPct, table } from './table.js';

const SIM_IDLE = { apiLatencyMs: 0, ringAfterMs: 3_600_000, answerAfterMs: 3_600_000, durationMs: 3_600_000 };
const USERS_PER_ORG = 50;

export interface ClusterRow {
  backend: string;
  rps: number;
  p99: number;
  errors: string;
  gatewayMsPerReq: number;
  redisMsPerReq: number;
  /** each Redis node's share of the Redis CPU used during the round */
  shares: number[];
}

export interface ClusterResult {
  rows: ClusterRow[];
  orgs: number;
  seconds: number;
  concurrency: number;
}

async function measure(
  backend: string,
  gateways: GatewayChild[],
  nodes: Redis[],
  seed: Parameters<typeof seedUsers>[0],
  opts: { orgs: number; seconds: number; concurrency: number },
  log: (l: string) => void,
): Promise<ClusterRow> {
  const orgs: (BenchOrg & { users: string[] })[] = [];
  for (let i = 0; i < opts.orgs; i++) {
    const o = await benchOrg(gateways[0].url, gateways[0].adminToken, `bench cluster ${i}`, SIM_IDLE);
    orgs.push({ ...o, users: await seedUsers(seed, o.orgId, `o${i}-`, USERS_PER_ORG) });
  }
  log(`${backend}: ${opts.orgs} orgs with ${USERS_PER_ORG} users each`);
  let n = 0;
  const next = (): LoadRequest => {
    const i = n++;
    const org = orgs[i % orgs.length];
    return {
      method: 'POST',
      path: '/v1/calls',
      headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: org.users[Math.floor(i / orgs.length) % org.users.length], to: torontoNumber(i) }),
    };
  };
  const pools = gateways.map((g) => pool(g.url, Math.ceil(opts.concurrency / gateways.length)));
  try {
    const round = (seconds: number) =>
      Promise.all(pools.map((p) => closedLoop(p, { concurrency: Math.ceil(opts.concurrency / pools.length), seconds, expect: 201, next })));
    await round(1); // warm-up: every gateway has seen every org and user
    const g0 = gateways.map((g) => cpuSeconds(g.proc.pid));
    const r0 = await Promise.all(nodes.map(redisCpu));
    const res = await round(opts.seconds);
    const g1 = gateways.map((g) => cpuSeconds(g.proc.pid));
    const r1 = await Promise.all(nodes.map(redisCpu));
    const ok = res.reduce((a, r) => a + r.ok, 0);
    const seconds = Math.max(...res.map((r) => r.seconds));
    const redisUsed = r1.map((v, i) => v - r0[i]);
    const redisTotal = redisUsed.reduce((a, b) => a + b, 0);
    const gwTotal = g1.reduce((a, v, i) => a + v - g0[i], 0);
    const errors = res.map(errorSummary).filter((e) => e !== '0');
    return {
      backend,
      rps: ok / seconds,
      p99: Math.max(...res.map((r) => r.p99)),
      errors: errors.length ? errors.join(' ') : '0',
      gatewayMsPerReq: (gwTotal * 1000) / Math.max(1, ok),
      redisMsPerReq: (redisTotal * 1000) / Math.max(1, ok),
      shares: redisUsed.map((v) => v / Math.max(1e-9, redisTotal)),
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

export async function run(opts: { log?: (l: string) => void; orgs?: number; seconds?: number; concurrency?: number } = {}): Promise<ClusterResult> {
  if (!redisServerOnPath()) throw new Error('the cluster benchmark starts its own redis-server and Redis Cluster: put redis-server and redis-cli on PATH');
  const log = opts.log ?? (() => {});
  const o = {
    orgs: opts.orgs ?? Number(process.env.CLUSTER_ORGS ?? 30),
    seconds: opts.seconds ?? Number(process.env.CLUSTER_SECONDS ?? 6),
    concurrency: opts.concurrency ?? Number(process.env.CLUSTER_CONCURRENCY ?? 64),
  };
  const rows: ClusterRow[] = [];

  const single = await startRedisServer();
  try {
    const gws = await Promise.all([startGatewayProcess(single.url), startGatewayProcess(single.url)]);
    const node = new Redis(single.url);
    try {
      rows.push(await measure('one Redis, two gateways', gws, [node], single.url, o, log));
    } finally {
      node.disconnect();
      await Promise.all(gws.map((g) => g.stop()));
    }
  } finally {
    await single.stop();
  }

  const cluster = await startRedisCluster();
  try {
    // call-log queues spread over the masters too (an org's jobs stay in one queue)
    const gws = await Promise.all([0, 1].map(() => startGatewayProcess({ clusterNodes: cluster.nodes }, { DIALGATE_QUEUE_SHARDS: '3' })));
    const nodes = cluster.nodes.map((n) => new Redis(n.port, n.host));
    try {
      rows.push(await measure('3-master Redis Cluster, two gateways', gws, nodes, { clusterNodes: cluster.nodes }, o, log));
    } finally {
      nodes.forEach((n) => n.disconnect());
      await Promise.all(gws.map((g) => g.stop()));
    }
  } finally {
    await cluster.stop();
  }
  return { rows, ...o };
}

export function formatTable(r: ClusterResult): string {
  const [one, cl] = r.rows;
  return [
    table(
      ['backend', 'req/s', 'p99 ms', 'errors', 'gateway CPU ms/req', 'Redis CPU ms/req', 'per-node share of Redis CPU'],
      r.rows.map((x) => [x.backend, fmtInt(x.rps), fmtMs(x.p99), x.errors, fmtMs(x.gatewayMsPerReq), fmtMs(x.redisMsPerReq), x.shares.map(fmtPct).join(' / ')]),
    ),
    `RATIO cluster / one Redis = ${fmtPct(cl.rps / one.rps)} req/s; gateway CPU per click ${fmtPct(cl.gatewayMsPerReq / one.gatewayMsPerReq)}; ` +
      `busiest master ${fmtPct(Math.max(...cl.shares))} of the Redis work (an even spread is ${fmtPct(1 / cl.shares.length)})   ` +
      `[${r.orgs} orgs, concurrency ${r.concurrency}, ${r.seconds} s]`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(`# ${l}`) })
    .then((r) => console.log(`\ncluster\n${formatTable(r)}`))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
