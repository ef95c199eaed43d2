// Closing the BullMQ queues must end even when Redis is unreachable: BullMQ's close waits for a
// connection that never comes, and ioredis keeps reconnecting (its timers keep the process alive).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { BullTrialQueue } from '../../src/trials/trial-queue.js';
import { freePort } from '../helpers/net.js';

test('a BullMQ queue whose Redis is unreachable closes within its grace period and stops reconnecting', async () => {
  const port = await freePort();
  const q = new BullTrialQueue({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'dgtest-close', run: async () => 'done' as const, logger: pino({ level: 'silent' }) });
  await new Promise((r) => setTimeout(r, 300)); // let it try (and fail) to connect
  const t0 = performance.now();
  await q.close();
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `closed in ${Math.round(ms)} ms`);
  // no reconnect attempt after close (ioredis retries every ≤ 2 s while it may)
  const conn = (q as unknown as { conn: NodeJS.EventEmitter }).conn;
  let attempts = 0;
  conn.on('reconnecting', () => attempts++);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(attempts, 0, 'the connection stopped reconnecting');
});
