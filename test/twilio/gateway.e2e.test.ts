// The Twilio provider end to end: the real gateway (HTTP API, webhook ingress, call core on Redis,
// events over WebSocket) against the fake Twilio, which drives the gateway's webhooks like Twilio.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually, type TestGateway } from '../helpers/gateway.js';
import { FakeTwilio, twilioSign } from '../fakes/twilio/server.js';
import { twilioSpec } from '../fakes/openapi.js';

const AGENT_PHONE = '+14155550100';
const DID = '+14155550177';
const CALLER = '+14155550199';
const CUSTOMER = '+14155550123';

describe('Twilio through the gateway (Redis)', () => {
  let tg: TestGateway;
  let fake: FakeTwilio;
  let key: string;
  let providerId: string;
  let webhookBase: string;

  before(async () => {
    fake = await new FakeTwilio().start();
    tg = await startGateway({ store: 'redis' });
    key = (await tg.createOrg('twilio e2e')).apiKey;
    for (const [id, phone, numbers] of [
      ['agent-1', AGENT_PHONE, [DID]],
      ['agent-2', '+14155550101', []],
    ] as const) {
      const r = await tg.req('PUT', `/v1/users/${id}`, { key, body: { region: 'US', name: id, phone, numbers } });
      assert.ok(r.status === 201 || r.status === 200, r.text);
    }
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: {
        kind: 'twilio',
        name: 'Twilio US',
        config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: '+15005550006', apiBaseUrl: fake.url, timeoutMs: 3000 },
        regions: { allow: ['US', 'CA'] },
        install: { scope: 'all' },
      },
    });
    assert.equal(r.status, 201, r.text);
    providerId = r.body.id;
    assert.deepEqual([...r.body.install.assigned].sort(), ['agent-1', 'agent-2']);
    webhookBase = `${tg.url}/webhooks/twilio/${providerId}`;
  });

  after(async () => {
    await fake.close();
    await tg.close();
  });

  test('provider details show the voice URL and never the auth token', async () => {
    const r = await tg.req('GET', `/v1/providers/${providerId}`, { key });
    assert.equal(r.status, 200);
    assert.equal(r.body.details.voiceUrl, `${webhookBase}/voice`);
    assert.ok(!r.text.includes(fake.authToken));
    const list = await tg.req('GET', '/v1/providers', { key });
    assert.ok(!list.text.includes(fake.authToken));
  });

  test('click-to-call: POST /v1/calls → agent leg, TwiML dials the customer, callbacks → completed with history', async () => {
    fake.scenario = { ...fake.scenario, agent: 'answer', customer: 'answer', talkMs: 30, order: 'in-order', duplicate: false, durationSec: 61 };
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
    assert.equal(r.status, 201, r.text);
    const id = r.body.id;
    const done = await eventually(async () => {
      const g = await tg.req('GET', `/v1/calls/${id}`, { key });
      return g.body?.status === 'completed' ? g.body : null;
    }, 15_000, 'call completed');
    assert.deepEqual(done.history.map((h: { status: string }) => h.status), ['queued', 'dialing', 'ringing', 'answered', 'completed']);
    assert.equal(done.durationSec, 61);
    const fc = fake.callBySid(done.providerCallId)!;
    assert.ok(fc, 'providerCallId is the Twilio CallSid');
    assert.equal(fc.to, AGENT_PHONE);
    assert.equal(fc.idempotencyToken, id);
    const create = fake.requests.find((x) => x.path.endsWith('/Calls.json') && x.headers['i-twilio-idempotency-token'] === id)!;
    const spec = twilioSpec();
    assert.ok(spec.validateRequest(spec.find('POST', create.path)!, create.contentType, create.form).ok);
    const dial = fc.dialed[0];
    assert.ok(dial?.verb === 'Dial' && dial.dial.target.value === CUSTOMER && dial.dial.callerId === '+15005550006');
    await fake.idle();
    assert.deepEqual(fake.problems, []);
  });

  test('out-of-order, duplicated callbacks: the call still ends completed and never moves backwards', async () => {
    fake.scenario = { ...fake.scenario, agent: 'answer', customer: 'answer', talkMs: 10, order: 'reverse', duplicate: true };
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-2', to: CUSTOMER } });
    assert.equal(r.status, 201, r.text);
    await fake.idle();
    const done = await eventually(async () => {
      const g = await tg.req('GET', `/v1/calls/${r.body.id}`, { key });
      return g.body?.status === 'completed' ? g.body : null;
    }, 15_000, 'call completed');
    const st: string[] = done.history.map((h: { status: string }) => h.status);
    assert.equal(st.filter((s) => s === 'completed').length, 1);
    const rank = ['queued', 'dialing', 'ringing', 'answered', 'completed'];
    for (let i = 1; i < st.length; i++) assert.ok(rank.indexOf(st[i]) > rank.indexOf(st[i - 1]), `history ${st}`);
    assert.deepEqual(fake.problems, []);
  });

  test('inbound: screen pop over WebSocket at once, TwiML <Dial> to the agent, then completed', async () => {
    fake.scenario = { ...fake.scenario, agent: 'answer', talkMs: 20, order: 'in-order', duplicate: false, durationSec: 9 };
    const ev = await tg.events(key, 'agent-1');
    try {
      const r = await fake.placeInbound(`${webhookBase}/voice`, CALLER, DID);
      assert.equal(r.reply.statusCode, 200, r.reply.body);
      assert.deepEqual(r.problems, []);
      const dial = r.instructions[0];
      assert.ok(dial.verb === 'Dial');
      assert.equal(dial.dial.target.value, AGENT_PHONE);
      assert.equal(dial.dial.callerId, CALLER);
      assert.equal(dial.dial.record, undefined, 'recording off: the call is not recorded');
      assert.equal(dial.dial.timeout, 25, "the user's ringTimeoutSec (default)");
      const pop = await ev.next((m) => m.type === 'call.incoming' && m.call?.from === CALLER, 5000);
      assert.equal(pop.call.userId, 'agent-1');
      assert.equal(pop.call.to, DID);
      assert.equal(pop.call.direction, 'inbound');
      await fake.idle();
      const done = await eventually(async () => {
        const g = await tg.req('GET', `/v1/calls/${pop.call.id}`, { key });
        return g.body?.status === 'completed' ? g.body : null;
      }, 10_000, 'inbound completed');
      assert.equal(done.providerCallId, r.callSid);
      assert.equal(done.durationSec, 9);
    } finally {
      ev.close();
    }
  });

  test('inbound to an unknown DID: <Reject/>', async () => {
    const r = await fake.placeInbound(`${webhookBase}/voice`, CALLER, '+14155550000');
    assert.equal(r.reply.statusCode, 200);
    assert.deepEqual(r.instructions, [{ verb: 'Reject' }]);
  });

  test('DELETE /v1/calls/{id} while ringing cancels it at Twilio (Status=canceled)', async () => {
    fake.scenario = { ...fake.scenario, agent: 'ring', order: 'in-order', duplicate: false };
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
    assert.equal(r.status, 201, r.text);
    const id = r.body.id;
    await eventually(async () => (await tg.req('GET', `/v1/calls/${id}`, { key })).body?.status === 'ringing', 10_000, 'ringing');
    const del = await tg.req('DELETE', `/v1/calls/${id}`, { key });
    assert.equal(del.status, 202, del.text);
    const done = await eventually(async () => {
      const g = await tg.req('GET', `/v1/calls/${id}`, { key });
      return g.body?.status === 'canceled' ? g.body : null;
    }, 10_000, 'canceled');
    const upd = fake.requests.filter((x) => x.method === 'POST' && x.path.endsWith(`/Calls/${done.providerCallId}.json`));
    assert.deepEqual(upd.map((x) => x.form.Status), ['canceled']);
    await fake.idle();
  });

  test('forged and missing signatures → 403 and the call does not change', async () => {
    fake.scenario = { ...fake.scenario, agent: 'ring' };
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-2', to: CUSTOMER } });
    const id = r.body.id;
    const ringing = await eventually(async () => {
      const g = await tg.req('GET', `/v1/calls/${id}`, { key });
      return g.body?.status === 'ringing' ? g.body : null;
    }, 10_000, 'ringing');
    const params = { AccountSid: fake.accountSid, CallSid: ringing.providerCallId, CallStatus: 'completed', CallDuration: '99', SequenceNumber: '9' };
    const url = `${webhookBase}/status?callId=${id}`;
    assert.equal((await fake.post('custom', url, params, { token: 'forged-token' })).statusCode, 403);
    assert.equal((await fake.post('custom', url, params, { signature: null })).statusCode, 403);
    // a real signature for other params does not carry over
    assert.equal((await fake.post('custom', url, params, { signature: twilioSign(fake.authToken, url, { ...params, CallStatus: 'ringing' }) })).statusCode, 403);
    const after = await tg.req('GET', `/v1/calls/${id}`, { key });
    assert.equal(after.body.status, 'ringing');
    assert.deepEqual(after.body.history, ringing.history);
    // a forged inbound call to a real DID: 403, no call created, no screen pop
    const inboundBefore = (await tg.req('GET', '/v1/calls?userId=agent-1&limit=100', { key })).body.items.length;
    const forged = await fake.post('custom', `${webhookBase}/voice`, { CallSid: 'CA' + 'f'.repeat(32), From: CALLER, To: DID }, { token: 'forged' });
    assert.equal(forged.statusCode, 403);
    assert.ok(!forged.body.includes('<Dial'));
    const inboundAfter = (await tg.req('GET', '/v1/calls?userId=agent-1&limit=100', { key })).body.items.length;
    assert.equal(inboundAfter, inboundBefore);
    await tg.req('DELETE', `/v1/calls/${id}`, { key });
    await fake.idle();
  });

  test('429 from Twilio is retried and the call still goes out', async () => {
    fake.scenario = { ...fake.scenario, agent: 'no-answer' };
    fake.rateLimit(2);
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-1', to: CUSTOMER } });
    assert.equal(r.status, 201, r.text);
    await fake.idle();
    await eventually(async () => (await tg.req('GET', `/v1/calls/${r.body.id}`, { key })).body?.status === 'no-answer', 10_000, 'no-answer');
  });

  test('invalid number at Twilio → 422 invalid_number', async () => {
    fake.refuseNumber('+14155550101', 21211);
    try {
      const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-2', to: CUSTOMER } });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.error.code, 'invalid_number');
    } finally {
      fake.refusedNumbers.delete('+14155550101');
    }
  });

  test('bad credentials: refused at install (422 provider_auth_failed, Twilio code 20003, nothing stored); installed offline (?verify=false), a dial answers 502', async () => {
    const org2 = await tg.createOrg('twilio wrong token');
    await tg.req('PUT', '/v1/users/agent-x', { key: org2.apiKey, body: { region: 'US', phone: '+14155550102' } });
    const wrong = 'wrong-token-' + 'z'.repeat(20);
    const body = { kind: 'twilio', name: 'bad', config: { accountSid: fake.accountSid, authToken: wrong, callerId: '+15005550006', apiBaseUrl: fake.url }, install: { scope: 'all' } };
    const refused = await tg.req('POST', '/v1/providers', { key: org2.apiKey, body });
    assert.equal(refused.status, 422, refused.text);
    assert.equal(refused.body.error.code, 'provider_auth_failed');
    assert.equal(refused.body.error.providerCode, '20003');
    assert.ok(!refused.text.includes(wrong) && !refused.text.includes(fake.authToken));
    assert.deepEqual((await tg.req('GET', '/v1/providers', { key: org2.apiKey })).body.items, [], 'nothing stored');
    // unreachable: a port nobody listens on
    const gone = await tg.req('POST', '/v1/providers', { key: org2.apiKey, body: { ...body, config: { ...body.config, authToken: fake.authToken, apiBaseUrl: 'http://127.0.0.1:9' } } });
    assert.equal(gone.status, 422, gone.text);
    assert.equal(gone.body.error.code, 'provider_unreachable');
    assert.deepEqual((await tg.req('GET', '/v1/providers', { key: org2.apiKey })).body.items, [], 'nothing stored');
    // a good provider whose config is changed to wrong credentials: refused, the old config stays
    const good = await tg.req('POST', '/v1/providers', { key: org2.apiKey, body: { ...body, name: 'good', config: { ...body.config, authToken: fake.authToken }, install: { scope: 'specific', userIds: [] } } });
    assert.equal(good.status, 201, good.text);
    const patch = await tg.req('PATCH', `/v1/providers/${good.body.id}`, { key: org2.apiKey, body: { config: { ...body.config } } });
    assert.equal(patch.status, 422, patch.text);
    assert.equal(patch.body.error.providerCode, '20003');
    assert.equal((await tg.gw.parts.backend.directory.getProvider(good.body.orgId ?? (await tg.gw.parts.backend.directory.getProviderOrg(good.body.id))!, good.body.id))!.config.authToken, fake.authToken);
    assert.equal((await tg.req('DELETE', `/v1/providers/${good.body.id}`, { key: org2.apiKey })).status, 204);

    const p = await tg.req('POST', '/v1/providers?verify=false', { key: org2.apiKey, body });
    assert.equal(p.status, 201, p.text);
    assert.ok(!p.text.includes(wrong));
    const r = await tg.req('POST', '/v1/calls', { key: org2.apiKey, body: { userId: 'agent-x', to: CUSTOMER } });
    assert.equal(r.status, 502, r.text);
    assert.equal(r.body.error.code, 'provider_auth_failed');
    assert.ok(!r.text.includes(wrong));
    assert.ok(!r.text.includes(fake.authToken));
  });

  test('agentIdentity "client": a user without a phone is rung as client:<user id>', async () => {
    const org3 = await tg.createOrg('twilio client identity');
    await tg.req('PUT', '/v1/users/web-agent', { key: org3.apiKey, body: { region: 'US', name: 'Web agent' } });
    const p = await tg.req('POST', '/v1/providers', {
      key: org3.apiKey,
      body: {
        kind: 'twilio',
        name: 'client',
        config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: '+15005550006', apiBaseUrl: fake.url, agentIdentity: 'client' },
        install: { scope: 'all' },
      },
    });
    assert.equal(p.status, 201, p.text);
    fake.scenario = { ...fake.scenario, agent: 'answer', customer: 'answer', talkMs: 10, order: 'in-order', duplicate: false };
    const r = await tg.req('POST', '/v1/calls', { key: org3.apiKey, body: { userId: 'web-agent', to: CUSTOMER } });
    assert.equal(r.status, 201, r.text);
    const done = await eventually(async () => {
      const g = await tg.req('GET', `/v1/calls/${r.body.id}`, { key: org3.apiKey });
      return g.body?.status === 'completed' ? g.body : null;
    }, 10_000, 'completed');
    assert.equal(fake.callBySid(done.providerCallId)!.to, 'client:web-agent');
    await fake.idle();
  });

  test('a config without the auth token is refused at install (webhooks could never be verified)', async () => {
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: { kind: 'twilio', name: 'no token', config: { accountSid: fake.accountSid, callerId: '+15005550006' }, install: { scope: 'specific', userIds: [] } },
    });
    assert.equal(r.status, 400, r.text);
  });
});
