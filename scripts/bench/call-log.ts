// Benchmark: call-log jobs per second through the whole pipeline (BullMQ queue → processCallLog →
// RedisStore → signed webhook POST to a local receiver that answers at once → crmLog written),
// beside raw BullMQ (a no-op processor) on the same Redis, same job count and concurrency, in the
// same run. Target: the pipeline reaches at least 50% of raw BullMQ. The receiver runs in its own
// process, as a CRM would. Rounds alternate raw / pipeline; two figures come out: the best of each
// side over the rounds, and the median of the per-round ratios (raw and pipeline measured back to
// back). On a shared machine the second is the steadier one: a raw round lasts a fraction of a
// second, so its best is often a lucky quiet moment the longer pipeline round did not get.
//
//   npx tsx scripts/bench/call-log.ts          (JOBS=2000 CONCURRENCY=20 ROUNDS=5 to change the load)
//
// Uses REDIS_URL, else a throwaway redis-server; works under random prefixes it deletes afterwards.

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { startReceiver, type Receiver } from './receiver.js';
import { CRM_SETTING, CrmConnectors } from '../../src/crm/connectors.js';
import { callLogQueue, startCallLogWorker } from '../../src/jobs/pipeline.js';
import { createBackend, type Backend } from '../../src/store/backend.js';
import type { Call } from '../../src/domain/types.js';
import { redisServerOnPath, startRedisServer, type ThrowawayRedis } from './redis-server.js';

export interface CallLogBenchRow {
  case: string;
  jobs: number;
  seconds: number;
  jobsPerSec: number;
}

export interface CallLogBenchResult {
  rows: CallLogBenchRow[];
  /** pipeline jobs/s ÷ raw BullMQ jobs/s, best of each side */
  ratio: number;
  /** pipeline ÷ raw within each round, in round order */
  roundRatios: number[];
  /** the median of roundRatios */
  medianRatio: number;
}

export interface CallLogBenchOptions {
  jobs?: number;
  concurrency?: number;
  /** alternating raw / pipeline rounds; the best of each is reported */
  rounds?: number;
  redisUrl?: string;
  log?: (line: string) => void;
}

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function waitCompleted(queue: Queue, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await queue.getCompletedCount()) < n) {
    if (Date.now() > deadline) throw new Error(`only ${await queue.getCompletedCount()} of ${n} jobs completed in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function seedCalls(backend: Backend, orgId: string, userId: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  const t0 = Date.now() - 60_000;
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  for (let i = 0; i < n; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 200); j++) {
      const id = `call_${j}_${randomBytes(4).toString('hex')}`;
      ids.push(id);
      const call: Call = {
        id, orgId, userId, providerId: 'prov_bench', providerKind: 'sim', direction: 'outbound',
        from: '+14155559999', to: '+14155550100', status: 'queued', createdAt: at(0), updatedAt: at(0),
        history: [{ status: 'queued', at: at(0) }],
      };
      batch.push(
        (async () => {
          await backend.calls.createCall(call);
          await backend.calls.transition(orgId, id, { status: 'answered', at: at(5) });
          await backend.calls.transition(orgId, id, { status: 'completed', at: at(35), durationSec: 30 });
        })(),
      );
    }
    await Promise.all(batch);
  }
  return ids;
}

async function rawRound(redis: Redis, jobs: number, concurrency: number): Promise<number> {
  const prefix = `{bench-raw-${randomBytes(4).toString('hex')}}`;
  const queue = new Queue('call-log', { connection: redis, prefix });
  try {
    for (let i = 0; i < jobs; i++) {
      // the same job shape and options as the pipeline's enqueue
      await queue.add('call-log', { orgId: 'org', callId: `c${i}`, enqueuedAt: Date.now() }, {
        jobId: `org|c${i}`,
        attempts: 12,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { age: 86_400, count: 100_000 },
        removeOnFail: { age: 30 * 86_400 },
      });
    }
    const t = performance.now();
    const worker = new Worker('call-log', async () => {}, { connection: redis, prefix, concurrency });
    await waitCompleted(queue, jobs, 300_000);
    const secs = (performance.now() - t) / 1000;
    await worker.close();
    await queue.obliterate({ force: true });
    return secs;
  } finally {
    await queue.close();
  }
}

async function pipelineRound(backend: Backend, receiver: Receiver, jobs: number, concurrency: number): Promise<number> {
  const tag = randomBytes(4).toString('hex');
  const orgId = `org_bench_${tag}`;
  const now = new Date().toISOString();
  await backend.orgs.createOrg({ id: orgId, name: 'bench', createdAt: now }, { keyId: `k_${tag}`, orgId, secretHash: 'x'.repeat(64), createdAt: now });
  await backend.directory.putUser(orgId, 'agent', { region: 'US', numbers: [], phone: '+14155559999', crmUserId: 'crm-agent' }, now);
  await backend.settings.put(orgId, CRM_SETTING, { kind: 'webhook', url: receiver.url, secret: receiver.secret });
  const ids = await seedCalls(backend, orgId, 'agent', jobs);
  const before = (await receiver.stats()).deliveries;
  const logger = pino({ level: 'silent' });
  const crm = new CrmConnectors({ kinds: [webhookCrmKind], configOf: (o) => backend.settings.get(o, CRM_SETTING), shared: backend.shared, logger });
  const pipeline = callLogQueue(backend, { logger });
  try {
    for (const id of ids) await pipeline.enqueue(orgId, id);
    const t = performance.now();
    startCallLogWorker(pipeline, backend, crm, { logger, concurrency });
    // finished jobs are removed at once: done when every log has arrived and the queue is empty
    const deadline = Date.now() + 300_000;
    while ((await receiver.stats()).deliveries - before < jobs || (await pipeline.depth()) > 0) {
      if (Date.now() > deadline) throw new Error('the call-log pipeline did not finish in 300 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const secs = (performance.now() - t) / 1000;
    const got = (await receiver.stats()).deliveries - before;
    if (got !== jobs) throw new Error(`webhook received ${got} logs, expected ${jobs}`);
    return secs;
  } finally {
    await pipeline.close();
  }
}

export async function run(opts: CallLogBenchOptions = {}): Promise<CallLogBenchResult> {
  const jobs = opts.jobs ?? Number(process.env.JOBS ?? 2000);
  const concurrency = opts.concurrency ?? Number(process.env.CONCURRENCY ?? 20);
  const rounds = opts.rounds ?? Number(process.env.ROUNDS ?? 5);
  const log = opts.log ?? (() => {});
  let throwaway: ThrowawayRedis | null = null;
  let redisUrl = opts.redisUrl ?? process.env.REDIS_URL;
  if (!redisUrl) {
    if (!redisServerOnPath()) throw new Error('call-log bench needs REDIS_URL or redis-server on PATH');
    throwaway = await startRedisServer();
    redisUrl = throwaway.url;
  }
  const keyPrefix = `bench-cl-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const backend = await createBackend(
    { redis: { url: redisUrl }, queuePrefix: `{bench-cl-${randomBytes(3).toString('hex')}}`, queueShards: 1, callRetentionSec: 86_400 },
    { logger: pino({ level: 'warn' }), keyPrefix, role: 'bench' },
  );
  const receiver = await startReceiver();
  let raw = Infinity;
  let pipe = Infinity;
  const roundRatios: number[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      const a = await rawRound(redis, jobs, concurrency);
      const b = await pipelineRound(backend, receiver, jobs, concurrency);
      log(`round ${r}: raw ${(jobs / a).toFixed(0)} jobs/s, pipeline ${(jobs / b).toFixed(0)} jobs/s (${jobs} jobs, concurrency ${concurrency})`);
      raw = Math.min(raw, a);
      pipe = Math.min(pipe, b);
      roundRatios.push(a / b);
    }
  } finally {
    await receiver.stop();
    await deleteByPrefix(redis, keyPrefix).catch(() => {});
    await backend.close();
    redis.disconnect();
    await throwaway?.stop();
  }
  const rows: CallLogBenchRow[] = [
    { case: 'raw BullMQ (no-op processor)', jobs, seconds: raw, jobsPerSec: jobs / raw },
    { case: 'pipeline (store + signed webhook)', jobs, seconds: pipe, jobsPerSec: jobs / pipe },
  ];
  const sorted = [...roundRatios].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const medianRatio = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { rows, ratio: rows[1].jobsPerSec / rows[0].jobsPerSec, roundRatios, medianRatio };
}

export function formatTable(r: CallLogBenchResult): string {
  const lines = r.rows.map((x) => `${x.case.padEnd(36)} ${String(x.jobs).padStart(7)} jobs ${x.seconds.toFixed(2).padStart(8)} s ${x.jobsPerSec.toFixed(0).padStart(8)} jobs/s`);
  lines.push(`(best of each over the rounds)`);
  lines.push(`pipeline / raw BullMQ = ${(r.ratio * 100).toFixed(1)}% best of each; per round ${r.roundRatios.map((x) => `${(x * 100).toFixed(0)}%`).join(' ')}, median ${(r.medianRatio * 100).toFixed(1)}% (target ≥ 50%)`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(`# ${l}`) })
    .then((r) => {
      console.log(formatTable(r));
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
