// Closing the BullMQ queues must end even when Redis is unreachable: BullMQ's close waits for a
// connection that never comes, and ioredis keeps reconnecting (its timers keep the process alive).
// The queues' connections belong to the backend (src/store/redis/connection.ts): the queue's close
// is bounded by its grace period (src/store/queues/bounded-close.ts), and the backend's close stops
// every connection from reconnecting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createBackend } from '../../src/store/backend.js';
import { freePort } from '../helpers/net.js';

const logger = pino({ level: 'silent' });

async function unreachableBackend() {
  const port = await freePort();
  return createBackend({ redis: { url: `redis://127.0.0.1:${port}` }, queuePrefix: '{dgtest-close}', queueShards: 2, callRetentionSec: 3600 }, { logger, role: 'test' });
}

/** ioredis reconnect attempts on these connections over `ms` (it retries every ≤ 1 s while it may). */
async function reconnectsOver(conns: NodeJS.EventEmitter[], ms: number): Promise<number> {
  let attempts = 0;
  for (const c of conns) c.on('reconnecting', () => attempts++);
  await new Promise((r) => setTimeout(r, ms));
  return attempts;
}

const connOf = (q: unknown): NodeJS.EventEmitter => {
  const conn = (q as { conn?: NodeJS.EventEmitter }).conn;
  assert.ok(conn && typeof conn.on === 'function', 'the queue keeps its connection as `conn`');
  return conn;
};

test('a BullMQ trial queue whose Redis is unreachable closes within its grace period, and its connection stops reconnecting', async () => {
  const backend = await unreachableBackend();
  const q = backend.queues.trials(async () => 'done' as const, { logger });
  await new Promise((r) => setTimeout(r, 300)); // let it try (and fail) to connect
  const t0 = performance.now();
  await q.close();
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `closed in ${Math.round(ms)} ms`);
  const t1 = performance.now();
  await backend.close();
  assert.ok(performance.now() - t1 < 2000, `backend closed in ${Math.round(performance.now() - t1)} ms`);
  assert.equal(await reconnectsOver([connOf(q)], 2500), 0, 'the connection stopped reconnecting');
});

test('the call-log queue with a worker running, Redis unreachable: closes within its 10 s drain bound, and stops reconnecting', async () => {
  const backend = await unreachableBackend();
  const q = backend.queues.callLog({ attempts: 3, retryDelay: () => 50, isPermanent: () => false, logger });
  q.startWorker(async () => {}, 2);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  await q.close();
  const ms = performance.now() - t0;
  // 10 s for a CRM write in hand to finish, then the connections are cut (1 s to settle)
  assert.ok(ms < 13_000, `closed in ${Math.round(ms)} ms`);
  await backend.close();
  assert.equal(await reconnectsOver([connOf(q)], 2500), 0, 'the connection stopped reconnecting');
});

// BullMQ's Worker makes its own blocking connection (a duplicate of the queue's), and
// Worker.disconnect() first awaits that client's initialisation, which never completes while
// Redis is unreachable: closeBullParts cuts it directly, so it stops reconnecting. Known gap:
// the graceful Worker.close() already under way still waits for its fetch loop, which waited on
// that connection, so the worker never reaches `closed` and its lock timer lingers; the gateway
// and worker processes exit regardless (process.exit after close), only a test file is kept alive.
test("the worker's own blocking connection stops reconnecting too", { todo: "the Worker's graceful close never completes while Redis is unreachable (BullMQ); the processes exit anyway" }, async () => {
  const backend = await unreachableBackend();
  const q = backend.queues.trials(async () => 'done' as const, { logger });
  await new Promise((r) => setTimeout(r, 300));
  const worker = (q as unknown as { worker: { closed?: boolean; backend?: { blockingConnection?: { _client?: NodeJS.EventEmitter } } } }).worker;
  const blocking = worker.backend?.blockingConnection?._client;
  assert.ok(blocking, "the worker's blocking connection");
  await q.close();
  await backend.close();
  assert.equal(await reconnectsOver([blocking], 2500), 0, 'the blocking connection stopped reconnecting');
  assert.equal(worker.closed, true, 'the worker closed');
});
