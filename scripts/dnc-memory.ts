// `npx tsx scripts/dnc-memory.ts [count]`: what an org's do-not-call list costs in Redis. Fills
// one org's `dnc` set through the real store (RedisCompliance, chunked SADD) on a throwaway
// redis-server (or REDIS_URL, under a random prefix it removes afterwards) and prints MEMORY
// USAGE of the set and the server's used_memory growth, per number. The README's figure comes
// from this script.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Redis } from 'ioredis';
import { createBackend } from '../src/store/backend.js';
import { KeyLayout } from '../src/store/keys.js';
import { startRedisServer } from './bench/redis-server.js';

const count = Number(process.argv[2] ?? 1_000_000);
const own = process.env.REDIS_URL ? null : await startRedisServer();
const url = process.env.REDIS_URL ?? own!.url;
const prefix = `dncmem${randomBytes(4).toString('hex')}:`;
const admin = new Redis(url);
const backend = await createBackend({ redis: { url }, queuePrefix: '{dncmem}', queueShards: 1, callRetentionSec: 60 }, { logger: pino({ level: 'silent' }), keyPrefix: prefix });
await backend.whenConnected(10_000);
try {
  const org = 'org-dnc-memory';
  const key = new KeyLayout(prefix).org(org).dnc;
  const usedBefore = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  const t0 = performance.now();
  const batch = 100_000;
  for (let i = 0; i < count; i += batch) {
    const numbers = Array.from({ length: Math.min(batch, count - i) }, (_, j) => `+1${String(2012000000 + (i + j) * 7)}`);
    await backend.compliance.dncAdd(org, numbers);
  }
  const secs = (performance.now() - t0) / 1000;
  const listed = await backend.compliance.dncCount(org);
  const usage = Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  const usedAfter = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  const version = /redis_version:(\S+)/.exec(await admin.info('server'))![1];
  console.log(`redis ${version}: ${listed} numbers in one org's dnc set, added in ${secs.toFixed(1)} s`);
  console.log(`MEMORY USAGE ${mb(usage)} MiB (${(usage / listed).toFixed(1)} bytes a number); used_memory grew ${mb(usedAfter - usedBefore)} MiB`);
  await admin.unlink(key);
} finally {
  await backend.close();
  admin.disconnect();
  await own?.stop();
}
