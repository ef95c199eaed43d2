// What only a Redis Cluster can show: an org's whole call cycle works wherever its slot lives, and
// keeps working — no error, nothing lost — while its slot is resharded to another master under
// load. The cluster is left with the slot layout it had.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { Call, CallStatus } from '../../../src/domain/types.js';
import { Redis } from 'ioredis';
import { masters, rebalanceBack, reshard, slotOf, waitForClusterOk, type ClusterMaster } from '../../helpers/cluster.js';
import { keysByPrefix } from '../redis-keys.js';
import { RETENTION_SEC, type BackendFactory } from './backends.js';
import { allPages, baseCall, bucket, clickCreated, rid, sleep, t } from './helpers.js';
import { nodeClient } from './redis-specifics.js';

const layout = (ms: ClusterMaster[]) => ms.map((m) => `${m.port}:${m.ranges.map(([a, b]) => `${a}-${b}`).join(',')}`).join(' ');
const slotOfOrg = (orgId: string) => slotOf(`{org:${orgId}}`);

/** An org id whose slot is one of `slots`. */
function orgInSlots(slots: Set<number>): string {
  for (let i = 0; i < 1_000_000; i++) {
    const id = rid('org');
    if (slots.has(slotOfOrg(id))) return id;
  }
  throw new Error('no org id found for those slots');
}

/** reshard(), tried again when redis-cli refuses because another suite is moving slots right then */
async function reshardRetrying(fromPort: number, toPort: number, slots: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await reshard(fromPort, toPort, slots);
    } catch (e) {
      if (attempt >= 3) throw e;
      await sleep(1000);
    }
  }
}

function slotsOf(m: ClusterMaster): number[] {
  return m.ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
}

/**
 * Watches a master's CLUSTER NODES while a reshard runs: whether `slot` was seen half moved
 * ("[slot->-...]"), and the most operations of the load in flight while it was.
 */
function watchMigration(port: number, slot: number, inFlight: () => number): { stop(): Promise<{ seen: boolean; inFlight: number }> } {
  const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  let running = true;
  let seen = false;
  let most = 0;
  const loop = (async () => {
    while (running) {
      const text = (await node.call('CLUSTER', 'NODES').catch(() => '')) as string;
      if (text.includes(`[${slot}->-`)) {
        seen = true;
        most = Math.max(most, inFlight());
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      node.disconnect();
      return { seen, inFlight: most };
    },
  };
}

/** click → dial (linked) → answer → complete → log settled → purge, checking each step. */
async function callCycle(b: Backend, org: string, provider: string): Promise<string> {
  const key = rid('idem');
  const call = await clickCreated(b, org, 'u1', {
    idempotency: { key, fingerprint: 'fp', ttlSec: 3 * RETENTION_SEC },
    admission: (callId) => ({ buckets: [bucket('perOrg', 'org', 100), bucket('perUser', 'u:u1', 100)], cap: { userId: 'u1', max: 5, callId } }),
  });
  // times after the click's (a time before the last transition would be moved up to it)
  const at = (sec: number) => new Date(Date.parse(call.createdAt) + sec * 1000).toISOString();
  await b.calls.transition(org, call.id, { status: 'dialing', at: at(1), providerCallId: `PC-${call.id}`, link: provider, from: '+15145550000' });
  await b.calls.transition(org, call.id, { status: 'answered', at: at(2) });
  const end = await b.calls.transition(org, call.id, { status: 'completed', at: at(12), breakerSuccess: { providerId: provider, policy: { threshold: 5, openMs: 1000, closeAfter: 1 } } });
  assert.deepEqual([end?.becameTerminal, end?.call.durationSec, end?.call.crmLog?.status], [true, 10, 'pending']);
  assert.deepEqual(await b.calls.outboxDue(org, Date.now() + 1, 10), [call.id]);
  const ctx = await b.calls.callLogContext(org, call.id);
  assert.deepEqual([ctx.call?.id, ctx.user?.id], [call.id, 'u1']);
  await b.calls.setCrmLog(org, call.id, { status: 'logged', attempts: 1, recordId: 'R1' });
  assert.equal(await b.calls.purge(org, Date.now() + RETENTION_SEC * 1000 + 60_000, 10), 1);
  assert.equal(await b.calls.getCall(org, call.id), null);
  assert.equal(await b.calls.callIdByProviderCallId(org, provider, `PC-${call.id}`), null);
  assert.equal(await b.calls.idempotency(org, key), null);
  return call.id;
}

export function runClusterSpecifics(f: BackendFactory): void {
  describe('cluster specifics', () => {
    test('a whole call cycle works for orgs on each of the three masters, every key of an org on its master', async () => {
      const b = await f.create();
      const admin = (await f.admin())!;
      const ms = await masters();
      assert.equal(ms.length, 3, layout(ms));
      for (const m of ms) {
        const org = orgInSlots(new Set(slotsOf(m)));
        const providerId = rid('p');
        await b.directory.createProvider(org, providerId, { kind: 'sim', name: 'sim', config: {}, regions: {}, priority: 0, scope: 'all', futureUsers: true }, t(0));
        await b.directory.putUser(org, 'u1', { region: 'CA', numbers: ['+15145550101'] }, t(1));
        const callId = await callCycle(b, org, providerId);
        const node = await nodeClient(slotOfOrg(org));
        try {
          assert.equal(Number(node.options.port), m.port);
          assert.equal(await node.exists(`${f.prefixes(b).keyPrefix}{org:${org}}:profile`), 1, "the org's user is on that master");
          assert.equal(await node.exists(`${f.prefixes(b).keyPrefix}{org:${org}}:c:${callId}`), 0, 'the purged call is gone from it');
        } finally {
          node.disconnect();
        }
        const ports = new Set((await keysByPrefix(admin, `${f.prefixes(b).keyPrefix}{org:${org}}`)).map((k) => k.port));
        assert.deepEqual([...ports], [m.port]);
      }
    });

    test('clicks and transitions while the org slot is resharded to another master, and back: no error, nothing lost', async () => {
      await waitForClusterOk();
      const before = await masters();
      const MOVED = 48;
      // redis-cli moves a master's lowest slots first; picking a pair where those are all below the
      // other master's slots means moving the same number back returns exactly those slots
      let from: ClusterMaster | undefined;
      let to: ClusterMaster | undefined;
      let moved: number[] = [];
      for (const a of before) {
        for (const c of before) {
          if (a === c) continue;
          const lowest = slotsOf(a).slice(0, MOVED);
          if (lowest[lowest.length - 1] < slotsOf(c)[0]) [from, to, moved] = [a, c, lowest];
        }
      }
      if (!from || !to) {
        // any pair will do; rebalanceBack() evens the layout out afterwards
        [from, to] = [before[0], before[1]];
        moved = slotsOf(from).slice(0, MOVED);
      }
      const org = orgInSlots(new Set(moved));
      const b = await f.create();
      const peer = (await f.peer(b))!;
      const providerId = rid('p');
      await b.directory.createProvider(org, providerId, { kind: 'sim', name: 'sim', config: {}, regions: {}, priority: 0, scope: 'all', futureUsers: true }, t(0));
      const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
      for (const u of users) await b.directory.putUser(org, u, { region: 'CA', numbers: [] }, t(1));

      // many keys in the slot, so moving it takes several MIGRATE batches (the load meets it half moved)
      const old = Array.from({ length: 1500 }, (_, i) => rid(`old${i}-`));
      for (let i = 0; i < old.length; i += 100) {
        await Promise.all(old.slice(i, i + 100).map((id) => b.calls.createCall({ ...baseCall(org, id, { userId: '', trial: true, providerId }), status: 'completed', history: [{ status: 'completed', at: t(0) }] })));
      }

      const errors: string[] = [];
      const calls = new Map<string, CallStatus>();
      const linked = new Set<string>();
      let ops = 0;
      let inFlight = 0;
      let resharding = true;
      /** one unit of work: a click, then a random walk of its status; every call recorded with its expected end */
      const work = async (i: number) => {
        const inst = i % 2 ? peer : b;
        const user = users[i % users.length];
        inFlight++;
        try {
          const call = await clickCreated(inst, org, user, { admission: { buckets: [bucket('perOrg', 'org', 1e6, 1)] } });
          ops++;
          calls.set(call.id, 'queued');
          const path: CallStatus[] = i % 3 === 0 ? ['dialing', 'ringing'] : i % 3 === 1 ? ['dialing', 'answered', 'completed'] : ['ringing', 'busy'];
          for (const st of path) {
            const r = await (i % 2 ? b : peer).calls.transition(org, call.id, { status: st, at: t(ops), ...(st === 'dialing' ? { providerCallId: `PC-${call.id}`, link: providerId } : {}) });
            ops++;
            assert.equal(r?.applied, true, `${st} applied`);
            calls.set(call.id, st);
            if (st === 'dialing') linked.add(call.id);
          }
        } catch (e) {
          errors.push(`${(e as Error).name}: ${(e as Error).message}`);
        } finally {
          inFlight--;
        }
      };
      /** runs work 16 at a time until the reshard is over and at least 200 operations were made */
      const load = async () => {
        let i = 0;
        while (resharding || ops < 200) {
          await Promise.all(Array.from({ length: 16 }, () => work(i++)));
          if (errors.length > 20) break;
        }
      };

      const check = async (when: string) => {
        assert.deepEqual(errors, [], `${when}: every operation succeeded`);
        const all = await allPages((cursor) => b.calls.listCalls(org, { limit: 500, cursor }), 500);
        assert.equal(all.length, calls.size + old.length, `${when}: every call is listed, the old ones too`);
        const listed = new Map(all.filter((c: Call) => calls.has(c.id)).map((c: Call) => [c.id, c.status]));
        assert.equal(listed.size, calls.size, `${when}: every call is listed`);
        for (const [id, st] of calls) assert.equal(listed.get(id), st, `${when}: ${id} ended ${st}`);
        assert.deepEqual(await b.calls.getCall(org, old[old.length - 1]).then((c) => c?.status), 'completed');
        const ended = [...calls].filter(([, st]) => st === 'completed' || st === 'busy').map(([id]) => id);
        assert.deepEqual((await b.calls.outboxDue(org, Date.now() + 1, 10_000)).sort(), ended.sort(), `${when}: every ended call in the outbox`);
        const live = [...calls].filter(([, st]) => st === 'ringing').map(([id]) => id);
        assert.deepEqual((await b.calls.staleLiveCalls(org, Date.now() + 1, 10_000)).sort(), live.sort(), `${when}: the live calls`);
        const links = await Promise.all([...linked].map((id) => b.calls.callIdByProviderCallId(org, providerId, `PC-${id}`)));
        assert.deepEqual(links, [...linked], `${when}: every dial's link`);
      };

      try {
        let running = load();
        await sleep(50);
        let watch = watchMigration(from.port, slotOfOrg(org), () => inFlight);
        await reshardRetrying(from.port, to.port, MOVED);
        assert.deepEqual(await watch.stop().then((w) => [w.seen, w.inFlight > 0]), [true, true], 'the load met the slot half moved');
        const mid = await masters();
        assert.equal(mid.find((m) => m.port === to!.port)!.ranges.some(([a, z]) => a <= slotOfOrg(org) && slotOfOrg(org) <= z), true, 'the org now lives on the other master');
        resharding = false;
        await running;
        await check('after the move');
        const afterMove = calls.size;

        resharding = true;
        ops = 0;
        running = load();
        await sleep(50);
        watch = watchMigration(to.port, slotOfOrg(org), () => inFlight);
        await reshardRetrying(to.port, from.port, MOVED);
        assert.deepEqual(await watch.stop().then((w) => [w.seen, w.inFlight > 0]), [true, true], 'the load met the slot half moved back');
        resharding = false;
        await running;
        await check('after the move back');
        assert.ok(calls.size > afterMove, 'more calls were made during the move back');
      } finally {
        resharding = false;
        const now = await masters();
        if (layout(now) !== layout(before)) await rebalanceBack();
      }
      assert.equal(layout(await masters()), layout(before), 'the slots are back where they were');
    });
  });
}
