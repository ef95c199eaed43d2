// `npm run bench`: every benchmark in turn, one table each, each figure beside its baseline from
// the same run. click-to-call and screen-pop share one throwaway Redis and one gateway process;
// install-all, call-log and sip-inbound bring their own set-up. A benchmark module that is absent,
// or that cannot run here (sip-inbound without a drachtio-server or sipp: its result says
// `skipped`), is skipped with the reason; one that fails is reported and the others still run.
//
//   npm run bench                         all of them
//   npm run bench -- click-to-call        only the named ones (click-to-call, whole-call, commands, cluster, screen-pop, install-all, call-log, sip-inbound)
//   BENCH_QUICK=1 npm run bench           shorter runs (smoke test of the harness)

import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchRedis, startGatewayProcess, type GatewayChild } from './processes.js';
import { tableOf } from './table.js';
import type { ThrowawayRedis } from './redis-server.js';

interface BenchModule {
  run(opts?: Record<string, unknown>): Promise<unknown>;
  formatTable?(result: any): string;
}

interface Shared {
  redis?: ThrowawayRedis;
  gateway?: GatewayChild;
}

const quick = process.env.BENCH_QUICK === '1';

interface Entry {
  name: string;
  file: string;
  title: string;
  /** options for this benchmark's run(), given the shared gateway and Redis */
  options(shared: Shared): Promise<Record<string, unknown>>;
}

async function sharedGateway(shared: Shared, log: (l: string) => void): Promise<Record<string, unknown>> {
  shared.redis ??= await benchRedis();
  if (!shared.gateway) {
    log('starting the gateway (child process, Redis store)');
    shared.gateway = await startGatewayProcess(shared.redis.url);
  }
  return { gateway: shared.gateway, redisUrl: shared.redis.url };
}

const log = (l: string) => console.log(`# ${l}`);

const ENTRIES: Entry[] = [
  {
    name: 'click-to-call',
    file: 'click-to-call.ts',
    title: 'click-to-call: full gateway vs bare node:http + one Redis GET',
    options: async (s) => ({ ...(await sharedGateway(s, log)), ...(quick ? { seconds: 2, rounds: 1, rateSeconds: 2 } : {}) }),
  },
  {
    name: 'whole-call',
    file: 'whole-call.ts',
    title: 'whole call: click, ring, answer, hang-up and call log vs bare node:http + one Redis GET',
    options: async (s) => ({ ...(await sharedGateway(s, log)), ...(quick ? { seconds: 2, rounds: 1, rateSeconds: 1 } : {}) }),
  },
  {
    name: 'commands',
    file: 'commands-per-call.ts',
    title: 'Redis commands per call (INFO commandstats)',
    options: async (s) => ({ ...(await sharedGateway(s, log)), ...(quick ? { calls: 100 } : {}) }),
  },
  {
    name: 'cluster',
    file: 'cluster.ts',
    title: 'Redis Cluster: two gateways on a 3-master cluster vs on one Redis (30 orgs)',
    options: async () => (quick ? { seconds: 2, orgs: 6 } : {}),
  },
  {
    name: 'screen-pop',
    file: 'screen-pop.ts',
    title: 'screen-pop: inbound webhook → WebSocket message',
    options: async (s) => ({ ...(await sharedGateway(s, log)), ...(quick ? { seconds: 1 } : {}) }),
  },
  {
    name: 'install-all',
    file: 'install-all.ts',
    title: 'install-all: a provider for every user of a big org vs a naive per-user loop',
    options: async (s) => ({ redisUrl: (s.redis ??= await benchRedis()).url, ...(quick ? { users: 10_000 } : {}) }),
  },
  {
    name: 'call-log',
    file: 'call-log.ts',
    title: 'call-log: CRM call-log pipeline vs raw BullMQ',
    options: async (s) => ({ redisUrl: (s.redis ??= await benchRedis()).url, ...(quick ? { jobs: 500, rounds: 1 } : {}) }),
  },
  {
    // its own Redis and gateway: the org, sip provider and 1,000 DIDs it sets up are all that runs
    name: 'sip-inbound',
    file: 'sip-inbound.ts',
    title: 'SIP inbound ladder: dialgate vs a bare drachtio-srf B2BUA, on a real drachtio-server with sipp',
    options: async () => (quick ? { rates: [50, 100], stepSeconds: 3, rounds: 1 } : {}),
  },
];

async function main(): Promise<void> {
  const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = only.filter((n) => !ENTRIES.some((e) => e.name === n));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')} (known: ${ENTRIES.map((e) => e.name).join(', ')})`);
    process.exit(2);
  }
  const shared: Shared = {};
  const summary: string[] = [];
  let failed = 0;
  const t0 = performance.now();
  // figures from a shared machine mean little without its load beside them
  const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`# ${availableParallelism()} CPUs, load average ${load()} (1, 5, 15 min)`);
  try {
    for (const e of ENTRIES) {
      if (only.length && !only.includes(e.name)) continue;
      const path = resolve(import.meta.dirname, e.file);
      console.log(`\n=== ${e.title}`);
      if (!existsSync(path)) {
        console.log(`skipped: scripts/bench/${e.file} is not there`);
        summary.push(`${e.name}: skipped (no ${e.file})`);
        continue;
      }
      const started = performance.now();
      try {
        const mod = (await import(pathToFileURL(path).href)) as BenchModule;
        if (typeof mod.run !== 'function') throw new Error(`${e.file} exports no run()`);
        const result = await mod.run({ ...(await e.options(shared)), log });
        const text = mod.formatTable ? mod.formatTable(result) : Array.isArray(result) ? tableOf(result) : JSON.stringify(result, null, 2);
        console.log(text);
        const skipped = (result as { skipped?: unknown } | null)?.skipped;
        summary.push(typeof skipped === 'string' ? `${e.name}: skipped (${skipped})` : `${e.name}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
      } catch (err) {
        failed++;
        console.log(`FAILED: ${(err as Error).message ?? err}`);
        summary.push(`${e.name}: FAILED`);
      }
    }
  } finally {
    await shared.gateway?.stop();
    await shared.redis?.stop();
  }
  console.log(`\n${summary.join('\n')}\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s; load average now ${load()}`);
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
