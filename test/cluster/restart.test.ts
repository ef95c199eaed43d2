// A Redis Cluster master restarts (SHUTDOWN, its append-only file flushed, and up again) under
// load from two gateway processes. The throwaway cluster has no replicas, so while the master is
// away the orgs in its slots cannot be served: their requests answer 503 (retry), never 500, and
// the other masters' orgs carry on. Nothing accepted is lost — the simulator redelivers its
// webhooks like a real provider, the outbox re-drives call logs — and nothing is logged twice.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterOwned } from '../helpers/redis.js';
import { masters, restartMaster, slotOf, withClusterLock } from '../helpers/cluster.js';
import { ClusterDeployment, type LoadOrg } from './load.js';

const orgSlot = (orgId: string) => slotOf(`{org:${orgId}}`);

describe('a master restart under load (Redis Cluster, two gateway processes)', () => {
  const d = new ClusterDeployment();
  before(async () => {
    if (clusterOwned()) await d.start({ DIALGATE_RECONCILE_EVERY_SEC: '2' });
  });
  after(async () => {
    if (clusterOwned()) await d.stop();
  });

  test('503 only for the restarting master\'s orgs while it is away; every accepted call logged exactly once', { timeout: 300_000 }, async (t) => {
    if (!clusterOwned()) return t.skip('restarting a master needs the throwaway cluster of `npm test`, not a shared one (REDIS_CLUSTER_NODES)');
    await withClusterLock(async () => {
      const ms = await masters();
      const victim = ms[0];
      const onVictim = (id: string) => victim.ranges.some(([lo, hi]) => orgSlot(id) >= lo && orgSlot(id) <= hi);
      const orgs: (LoadOrg & { victim: boolean })[] = [];
      const count = (v: boolean) => orgs.filter((o) => o.victim === v).length;
      for (let i = 0; i < 100 && (count(true) < 2 || count(false) < 2); i++) {
        const o = await d.org(`restart ${i}`);
        const v = onVictim(o.id);
        if (count(v) >= 2) continue;
        orgs.push({ ...(await d.equip(o)), victim: v });
      }
      const load = d.load(orgs, 8);
      await new Promise((r) => setTimeout(r, 1000));
      await restartMaster(victim.port);
      await new Promise((r) => setTimeout(r, 2000));
      await load.stop();
      console.log(`# master ${victim.port} restarted under load: ${load.accepted.length} calls accepted, statuses ${JSON.stringify(Object.fromEntries(load.statuses))}`);

      const bad = load.errors.filter((e) => !e.startsWith('503 ') || !e.includes('store_unavailable'));
      assert.deepEqual(bad, [], 'while a master is away its orgs get 503 store_unavailable, nothing else');
      // after the restart every org works again: a click per org
      for (const o of orgs) {
        const r = await d.req('POST', '/v1/calls', { key: o.key, body: { userId: o.users[0], to: '+14169675555' } }, 1);
        assert.equal(r.status, 201, r.text);
        load.accepted.push({ org: o, callId: r.body.id });
      }
      // a log written while the master was away may be sent again (its settlement failed): the
      // CRM refuses it by its Idempotency-Key, so it still holds one record per call
      await d.assertLoggedOnce(load.accepted, load.accepted.length);
      console.log(`# ${d.crm.duplicates} call logs sent again and refused as duplicates by the CRM`);
    });
  });
});
