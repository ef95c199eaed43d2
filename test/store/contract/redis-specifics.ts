// What only the Redis backends can show (one Redis and a Redis Cluster alike): where the Lua
// scripts come from and that each declares the keys the code passes it, the EVALSHA fallback,
// readiness, and — run last — that every key the whole suite wrote is in its org's slot.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createBackend } from '../../../src/store/backend.js';
import { loadScripts, luaDir, luaScripts, SCRIPTS, type ScriptName } from '../../../src/store/redis/scripts.js';
import { nodeForSlot, slotOf } from '../../helpers/cluster.js';
import { freePort } from '../../helpers/net.js';
import { clusterOwned } from '../../helpers/redis.js';
import { keysByPrefix } from '../redis-keys.js';
import type { BackendFactory } from './backends.js';
import { rid, t, userInput } from './helpers.js';

/** The per-org keys of src/store/keys.ts, after the org's hash tag. */
const ORG_KEYS = new Set([
  'org', 'ver', 'users', 'profile', 'uver', 'region', 'prov', 'regions', 'dids', 'providers', 'pmeta', 'pu', 'settings',
  'calls', 'ucalls', 'pc', 'livecalls', 'idem', 'idemExp', 'rl', 'live', 'health', 'outbox', 'updbox', 'unresolved', 'expiry', 'audit', 'apikeys',
  'rates', 'costs', 'costIdx', 'dnc', 'cid',
  'apikeyExp', 'tokver',
]);
const ORG_ITEM_KEYS = [/^c:[^:]+$/, /^perf:[mh]:\d+$/, /^trial:[^:]+(:perf|:parts|:placed:.+|:done:.+|:out:.+)?$/];
/** The few global keys (found by an id alone). */
const GLOBAL_KEYS = [/^apikey:.+$/, /^provider-org:.+$/, /^orgs$/, /^shared:.+$/];

export function runRedisSpecifics(f: BackendFactory): void {
  describe(`${f.kind} specifics`, () => {
    test('the Lua scripts come from src/store/redis/lua, and each one declares the number of KEYS the code passes it', () => {
      assert.match(luaDir(), /src[/\\]store[/\\]redis[/\\]lua[/\\]$/);
      const lib = readFileSync(`${luaDir()}lib.lua`, 'utf8');
      for (const [name, lua] of loadScripts()) {
        assert.ok(lua.startsWith(lib), `${name} has lib.lua prepended`);
        const own = readFileSync(`${luaDir()}${name}.lua`, 'utf8');
        const header = /^-- KEYS: (.*(?:\n--\s{3,}.*)*)/m.exec(own)?.[1] ?? '';
        const declared = SCRIPTS[name as ScriptName];
        if (declared === null) {
          assert.match(header, /\.\./, `${name} takes a variable number of keys and says so`);
          continue;
        }
        const numbers = [...header.matchAll(/(?:^|[\s,:])(\d+) [a-z]/gi)].map((m) => Number(m[1]));
        assert.equal(Math.max(0, ...numbers), declared, `${name}: its KEYS header lists ${declared} keys (${header.replace(/\n--\s*/g, ' ')})`);
        const used = [...own.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
        assert.ok(Math.max(0, ...used) <= declared, `${name} touches no KEYS beyond the ${declared} it declares`);
      }
    });

    test('scripts still run after the server forgets them (SCRIPT FLUSH): EVALSHA falls back to EVAL', async (tc) => {
      const owned = f.kind === 'redis' ? process.env.DIALGATE_TEST_REDIS_OWNED === '1' : clusterOwned();
      if (!owned) {
        tc.skip('needs the throwaway Redis of `npm test` (SCRIPT FLUSH would touch a shared one)');
        return;
      }
      const b = await f.create();
      const org = rid('org');
      const sha = luaScripts().get('get_users')!.sha;
      // the node that serves the org's slot (the one Redis, or that org's master)
      const node = f.kind === 'redis' ? ((await f.admin()) as Redis) : await nodeClient(slotOf(`{org:${org}}`));
      try {
        await node.script('FLUSH');
        assert.deepEqual(await node.script('EXISTS', sha), [0]);
        assert.equal(await b.directory.getUser(org, 'nobody'), null);
        assert.deepEqual(await node.script('EXISTS', sha), [1], 'EVAL cached it again');
        await b.directory.putUser(org, 'u1', userInput('CA'), t(0));
        assert.equal((await b.directory.getUser(org, 'u1'))?.region, 'CA');
      } finally {
        if (f.kind === 'cluster') node.disconnect();
      }
    });

    test('ready() when a command answers; an unreachable one is not ready within a bounded time', async () => {
      const b = await f.create();
      assert.deepEqual(await b.ready(), { ok: true });
      assert.equal(await b.whenConnected(100), true);
      const port = await freePort(); // nobody listens there
      const dead = await createBackend(
        {
          redis: f.kind === 'redis' ? { url: `redis://127.0.0.1:${port}` } : { clusterNodes: [{ host: '127.0.0.1', port }] },
          queuePrefix: '{dgt-dead}',
          queueShards: 1,
          callRetentionSec: 60,
        },
        { logger: pino({ level: 'silent' }), keyPrefix: `dgtest:${rid()}:` },
      );
      try {
        const started = Date.now();
        const r = await dead.ready();
        assert.equal(r.ok, false);
        assert.ok(r.detail && r.detail.length > 0, 'says why');
        assert.ok(Date.now() - started < 2500, 'within a bounded time');
        assert.equal(await dead.whenConnected(100), false);
        await assert.rejects(dead.directory.getUser('o', 'u'), 'a command fails instead of hanging');
      } finally {
        await dead.close();
      }
    });

    test("every key the suite wrote is an org key under the org's hash tag, bar the few global ones (run last)", async () => {
      const admin = (await f.admin())!;
      let orgKeys = 0;
      const byOrg = new Map<string, Set<number>>();
      for (const m of f.made()) {
        for (const { key, port } of await keysByPrefix(admin, m.keyPrefix)) {
          const rest = key.slice(m.keyPrefix.length);
          if (GLOBAL_KEYS.some((re) => re.test(rest))) continue;
          const tag = /^\{org:([^{}]+)\}:(.+)$/.exec(rest);
          assert.ok(tag, `${key} carries an org hash tag`);
          const [, orgId, name] = tag;
          assert.ok(ORG_KEYS.has(name) || ORG_ITEM_KEYS.some((re) => re.test(name)), `${key}: "${name}" is a key of src/store/keys.ts`);
          assert.equal(slotOf(key), slotOf(`{org:${orgId}}`), `${key} is in its org's slot`);
          if (!byOrg.has(orgId)) byOrg.set(orgId, new Set());
          byOrg.get(orgId)!.add(port);
          orgKeys++;
        }
      }
      assert.ok(orgKeys > 500 && byOrg.size > 100, `the suite wrote keys to check (${orgKeys} keys of ${byOrg.size} orgs)`);
      for (const [orgId, ports] of byOrg) assert.equal(ports.size, 1, `every key of ${orgId} is on one node (${[...ports].join(', ')})`);
    });
  });
}

/** A plain connection to the master serving a slot; the caller disconnects it. */
export async function nodeClient(slot: number): Promise<Redis> {
  const { host, port } = await nodeForSlot(slot);
  return new Redis({ host, port, maxRetriesPerRequest: 1 });
}
