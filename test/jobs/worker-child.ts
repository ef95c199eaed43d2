// A stand-alone call-log worker for the crash test, wired like `npm run worker` (src/worker.ts):
// the backend, the CRM connections, callLogQueue and startCallLogWorker, on the test Redis, with a
// short lock so a killed worker's jobs are picked up soon by BullMQ's stalled-job check.
// Env: DIALGATE_TEST_REDIS_URL (inherited), KEY_PREFIX (store keys), QUEUE_PREFIX (BullMQ), CONCURRENCY.

import { Registry } from 'prom-client';
import { zohoCrmKind } from '../../adapters/crm/zoho/index.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { callLogQueue, startCallLogWorker } from '../../src/jobs/pipeline.js';
import { testBackend } from '../helpers/backend.js';
import { connectors, silentLogger } from './helpers.js';

const { backend } = await testBackend('redis', { keyPrefix: process.env.KEY_PREFIX!, queuePrefix: process.env.QUEUE_PREFIX! });
const registry = new Registry();
const options = { logger: silentLogger, registry, retry: { baseDelayMs: 50, maxDelayMs: 500, attempts: 30 }, lockDurationMs: 2000, stalledIntervalMs: 1000 };
const queue = callLogQueue(backend, options);
startCallLogWorker(queue, backend, connectors(backend, [zohoCrmKind, webhookCrmKind]), { ...options, concurrency: Number(process.env.CONCURRENCY ?? 5) });
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  void queue
    .close()
    .then(() => backend.close())
    .then(() => process.exit(0));
});
