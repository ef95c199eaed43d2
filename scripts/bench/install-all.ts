// Benchmark: "install for all users" over a 100,000-user org on Redis (issue 2, item 8).
// Times the Redis backend's directory.installAll (Lua, in batches) beside a naive baseline in the same run: the same
// number of assignments written one HSET+ZADD round trip at a time from Node (which, unlike the
// store, does not even check the rules). Uses REDIS_URL, else a throwaway redis-server.
//
//   npx tsx scripts/bench/install-all.ts            (USERS=20000 to try a smaller org)
//
// It works under its own random key prefix and deletes exactly those keys at the end.

import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createBackend } from '../../src/store/backend.js';
import { redisServerOnPath, startRedisServer, type ThrowawayRedis } from './redis-server.js';

export interface InstallAllRow {
  case: string;
  users: number;
  seconds: number;
  usersPerSec: number;
}

export interface InstallAllOptions {
  users?: number;
  redisUrl?: string;
  /** print progress lines (default true when run directly) */
  log?: (line: string) => void;
}

const SEED_CONCURRENCY = 2000;

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

function row(name: string, users: number, ms: number): InstallAllRow {
  const seconds = ms / 1000;
  return { case: name, users, seconds: Number(seconds.toFixed(3)), usersPerSec: Math.round(users / seconds) };
}

export async function run(opts: InstallAllOptions = {}): Promise<InstallAllRow[]> {
  const users = opts.users ?? Number(process.env.USERS ?? 100_000);
  const log = opts.log ?? (() => {});
  let server: ThrowawayRedis | null = null;
  let url = opts.redisUrl ?? process.env.REDIS_URL;
  if (!url) {
    if (!redisServerOnPath()) throw new Error('install-all bench needs Redis: set REDIS_URL or put redis-server on PATH');
    server = await startRedisServer();
    url = server.url;
    log(`# throwaway redis-server at ${url}`);
  }
  const prefix = `dgbench:${randomBytes(6).toString('hex')}:`;
  const org = `bench${randomBytes(4).toString('hex')}`;
  const redis = new Redis(url);
  const backend = await createBackend({ redis: { url }, queuePrefix: '{bench}', queueShards: 1, callRetentionSec: 86_400 }, { logger: pino({ level: 'warn' }), keyPrefix: prefix, role: 'bench' });
  // the command connection refuses commands until it is up (no offline queue): wait for it
  await backend.whenConnected(5000);
  const store = backend.directory;
  const now = new Date().toISOString();
  const rows: InstallAllRow[] = [];
  try {
    const providerId = `bench-${randomBytes(4).toString('hex')}`;
    await store.createProvider(org, providerId, { kind: 'sim', name: 'bench', config: {}, regions: { deny: ['CN'] }, priority: 0, scope: 'specific', futureUsers: false }, now);

    const ids = Array.from({ length: users }, (_, i) => `user-${String(i).padStart(7, '0')}`);
    let t0 = performance.now();
    for (let i = 0; i < ids.length; i += SEED_CONCURRENCY) {
      await Promise.all(ids.slice(i, i + SEED_CONCURRENCY).map((id) => store.putUser(org, id, { region: 'CA', numbers: [] }, now)));
    }
    rows.push(row('seed: putUser (one Lua call each, pipelined)', users, performance.now() - t0));
    log(`# seeded ${users} users`);

    t0 = performance.now();
    const res = await store.installAll(org, providerId, false, now);
    rows.push(row('installAll: Lua, 2,000 users per script run', users, performance.now() - t0));
    const count = await store.userCount(org, providerId);
    if (res.assigned.length !== users || count !== users) {
      throw new Error(`installAll assigned ${res.assigned.length}, provider counts ${count}, expected ${users}`);
    }

    // the baseline writes the same shape of data (user field + provider index) to scratch keys
    const tag = `${prefix}{org:${org}}:naive:`;
    t0 = performance.now();
    for (const id of ids) {
      await redis.pipeline().hset(`${tag}u:${id}`, 'prov', providerId).zadd(`${tag}pu`, 0, id).exec();
    }
    rows.push(row('naive: HSET+ZADD per user, one round trip at a time', users, performance.now() - t0));
    return rows;
  } finally {
    await deleteByPrefix(redis, prefix);
    await backend.close();
    await redis.quit();
    if (server) await server.stop();
  }
}

export function formatTable(rows: InstallAllRow[]): string {
  const header = ['case', 'users', 'seconds', 'users/s'];
  const body = rows.map((r) => [r.case, r.users.toLocaleString('en-US'), r.seconds.toFixed(3), r.usersPerSec.toLocaleString('en-US')]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  const lua = rows.find((r) => r.case.startsWith('installAll'));
  const naive = rows.find((r) => r.case.startsWith('naive'));
  if (lua && naive) out.push('', `installAll is ${(naive.seconds / lua.seconds).toFixed(1)}x faster than the naive baseline`);
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(l) })
    .then((rows) => console.log(`\ninstall-all over a whole org (Redis)\n${formatTable(rows)}`))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
