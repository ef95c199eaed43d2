// A stand-alone call-log worker for the crash test: the same startCallLogWorker the `npm run worker`
// process uses, on the test Redis, with a short lock so a killed worker's jobs are picked up soon.
// Env: REDIS_URL, KEY_PREFIX (store), QUEUE_PREFIX (BullMQ), CONCURRENCY.

import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { zohoCrmKind } from '../../adapters/crm/zoho/index.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { startCallLogWorker } from '../../src/jobs/worker-main.js';
import { silentLogger } from './helpers.js';

const redisUrl = process.env.REDIS_URL!;
const store = new RedisStore(new Redis(redisUrl, { maxRetriesPerRequest: 3 }), { keyPrefix: process.env.KEY_PREFIX! });
const worker = startCallLogWorker({
  redisUrl,
  prefix: process.env.QUEUE_PREFIX!,
  store,
  crmKinds: [zohoCrmKind, webhookCrmKind],
  logger: silentLogger,
  concurrency: Number(process.env.CONCURRENCY ?? 5),
  registry: new Registry(),
  retry: { baseDelayMs: 50, maxDelayMs: 500, attempts: 30 },
  lockDurationMs: 2000,
  stalledIntervalMs: 1000,
});
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  void worker.close().then(() => store.close()).then(() => process.exit(0));
});
