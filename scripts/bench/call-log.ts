// Benchmark: call-log jobs per second through the whole pipeline (BullMQ queue → processCallLog →
// RedisStore → signed webhook POST to a local receiver that answers at once → crmLog written),
// beside raw BullMQ (a no-op processor) on the same Redis, same job count and concurrency, in the
// same run. Target: the pipeline reaches at least 50% of raw BullMQ.
//
//   npx tsx scripts/bench/call-log.ts          (JOBS=2000 CONCURRENCY=20 to change the load)
//
// Uses REDIS_URL, else a throwaway redis-server; works under random prefixes it deletes afterwards.

import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { BullCallLogQueue } from '../../src/jobs/call-log-queue.js';
import { callLogProcessor } from '../../src/jobs/call-log-worker.js';
import type { Call } from '../../src/domain/types.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { WebhookCrmFake } from '../../test/fakes/webhook-crm/server.js';
import { redisServerOnPath, startRedisServer, type ThrowawayRedis } from './redis-server.js';

export interface CallLogBenchRow {
  case: string;
  jobs: number;
  seconds: number;
  jobsPerSec: number;
}

export interface CallLogBenchResult {
  rows: CallLogBenchRow[];
  /** pipeline jobs/s ÷ raw BullMQ jobs/s */
  ratio: number;
}

export interface CallLogBenchOptions {
  jobs?: number;
  concurrency?: number;
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

async function seedCalls(store: RedisStore, orgId: string, userId: string, n: number): Promise<string[]> {
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
          await store.createCall(call);
          await store.transition(orgId, id, { status: 'answered', at: at(5) });
          await store.transition(orgId, id, { status: 'completed', at: at(35), durationSec: 30 });
        })(),
      );
    }
    await Promise.all(batch);
  }
  return ids;
}

export async function run(opts: CallLogBenchOptions = {}): Promise<CallLogBenchResult> {
  const jobs = opts.jobs ?? Number(process.env.JOBS ?? 2000);
  const concurrency = opts.concurrency ?? Number(process.env.CONCURRENCY ?? 20);
  const log = opts.log ?? (() => {});
  let throwaway: ThrowawayRedis | null = null;
  let redisUrl = opts.redisUrl ?? process.env.REDIS_URL;
  if (!redisUrl) {
    if (!redisServerOnPath()) throw new Error('call-log bench needs REDIS_URL or redis-server on PATH');
    throwaway = await startRedisServer();
    redisUrl = throwaway.url;
  }
  const tag = randomBytes(4).toString('hex');
  const keyPrefix = `bench-cl-${tag}:`;
  const admin = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const store = new RedisStore(new Redis(redisUrl, { maxRetriesPerRequest: 3 }), { keyPrefix });
  const hook = await new WebhookCrmFake().start();
  const rows: CallLogBenchRow[] = [];
  try {
    // --- raw BullMQ: the same job ids and options, a processor that does nothing
    const rawPrefix = `{bench-raw-${tag}}`;
    const rawQueue = new Queue('call-log', { connection: admin, prefix: rawPrefix });
    for (let i = 0; i < jobs; i += 500) {
      await rawQueue.addBulk(
        [...Array(Math.min(500, jobs - i))].map((_, k) => ({
          name: 'call-log',
          data: { orgId: 'org', callId: `c${i + k}`, enqueuedAt: Date.now() },
          opts: { jobId: `org|c${i + k}`, attempts: 12, removeOnComplete: { age: 3600, count: jobs * 2 } },
        })),
      );
    }
    log(`raw BullMQ: ${jobs} jobs queued, concurrency ${concurrency}`);
    let t = performance.now();
    const rawWorker = new Worker('call-log', async () => {}, { connection: admin, prefix: rawPrefix, concurrency });
    await waitCompleted(rawQueue, jobs, 300_000);
    let secs = (performance.now() - t) / 1000;
    rows.push({ case: 'raw BullMQ (no-op processor)', jobs, seconds: secs, jobsPerSec: jobs / secs });
    await rawWorker.close();
    await rawQueue.obliterate({ force: true });
    await rawQueue.close();

    // --- the pipeline
    const orgId = `org_bench_${tag}`;
    const now = new Date().toISOString();
    await store.createOrg({ id: orgId, name: 'bench', createdAt: now }, { keyId: `k_${tag}`, orgId, secretHash: 'x'.repeat(64), createdAt: now });
    await store.putUser(orgId, 'agent', { region: 'US', numbers: [], phone: '+14155559999', crmUserId: 'crm-agent' }, now);
    await store.putCrmConfig(orgId, hook.config());
    const ids = await seedCalls(store, orgId, 'agent', jobs);
    const processor = callLogProcessor({ store, crmKinds: [webhookCrmKind], logger: pino({ level: 'silent' }) });
    const pipeline = new BullCallLogQueue({ connection: admin, prefix: `{bench-cl-${tag}}`, processor });
    for (const id of ids) await pipeline.enqueue(orgId, id);
    log(`pipeline: ${jobs} calls queued, concurrency ${concurrency}`);
    t = performance.now();
    pipeline.startWorker(concurrency);
    await waitCompleted(pipeline.queue, jobs, 300_000);
    secs = (performance.now() - t) / 1000;
    rows.push({ case: 'pipeline (store + signed webhook)', jobs, seconds: secs, jobsPerSec: jobs / secs });
    if (hook.deliveries.size !== jobs) throw new Error(`webhook received ${hook.deliveries.size} logs, expected ${jobs}`);
    await pipeline.queue.obliterate({ force: true });
    await pipeline.close();
  } finally {
    await hook.close();
    await deleteByPrefix(admin, keyPrefix).catch(() => {});
    await store.close();
    admin.disconnect();
    await throwaway?.stop();
  }
  const ratio = rows[1].jobsPerSec / rows[0].jobsPerSec;
  return { rows, ratio };
}

export function formatTable(r: CallLogBenchResult): string {
  const lines = r.rows.map((x) => `${x.case.padEnd(36)} ${String(x.jobs).padStart(7)} jobs ${x.seconds.toFixed(2).padStart(8)} s ${x.jobsPerSec.toFixed(0).padStart(8)} jobs/s`);
  lines.push(`pipeline / raw BullMQ = ${(r.ratio * 100).toFixed(1)}% (target ≥ 50%)`);
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
