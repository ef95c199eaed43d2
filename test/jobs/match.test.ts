// Screen-pop lookups: matchCaller is cached in shared state and time-boxed.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { zohoCrmKind } from '../../adapters/crm/zoho/index.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import { matchCaller, notifyCrm, type CallLogDeps } from '../../src/jobs/call-log-worker.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { redisStore, rid, setupOrg, silentLogger, type TestStore } from './helpers.js';

describe('matchCaller (inbound screen pops)', () => {
  let zoho: ZohoFake;
  let ts: TestStore;
  before(async () => {
    zoho = await new ZohoFake().start();
    ts = redisStore();
  });
  after(async () => {
    await zoho.close();
    await ts.close();
  });
  const deps = (): CallLogDeps => ({ store: ts.store, crmKinds: [zohoCrmKind, webhookCrmKind], logger: silentLogger });
  const searches = () => zoho.log.filter((l) => l.path.endsWith('/search')).length;

  test('finds the contact, then answers from the cache without searching again (misses too)', async () => {
    const { orgId } = await setupOrg(ts.store, zoho.config());
    const c = zoho.addRecord('Contacts', { First_Name: 'Pop', Last_Name: 'Up', Phone: '+12125550100' });
    assert.deepEqual(await matchCaller(deps(), orgId, '+12125550100', 10_000), { module: 'Contacts', id: c.id, name: 'Pop Up' });
    const n = searches();
    assert.deepEqual(await matchCaller(deps(), orgId, '+12125550100', 10_000), { module: 'Contacts', id: c.id, name: 'Pop Up' });
    assert.equal(searches(), n);
    assert.equal(await matchCaller(deps(), orgId, '+12125550999', 10_000), null);
    const m = searches();
    assert.equal(await matchCaller(deps(), orgId, '+12125550999', 10_000), null);
    assert.equal(searches(), m, 'a miss is cached as well');
  });

  test('time-boxed: a slow CRM yields null within the budget, and no CRM yields null', async () => {
    const { orgId } = await setupOrg(ts.store, zoho.config());
    zoho.latencyMs = 3000;
    try {
      const t0 = Date.now();
      assert.equal(await matchCaller(deps(), orgId, '+12125550101', 200), null);
      assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
    } finally {
      zoho.latencyMs = 0;
    }
    const none = await setupOrg(ts.store, null);
    assert.equal(await matchCaller(deps(), none.orgId, '+12125550101', 200), null);
  });

  test('notifyCrm sends PhoneBridge live states and never throws when the CRM is down', async () => {
    const { orgId, userId } = await setupOrg(ts.store, zoho.config({ mode: 'phonebridge' }), { crmUserId: 'zu-1' });
    const call = {
      id: rid('call_'), orgId, userId, providerId: 'p', providerKind: 'sim', direction: 'inbound' as const,
      from: '+12125550102', to: '+14155559999', status: 'ringing' as const,
      createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), history: [],
    };
    await notifyCrm(deps(), orgId, call);
    assert.deepEqual(zoho.callnotifies.filter((n) => n.id === call.id).map((n) => n.state), ['ringing']);
    zoho.failNext.push({ status: 503 });
    await notifyCrm(deps(), orgId, { ...call, status: 'answered', answeredAt: new Date().toISOString() });
  });
});
