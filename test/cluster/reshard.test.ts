// Two gateway processes on the throwaway 3-master Redis Cluster, under load, while 1,800 hash
// slots move from one master to another (redis-cli --cluster reshard): every key of the orgs in
// those slots migrates under the gateways' feet (MOVED, ASK, TRYAGAIN). Clicks and provider
// webhooks keep working — no 5xx — and every accepted call ends and is logged in the CRM exactly
// once. Then the slots move back. Some orgs are chosen so they live in the moving slots.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { masters, reshard, slotOf, withClusterLock } from '../helpers/cluster.js';
import { ClusterDeployment, type LoadOrg } from './load.js';

const MOVE = 1800;
/** an org's slot is that of its hash tag (src/store/keys.ts) */
const orgSlot = (orgId: string) => slotOf(`{org:${orgId}}`);

describe('slot migration under load (Redis Cluster, two gateway processes)', () => {
  const d = new ClusterDeployment();
  before(async () => {
    await d.start();
  });
  after(async () => {
    await d.stop();
  });

  test(`${MOVE} slots move while clicks and webhooks run: no 5xx, every accepted call logged exactly once`, { timeout: 300_000 }, async () => {
    await withClusterLock(async () => {
      const ms = await masters();
      const from = ms.reduce((a, b) => (b.slots > a.slots ? b : a));
      const to = ms.find((m) => m !== from)!;
      // redis-cli moves the source's lowest-numbered slots
      const owned = from.ranges.flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)).sort((a, b) => a - b);
      const moving = new Set(owned.slice(0, MOVE));

      // orgs until four live in the moving slots, and two elsewhere
      const orgs: (LoadOrg & { moving: boolean })[] = [];
      const count = (m: boolean) => orgs.filter((o) => o.moving === m).length;
      for (let i = 0; i < 400 && (count(true) < 4 || count(false) < 2); i++) {
        const o = await d.org(`reshard ${i}`);
        const inMoving = moving.has(orgSlot(o.id));
        if (!inMoving && count(false) >= 2) continue;
        orgs.push({ ...(await d.equip(o)), moving: inMoving });
      }
      assert.ok(count(true) >= 4, 'orgs in the moving slots');

      const load = d.load(orgs);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 1000));
      await reshard(from.port, to.port, MOVE);
      const moveMs = Date.now() - t0 - 1000;
      await new Promise((r) => setTimeout(r, 1000));
      await load.stop();
      console.log(`# moved ${MOVE} slots in ${(moveMs / 1000).toFixed(1)} s under load: ${load.accepted.length} calls accepted, statuses ${JSON.stringify(Object.fromEntries(load.statuses))}`);

      assert.deepEqual(load.errors, [], 'no 5xx during the migration');
      assert.ok(load.accepted.length > 100, `load ran (${load.accepted.length} calls)`);
      const movedCalls = load.accepted.filter((a) => (a.org as LoadOrg & { moving: boolean }).moving).length;
      assert.ok(movedCalls > 20, `calls of orgs in the moving slots (${movedCalls})`);
      assert.ok((await masters()).find((m) => m.port === to.port)!.slots >= to.slots + MOVE, 'the slots moved');

      await d.assertLoggedOnce(load.accepted);
      for (const { org, callId } of load.accepted.filter((_, i) => i % 10 === 0)) {
        const c = await d.req('GET', `/v1/calls/${callId}`, { key: org.key }, 1);
        assert.equal(c.status, 200, c.text);
        assert.equal(c.body.status, 'completed');
        assert.equal(c.body.crmLog?.status, 'logged');
      }

      // and back, so the next suite finds the cluster as it was
      await reshard(to.port, from.port, MOVE);
    });
  });
});
