// RingCentral end to end: the real gateway (HTTP API, webhook ingress, call core on Redis, events
// over WebSocket) against the fake RingCentral, which performs the subscription handshake and
// posts telephony session notifications to the gateway the way RingCentral does.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { DEFAULT_RINGOUT_SCENARIO, FakeRingCentral } from '../fakes/ringcentral/server.js';
import { ringcentralSpec } from '../fakes/openapi.js';
import { AGENT_PHONE, CALLER_ID, CUSTOMER, DID, SECRET } from './harness.js';

describe('RingCentral through the gateway (Redis)', () => {
  let tg: TestGateway;
  let fake: FakeRingCentral;
  let key: string;
  let providerId: string;
  let createText: string;

  const config = () => ({ ...SECRET, serverUrl: fake.url, callerId: CALLER_ID, timeoutMs: 3000 });

  async function waitCall(id: string, status: string) {
    return eventually(
      async () => {
        const g = await tg.req('GET', `/v1/calls/${id}`, { key });
        return g.body?.status === status ? g.body : null;
      },
      15_000,
      `call ${id} ${status}`,
    );
  }

  before(async () => {
    fake = await new FakeRingCentral({ credentials: SECRET }).start();
    tg = await startGateway({ store: 'redis' });
    key = (await tg.createOrg('ringcentral e2e')).apiKey;
    const u = await tg.req('PUT', '/v1/users/agent-1', { key, body: { region: 'US', name: 'Agent', phone: AGENT_PHONE, numbers: [DID] } });
    assert.ok(u.status === 201 || u.status === 200, u.text);
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: { kind: 'ringcentral', name: 'RingCentral US', config: config(), regions: { allow: ['US', 'CA'] }, install: { scope: 'all' } },
    });
    assert.equal(r.status, 201, r.text);
    createText = r.text;
    providerId = r.body.id;
    assert.deepEqual(r.body.install.assigned, ['agent-1']);
  });

  after(async () => {
    assert.deepEqual(fake.specViolations, []);
    await tg.close();
    await fake.close();
  });

  test('installing the provider created the subscription through a valid handshake', async () => {
    assert.equal(fake.handshakes.length, 1);
    const hs = fake.handshakes[0];
    assert.ok(hs.ok, hs.reason ?? '');
    assert.ok(hs.bytes <= 1024, `the gateway's handshake reply is ${hs.bytes} bytes`);
    const [sub] = [...fake.subscriptions.values()];
    assert.equal(sub.address, `${tg.url}/webhooks/ringcentral/${providerId}/events`);
    assert.equal(sub.status, 'Active');
    const details = await tg.req('GET', `/v1/providers/${providerId}`, { key });
    assert.equal(details.status, 200);
    assert.equal(details.body.details.webhookUrl, sub.address);
    for (const text of [createText, details.text, (await tg.req('GET', '/v1/providers', { key })).text]) {
      assert.ok(!text.includes(SECRET.clientSecret) && !text.includes(SECRET.jwt), 'secrets are never shown back');
      assert.ok(!text.includes(sub.verificationToken!), 'nor the verification token');
    }
  });

  test('click-to-call: RingOut → session events → completed, with events on the WebSocket', async () => {
    fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO };
    const sock = await tg.events(key);
    try {
      const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
      assert.equal(r.status, 201, r.text);
      const done = await waitCall(r.body.id, 'completed');
      assert.deepEqual(done.history.map((x: { status: string }) => x.status), ['queued', 'dialing', 'ringing', 'answered', 'completed']);
      const ro = fake.ringOuts.get(done.providerCallId)!;
      assert.ok(ro, 'providerCallId is the RingOut id');
      assert.equal(ro.from, AGENT_PHONE);
      assert.equal(ro.to, CUSTOMER);
      const create = fake.requestsFor('createRingOutCall').at(-1)!;
      const spec = ringcentralSpec();
      assert.ok(spec.validateRequest(spec.find('POST', create.path)!, 'application/json', create.body).ok);
      await sock.next((m) => m.type === 'call.status' && m.call.id === r.body.id && m.call.status === 'completed', 10_000);
    } finally {
      sock.close();
    }
  });

  test('inbound: the session event pops the screen over WebSocket and the call completes', async () => {
    const sock = await tg.events(key);
    try {
      const tsid = fake.placeInbound({ from: CUSTOMER, did: DID, answer: true, talkMs: 50 });
      const pop = await sock.next((m) => m.type === 'call.incoming', 10_000);
      assert.equal(pop.call.direction, 'inbound');
      assert.equal(pop.call.from, CUSTOMER);
      assert.equal(pop.call.to, DID);
      assert.equal(pop.call.userId, 'agent-1');
      assert.equal(pop.call.providerCallId, tsid);
      const done = await waitCall(pop.call.id, 'completed');
      assert.ok(done.history.some((x: { status: string }) => x.status === 'answered'));
    } finally {
      sock.close();
    }
  });

  test('cancel: DELETE /v1/calls while the agent rings cancels the RingOut', async () => {
    fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, agent: 'ring' };
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
    assert.equal(r.status, 201, r.text);
    const ringing = await waitCall(r.body.id, 'ringing');
    const d = await tg.req('DELETE', `/v1/calls/${r.body.id}`, { key });
    assert.equal(d.status, 202, d.text);
    await waitCall(r.body.id, 'canceled');
    const del = fake.requestsFor('deleteRingOutCall').filter((x) => x.path.endsWith(`/${ringing.providerCallId}`));
    assert.deepEqual(del.map((x) => x.status), [204]);
  });

  test('a missing or forged Verification-Token is refused with 403 through the gateway', async () => {
    const address = `${tg.url}/webhooks/ringcentral/${providerId}/events`;
    const envelope = { uuid: '1', event: '/restapi/v1.0/account/1/telephony/sessions', body: { sequence: 1, telephonySessionId: 's-x', parties: [] } };
    assert.equal((await fake.postRaw(address, envelope, {})).statusCode, 403);
    assert.equal((await fake.postRaw(address, envelope, { 'verification-token': 'nope' })).statusCode, 403);
  });

  test('an invalid destination is a 422 and RingCentral errors never leak credentials', async () => {
    fake.invalidNumbers.add('+14155550000');
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: '+14155550000' } });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.code, 'invalid_number');
    assert.ok(!r.text.includes(SECRET.clientSecret));
  });

  test('bad credentials: installing answers 422 provider_auth_failed with RingCentral\'s own code, without echoing the secret', async () => {
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: { kind: 'ringcentral', name: 'RC bad', config: { ...config(), clientSecret: 'definitely-wrong-secret' }, install: { scope: 'specific', userIds: [] } },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.code, 'provider_auth_failed');
    assert.equal(r.body.error.providerCode, 'invalid_client');
    assert.ok(!r.text.includes('definitely-wrong-secret') && !r.text.includes(SECRET.jwt));
    const list = await tg.req('GET', '/v1/providers', { key });
    assert.ok(!list.body.items.some((p: { name: string }) => p.name === 'RC bad'), 'nothing stored');
  });

  // the core reports a provider's throttling as 503 provider_unavailable (the client itself is
  // not over any limit of ours), with the provider's Retry-After
  test('429: the call is refused with Retry-After and nothing is sent to RingOut inside the window', async () => {
    fake.rateLimitNext('createRingOutCall', 30);
    const first = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
    assert.equal(first.status, 503, first.text);
    assert.equal(first.body.error.code, 'provider_unavailable');
    assert.ok(Number(first.headers.get('retry-after')) > 0, 'Retry-After is passed on');
    const sent = fake.requestsFor('createRingOutCall').length;
    const second = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
    assert.equal(second.status, 503, second.text);
    assert.equal(fake.requestsFor('createRingOutCall').length, sent, 'no RingOut request inside the penalty window');
  });

  test('uninstalling the provider deletes the subscription', async () => {
    const d = await tg.req('DELETE', `/v1/providers/${providerId}?force=true`, { key });
    assert.equal(d.status, 204, d.text);
    assert.equal(fake.subscriptions.size, 0);
  });
});
