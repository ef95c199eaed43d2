// Two gateway processes (`node --import tsx src/main.ts`, as deployed) on one Redis, then on a
// 3-master Redis Cluster: what one instance learns from a provider reaches agent sockets
// connected to the other, through sharded pub/sub. The set-up goes through instance A only, the
// sockets through instance B only.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connectEvents, httpJson } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { FAST, randomDid, uid } from '../calls/setup.js';

for (const kind of ['redis', 'cluster'] as const) describe(`two gateway processes sharing one ${kind === 'redis' ? 'Redis' : 'Redis Cluster'}`, () => {
  const adminToken = 'two-instances-' + randomBytes(12).toString('hex');
  let a: GatewayProcess | undefined;
  let b: GatewayProcess | undefined;
  before(async () => {
    [a, b] = await Promise.all([startGatewayProcess(adminToken, kind), startGatewayProcess(adminToken, kind)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('an inbound webhook to A pops the screen on a socket of B; a click-to-call via A shows its progress on B', async () => {
    const A = (m: string, p: string, o: Parameters<typeof httpJson>[3] = {}) => httpJson(a!.url, m, p, o);
    const org = await A('POST', '/v1/orgs', { key: adminToken, body: { name: 'two instances' } });
    assert.equal(org.status, 201, org.text);
    const key = org.body.apiKey as string;
    const did = randomDid();
    const userId = uid();
    assert.equal((await A('PUT', `/v1/users/${userId}`, { key, body: { region: 'CA', numbers: [did] } })).status, 201);
    const prov = await A('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'sim', config: FAST, install: { scope: 'specific', userIds: [userId] } } });
    assert.equal(prov.status, 201, prov.text);

    // B reads what A wrote (one store) ...
    const seen = await httpJson(b!.url, 'GET', `/v1/users/${userId}`, { key });
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.body.providerId, prov.body.id);

    // ... and B's socket hears what happens on A
    const sock = await connectEvents(b!.url, key);
    const narrow = await connectEvents(b!.url, key, userId);
    try {
      const pop = await A('POST', `/webhooks/sim/${prov.body.id}/inbound`, { body: { from: '+14169671111', to: did } });
      assert.equal(pop.status, 200, pop.text);
      const incoming = await sock.next((m) => m.type === 'call.incoming' && m.call.id === pop.body.callId, 10_000);
      assert.equal(incoming.call.to, did);
      assert.equal(incoming.call.userId, userId);
      await narrow.next((m) => m.type === 'call.incoming' && m.call.id === pop.body.callId, 10_000);

      const call = await A('POST', '/v1/calls', { key, body: { userId, to: '(416) 967-1111' } });
      assert.equal(call.status, 201, call.text);
      await sock.next((m) => m.type === 'call.created' && m.call.id === call.body.id, 10_000);
      for (const status of ['ringing', 'answered', 'completed']) {
        await sock.next((m) => m.type === 'call.status' && m.call.id === call.body.id && m.call.status === status, 10_000);
      }
      // each event once on B, though it crossed Redis (no echo duplicates)
      const created = sock.messages.filter((m) => m.type === 'call.created' && m.call.id === call.body.id);
      assert.equal(created.length, 1);
      const completed = sock.messages.filter((m) => m.type === 'call.status' && m.call.id === call.body.id && m.call.status === 'completed');
      assert.equal(completed.length, 1);

      // and B serves the finished call from the shared store
      const fromB = await httpJson(b!.url, 'GET', `/v1/calls/${call.body.id}`, { key });
      assert.equal(fromB.status, 200);
      assert.equal(fromB.body.status, 'completed');
    } catch (e) {
      (e as Error).message += `\n--- A:\n${a!.output()}\n--- B:\n${b!.output()}`;
      throw e;
    } finally {
      sock.close();
      narrow.close();
    }
  });

  test('another org on the same Redis hears nothing of it', async () => {
    const A = (m: string, p: string, o: Parameters<typeof httpJson>[3] = {}) => httpJson(a!.url, m, p, o);
    const mk = async (name: string) => (await A('POST', '/v1/orgs', { key: adminToken, body: { name } })).body.apiKey as string;
    const k1 = await mk('org one');
    const k2 = await mk('org two');
    const userId = uid();
    const did = randomDid();
    assert.equal((await A('PUT', `/v1/users/${userId}`, { key: k1, body: { region: 'CA', numbers: [did] } })).status, 201);
    const prov = await A('POST', '/v1/providers', { key: k1, body: { kind: 'sim', name: 'sim', config: FAST, install: { scope: 'specific', userIds: [userId] } } });
    const s1 = await connectEvents(b!.url, k1);
    const s2 = await connectEvents(b!.url, k2);
    try {
      const pop = await A('POST', `/webhooks/sim/${prov.body.id}/inbound`, { body: { from: '+14169671111', to: did } });
      assert.equal(pop.status, 200, pop.text);
      await s1.next((m) => m.type === 'call.status' && m.call.id === pop.body.callId && m.call.status === 'completed', 10_000);
      assert.deepEqual(
        s2.messages.filter((m) => m.type !== 'hello' && m.type !== 'calls.snapshot'),
        [],
      );
    } finally {
      s1.close();
      s2.close();
    }
  });
});
