// Screen-pop lookups: CrmConnectors.match is cached in shared state and time-boxed; notify sends
// live call states and never throws.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { zohoCrmKind } from '../../adapters/crm/zoho/index.js';
import { webhookCrmKind } from '../../adapters/crm/webhook/index.js';
import type { CrmConnectors } from '../../src/crm/connectors.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { backendFor, connectors, rid, setupOrg, type TestStore } from './helpers.js';

describe('CrmConnectors.match (inbound screen pops)', () => {
  let zoho: ZohoFake;
  let ts: TestStore;
  before(async () => {
    zoho = await new ZohoFake().start();
    ts = await backendFor('redis');
  });
  after(async () => {
    await zoho.close();
    await ts.close();
  });
  // a fresh instance per lookup (as separate gateway instances): a hit can only come from the shared cache
  const crm = (): CrmConnectors => connectors(ts.backend, [zohoCrmKind, webhookCrmKind]);
  const searches = () => zoho.log.filter((l) => l.path.endsWith('/search')).length;

  test('finds the contact, then answers from the cache without searching again (misses too)', async () => {
    const { orgId } = await setupOrg(ts.backend, zoho.config());
    const c = zoho.addRecord('Contacts', { First_Name: 'Pop', Last_Name: 'Up', Phone: '+12125550100' });
    assert.deepEqual(await crm().match(orgId, '+12125550100', 10_000), { module: 'Contacts', id: c.id, name: 'Pop Up' });
    const n = searches();
    assert.deepEqual(await crm().match(orgId, '+12125550100', 10_000), { module: 'Contacts', id: c.id, name: 'Pop Up' });
    assert.equal(searches(), n);
    assert.equal(await crm().match(orgId, '+12125550999', 10_000), null);
    const m = searches();
    assert.equal(await crm().match(orgId, '+12125550999', 10_000), null);
    assert.equal(searches(), m, 'a miss is cached as well');
  });

  test('time-boxed: a slow CRM yields null within the budget, and no CRM yields null', async () => {
    const { orgId } = await setupOrg(ts.backend, zoho.config());
    zoho.latencyMs = 3000;
    try {
      const t0 = Date.now();
      assert.equal(await crm().match(orgId, '+12125550101', 200), null);
      assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
    } finally {
      zoho.latencyMs = 0;
    }
    const none = await setupOrg(ts.backend, null);
    assert.equal(await crm().match(none.orgId, '+12125550101', 200), null);
  });

  test('notify sends PhoneBridge live states and never throws when the CRM is down', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, zoho.config({ mode: 'phonebridge' }), { crmUserId: 'zu-1' });
    const call = {
      id: rid('call_'), orgId, userId, providerId: 'p', providerKind: 'sim', direction: 'inbound' as const,
      from: '+12125550102', to: '+14155559999', status: 'ringing' as const,
      createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), history: [],
    };
    const getUser = () => ts.backend.directory.getUser(orgId, userId);
    await crm().notify(orgId, call, getUser);
    assert.deepEqual(zoho.callnotifies.filter((n) => n.id === call.id).map((n) => n.state), ['ringing']);
    zoho.failNext.push({ status: 503 });
    await crm().notify(orgId, { ...call, status: 'answered', answeredAt: new Date().toISOString() }, getUser);
  });
});
