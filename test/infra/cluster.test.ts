// The test Redis Cluster that `npm test` starts, and the helpers of test/helpers/cluster.ts: three
// masters over all 16384 slots, hash tags spread over them, a key survives a reshard of its slot
// and a restart of its master. Each test removes its keys (random prefix) and leaves the slots
// as it found them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis, type Cluster } from 'ioredis';
import { CLUSTER_SLOTS, masters, nodeForSlot, rebalanceBack, reshard, restartMaster, slotOf, testClusterClient, type ClusterMaster } from '../helpers/cluster.js';
import { clusterOwned } from '../helpers/redis.js';

const prefix = `dgtest:infra:${randomBytes(5).toString('hex')}:`;
const written = new Set<string>();

/** the slot layout, to compare before and after */
const layout = (ms: ClusterMaster[]) => ms.map((m) => `${m.port}:${m.ranges.map(([a, b]) => `${a}-${b}`).join(',')}`).join(' ');

/** a key under our prefix whose hash tag maps to `slot` */
function keyInSlot(slot: number): string {
  for (let i = 0; i < 1_000_000; i++) {
    const key = `${prefix}{${i}}`;
    if (slotOf(key) === slot) return key;
  }
  throw new Error(`no key found for slot ${slot}`);
}

async function countKeysInSlot(m: { host: string; port: number }, slot: number): Promise<number> {
  const c = new Redis({ host: m.host, port: m.port, maxRetriesPerRequest: 1 });
  try {
    return (await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot))) as number;
  } finally {
    c.disconnect();
  }
}

describe('test Redis Cluster', () => {
  let client: Cluster;
  let before_: ClusterMaster[];
  before(async () => {
    client = testClusterClient();
    before_ = await masters();
  });
  after(async () => {
    try {
      if (written.size) await Promise.all([...written].map((k) => client.del(k)));
    } finally {
      await client.quit();
    }
  });

  test('has 3 masters that together serve all 16384 slots, each about a third', () => {
    assert.equal(before_.length, 3, layout(before_));
    assert.equal(
      before_.reduce((sum, m) => sum + m.slots, 0),
      CLUSTER_SLOTS,
    );
    for (const m of before_) assert.ok(Math.abs(m.slots - CLUSTER_SLOTS / 3) < 200, `balanced: ${layout(before_)}`);
  });

  test('slotOf follows hash tags, and keys with different tags land on different masters', async () => {
    assert.equal(slotOf('{user1000}.following'), slotOf('{user1000}.followers'));
    const node = new Redis({ host: before_[0].host, port: before_[0].port, maxRetriesPerRequest: 1 });
    try {
      // the server's own CLUSTER KEYSLOT agrees, tags, empty tags and second braces included
      for (const key of ['foo', '{user1000}.following', 'a{}b', '{}{x}', 'x{y}{z}', `${prefix}{org:1}:u`, 'ünï{cödé}']) {
        assert.equal(slotOf(key), await node.call('CLUSTER', 'KEYSLOT', key), key);
      }
    } finally {
      node.disconnect();
    }
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < 3 && i < 1000; i++) {
      const key = `${prefix}{tag${i}}:k`;
      const { port } = await nodeForSlot(slotOf(key));
      if (!byMaster.has(port)) byMaster.set(port, key);
    }
    assert.equal(byMaster.size, 3, 'three tags on three masters');
    for (const [port, key] of byMaster) {
      written.add(key);
      await client.set(key, `on ${port}`);
      // the key is in that master's own keyspace
      const owner = new Redis({ host: before_.find((m) => m.port === port)!.host, port, maxRetriesPerRequest: 1 });
      try {
        assert.equal(await owner.get(key), `on ${port}`);
      } finally {
        owner.disconnect();
      }
    }
  });

  test('a key written before its slot is resharded to another master is still read after it', async () => {
    // from the master of slot 0 (its lowest slots move) to another: moving the same number back
    // then returns exactly those slots, so the layout is as before
    const from = before_.find((m) => m.ranges[0][0] === 0) ?? before_[0];
    const to = before_.find((m) => m.port !== from.port)!;
    const moved = 20;
    const slot = from.ranges[0][0]; // redis-cli moves a master's lowest slots first
    const key = keyInSlot(slot);
    written.add(key);
    await client.set(key, 'before the reshard');
    assert.ok((await countKeysInSlot(from, slot)) >= 1);
    await reshard(from.port, to.port, moved);
    try {
      assert.equal((await nodeForSlot(slot)).port, to.port);
      assert.equal(await client.get(key), 'before the reshard');
      assert.equal(await countKeysInSlot(from, slot), 0, 'the key left the old master');
      assert.ok((await countKeysInSlot(to, slot)) >= 1, 'the key is on the new master');
      const during = await masters();
      assert.equal(during.find((m) => m.port === from.port)!.slots, from.slots - moved);
      assert.equal(during.find((m) => m.port === to.port)!.slots, to.slots + moved);
    } finally {
      await reshard(to.port, from.port, moved);
    }
    const now = await masters();
    if (layout(now) !== layout(before_)) await rebalanceBack();
    assert.equal(layout(now), layout(before_), 'the slots are back where they were');
    assert.equal(await client.get(key), 'before the reshard');
  });

  test('restartMaster keeps a key written before the restart', async (t) => {
    if (!clusterOwned()) {
      t.skip('needs the throwaway cluster of `npm test` (restarting a node of a shared cluster would touch its other users)');
      return;
    }
    const key = `${prefix}{restart}:k`;
    written.add(key);
    await client.set(key, 'before the restart');
    const { port } = await nodeForSlot(slotOf(key));
    await restartMaster(port);
    const fresh = testClusterClient();
    try {
      assert.equal(await fresh.get(key), 'before the restart', 'a new client reads it');
    } finally {
      await fresh.quit();
    }
    assert.equal(await client.get(key), 'before the restart', 'the client from before the restart reads it too');
    assert.equal(layout(await masters()), layout(before_), 'the restarted master serves the same slots');
  });
});
