// The Store contract on real Redis, plus what only Redis can show: key layout under the org hash
// tag, batched install-all, and concurrent conflicting assignments from several connections.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { testRedisClient, testRedisUrl } from '../helpers/redis.js';
import { providerInput, rid, runStoreContract, seeded, t, userInput } from './contract.js';

const t0 = () => t(0);
import { deleteByPrefix } from './redis-keys.js';

const prefixes: string[] = [];
function freshPrefix(): string {
  const p = `dgtest:${randomBytes(5).toString('hex')}:`;
  prefixes.push(p);
  return p;
}

// a tiny install batch so the contract's install-all cases cross several script runs
runStoreContract(
  'redis',
  async () => new RedisStore(testRedisClient(), { keyPrefix: freshPrefix(), installBatch: 7 }),
  (s) => s.close(),
);

describe('RedisStore specifics', () => {
  let admin: Redis;
  before(() => {
    admin = testRedisClient();
  });
  after(async () => {
    for (const p of prefixes) await deleteByPrefix(admin, p);
    await admin.quit();
  });

  test('every org key carries the org hash tag; only single-key lookups are global', async () => {
    const prefix = freshPrefix();
    const s = new RedisStore(testRedisClient(), { keyPrefix: prefix });
    try {
      const org = rid('org');
      await s.createOrg({ id: org, name: 'o', createdAt: t(0) }, { keyId: rid('k'), orgId: org, secretHash: 'h', createdAt: t(0) });
      await s.createProvider(org, 'p1', providerInput({ futureUsers: true }), t(0));
      await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101'] }), t(1));
      await s.createCall({
        id: 'c1', orgId: org, userId: 'u1', providerId: 'p1', providerKind: 'sim', direction: 'outbound',
        to: '+1', status: 'queued', createdAt: t(1), updatedAt: t(1), history: [],
      });
      await s.transition(org, 'c1', { status: 'dialing', at: t(2), providerCallId: 'PC1', linkProviderId: 'p1' });
      await s.claimIdempotency(org, 'idem-1', 'fp', 60);
      await s.putCrmConfig(org, { kind: 'webhook' });
      const keys = await admin.keys(`${prefix}*`);
      const tag = `{org:${org}}`;
      for (const k of keys) {
        const rest = k.slice(prefix.length);
        if (rest.startsWith('apikey:') || rest.startsWith('provider-org:')) continue;
        const open = rest.indexOf('{');
        assert.equal(rest.slice(open, rest.indexOf('}') + 1), tag, `${k} is in the org's slot`);
      }
      assert.ok(keys.length >= 10, `keys: ${keys.join(' ')}`);
    } finally {
      await s.close();
    }
  });

  test('install-all over several thousand users in batches', async () => {
    const s = new RedisStore(testRedisClient(), { keyPrefix: freshPrefix(), installBatch: 500 });
    try {
      const org = rid('org');
      await s.createProvider(org, 'other', providerInput(), t(0));
      await s.createProvider(org, 'p', providerInput({ regions: { deny: ['CN'] } }), t(0));
      const n = 3000;
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) work.push(s.putUser(org, `u${String(i).padStart(5, '0')}`, userInput(i % 100 === 0 ? 'CN' : 'CA'), t(1)));
      await Promise.all(work);
      await s.assignUsers(org, 'other', ['u00001', 'u00002']);
      const res = await s.installAll(org, 'p', false, t(2));
      assert.equal(res.assigned.length, n - 30 - 2);
      assert.equal(res.conflicts.length, 32);
      assert.equal(new Set(res.assigned).size, res.assigned.length, 'no user reported twice across batches');
      assert.deepEqual(await s.userCounts(org), { other: 2, p: n - 32 });
    } finally {
      await s.close();
    }
  });

  test('ping is false (within a bounded time) when Redis is unreachable', async () => {
    const client = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 1, retryStrategy: () => 1000 });
    client.on('error', () => {}); // refused connections are the point of this case
    const s = new RedisStore(client);
    const started = Date.now();
    assert.equal(await s.ping(), false);
    assert.ok(Date.now() - started < 5000);
    await s.close();
  });

  test('the Lua scripts come from src/store/redis/lua', async () => {
    const { luaDir, loadScripts } = await import('../../src/store/redis/scripts.js');
    assert.match(luaDir(), /src[/\\]store[/\\]redis[/\\]lua[/\\]$/);
    assert.ok(loadScripts().get('transition')?.includes('cjson.encode'));
  });

  test('scripts still run after the server forgets them (restart, SCRIPT FLUSH): EVALSHA falls back to EVAL', async (t) => {
    // SCRIPT FLUSH touches every client of that Redis: only on the throwaway one the test command started
    if (process.env.DIALGATE_TEST_REDIS_OWNED !== '1') {
      t.skip('needs the throwaway redis-server of `npm test` (SCRIPT FLUSH would touch a shared Redis)');
      return;
    }
    const { luaScripts } = await import('../../src/store/redis/scripts.js');
    const client = testRedisClient();
    const s = new RedisStore(client, { keyPrefix: freshPrefix() });
    try {
      const org = rid('org');
      await client.script('FLUSH');
      const sha = luaScripts().get('get_user')!.sha;
      assert.deepEqual(await client.script('EXISTS', sha), [0]);
      assert.equal(await s.getUser(org, 'nobody'), null);
      assert.deepEqual(await client.script('EXISTS', sha), [1], 'EVAL cached it again');
      await s.putUser(org, 'u1', userInput('CA'), t0());
      assert.equal((await s.getUser(org, 'u1'))?.region, 'CA');
    } finally {
      await s.close();
    }
  });

  describe('concurrency: conflicting assignments and moves from several connections', () => {
    const CONNECTIONS = 4;
    let stores: Store[];
    let org: string;
    let users: string[];
    before(async () => {
      const prefix = freshPrefix();
      stores = Array.from({ length: CONNECTIONS }, () => new RedisStore(new Redis(testRedisUrl()), { keyPrefix: prefix }));
      org = rid('org');
      await stores[0].createProvider(org, 'A', providerInput({ regions: { allow: ['CA', 'US'] } }), t(0));
      await stores[0].createProvider(org, 'B', providerInput(), t(0));
      users = Array.from({ length: 12 }, (_, i) => `u${i}`);
      for (const u of users) await stores[0].putUser(org, u, userInput('CA'), t(1));
    });
    after(async () => {
      for (const s of stores) await s.close();
    });

    /** Each user on at most one provider; provider sets, users' providerId and counts agree. */
    async function checkInvariants(label: string): Promise<Map<string, string | null>> {
      const s = stores[0];
      const setA = new Set((await s.listProviderUsers(org, 'A', { limit: 1000 })).items.map((u) => u.id));
      const setB = new Set((await s.listProviderUsers(org, 'B', { limit: 1000 })).items.map((u) => u.id));
      const where = new Map<string, string | null>();
      for (const u of users) {
        const user = await s.getUser(org, u);
        assert.ok(user, `${label}: ${u} exists`);
        where.set(u, user.providerId);
        assert.ok(!(setA.has(u) && setB.has(u)), `${label}: ${u} is on two providers`);
        assert.equal(setA.has(u), user.providerId === 'A', `${label}: A's set agrees with ${u}.providerId=${user.providerId}`);
        assert.equal(setB.has(u), user.providerId === 'B', `${label}: B's set agrees with ${u}.providerId=${user.providerId}`);
      }
      assert.deepEqual(await s.userCounts(org), { A: setA.size, B: setB.size }, `${label}: counts`);
      return where;
    }

    test('50 concurrent assign / unassign / move / install-all requests keep every invariant', async () => {
      const rnd = seeded(0xc0ffee);
      for (let round = 0; round < 6; round++) {
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 50; i++) {
          const s = stores[i % CONNECTIONS];
          const p = rnd() < 0.5 ? 'A' : 'B';
          const u = users[Math.floor(rnd() * users.length)];
          const r = rnd();
          if (r < 0.35) ops.push(s.assignUsers(org, p, users.filter(() => rnd() < 0.4)));
          else if (r < 0.7) ops.push(s.moveUser(org, u, p));
          else if (r < 0.9) ops.push(s.unassignUser(org, p, u));
          else ops.push(s.installAll(org, p, false, t(2)));
        }
        await Promise.all(ops);
        await checkInvariants(`round ${round}`);
      }
    });

    test('moves racing assigns never leave a user on none or on two providers', async () => {
      const rnd = seeded(0xbeef);
      await stores[0].installAll(org, 'A', false, t(3));
      await stores[0].installAll(org, 'B', false, t(3));
      for (const [u, p] of await checkInvariants('start')) assert.notEqual(p, null, `${u} starts assigned`);
      for (let round = 0; round < 6; round++) {
        const ops: Promise<unknown>[] = [];
        const moveResults: Promise<{ u: string; p: string; ok: boolean }>[] = [];
        for (let i = 0; i < 50; i++) {
          const s = stores[i % CONNECTIONS];
          const p = rnd() < 0.5 ? 'A' : 'B';
          const u = users[Math.floor(rnd() * users.length)];
          if (rnd() < 0.6) {
            moveResults.push(s.moveUser(org, u, p).then((user) => ({ u, p, ok: user.providerId === p })));
          } else {
            // always refused: everybody is on a provider, so this must never take anyone
            ops.push(
              s.assignUsers(org, p, [u]).then((res) => {
                if (res.conflicts.length) assert.equal(res.conflicts[0].reason, 'assigned_elsewhere');
              }),
            );
          }
        }
        await Promise.all(ops);
        for (const m of await Promise.all(moveResults)) assert.ok(m.ok, `move of ${m.u} to ${m.p} answered with that provider`);
        const where = await checkInvariants(`moves round ${round}`);
        for (const [u, p] of where) assert.notEqual(p, null, `${u} is never left without a provider`);
      }
    });
  });
});
