// A SIP provider takes inbound calls over its own drachtio connection, so every gateway instance
// must hold one from start-up: a restarted instance connects before anything dials out, and one
// that learns of a deleted provider through the shared backend drops its connection.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSipKind } from '../../adapters/sip/index.js';
import type { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import type { FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { SECRET, startDouble, testPool } from './helpers.js';

describe('always-on SIP providers', () => {
  let double: FakeDrachtioServer;
  const open: TestGateway[] = [];
  const keyPrefix = `aon${Date.now().toString(36)}:`;
  const instance = async (pool: SipConnectionPool) => {
    const g = await startGateway({ keyPrefix, providerKinds: [createSipKind({ pool })], env: { DIALGATE_RECONCILE_EVERY_SEC: '1' } });
    open.push(g);
    return g;
  };

  before(async () => {
    double = await startDouble();
  });
  after(async () => {
    await Promise.all(open.map((g) => g.close()));
    await double.close();
  });

  test('a restarted instance connects at start-up; a provider deleted elsewhere is dropped', async () => {
    const poolA = testPool();
    const a = await instance(poolA);
    const org = await a.createOrg('always on');
    const p = await a.req('POST', '/v1/providers', {
      key: org.apiKey,
      body: { kind: 'sip', name: 'trunk', config: { drachtio: { host: '127.0.0.1', port: double.port, secret: SECRET }, trunk: { uri: 'sip:trunk.example.com' }, callerId: '+14165550000' } },
    });
    assert.equal(p.status, 201, p.text);
    await a.close();
    open.splice(open.indexOf(a), 1);
    assert.equal(poolA.connections().length, 0, 'the stopped instance let go of drachtio');

    // a new instance over the same backend: connected without a single dial
    const poolB = testPool();
    const b = await instance(poolB);
    await eventually(async () => poolB.connections().length === 1, 5000, 'the new instance to connect to drachtio');

    // a second live instance, and the provider deleted through the first: both let go
    const poolC = testPool();
    await instance(poolC);
    await eventually(async () => poolC.connections().length === 1, 5000, 'the second instance to connect');
    assert.equal((await b.req('DELETE', `/v1/providers/${p.body.id}`, { key: org.apiKey })).status, 204);
    await eventually(async () => poolB.connections().length === 0, 5000, 'the deleting instance to let go');
    await eventually(async () => poolC.connections().length === 0, 5000, 'the other instance to let go within a round');
  });
});
