// Twilio's price, recordings and voicemail over HTTP on Redis: the real gateway with the signed
// webhook CRM against the fake Twilio (which checks Basic auth and validates every request
// against the spec subset). A completed call's price (filled in late, as Twilio does) becomes its
// cost with source "provider" in the CRM log.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually, type TestGateway } from '../helpers/gateway.js';
import { FakeTwilio } from '../fakes/twilio/server.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';

const AGENT_PHONE = '+14155550140';
const DID = '+14155550178';
const CALLER = '+14155550198';
const CUSTOMER = '+14155550124';

describe('Twilio price, recordings and voicemail through the gateway (Redis, webhook CRM)', () => {
  let tg: TestGateway;
  let fake: FakeTwilio;
  let crm: WebhookCrmFake;
  let key: string;
  let providerId: string;
  let webhookBase: string;

  before(async () => {
    fake = await new FakeTwilio().start();
    crm = await new WebhookCrmFake().start();
    tg = await startGateway({ store: 'redis' });
    key = (await tg.createOrg('twilio media')).apiKey;
    const u = await tg.req('PUT', '/v1/users/agent-m', { key, body: { region: 'US', phone: AGENT_PHONE, numbers: [DID], ringTimeoutSec: 7 } });
    assert.equal(u.status, 201, u.text);
    assert.equal((await tg.req('PUT', '/v1/crm', { key, body: crm.config() })).status, 200);
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: {
        kind: 'twilio',
        name: 'Twilio recorded',
        config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: '+15005550006', apiBaseUrl: fake.url, timeoutMs: 3000 },
        install: { scope: 'all' },
      },
    });
    assert.equal(r.status, 201, r.text);
    providerId = r.body.id;
    webhookBase = `${tg.url}/webhooks/twilio/${providerId}`;
  });

  after(async () => {
    assert.equal(crm.duplicates, 0);
    const logs = [...crm.deliveries.values()].filter((d) => d.body.type === 'call.logged');
    assert.equal(new Set(logs.map((d) => d.body.callId)).size, logs.length, 'no call logged twice');
    await fake.close();
    await tg.close();
    await crm.close();
  });

  test("a completed call's price, filled in late, is its cost (source provider) in the call and the CRM log; the rate table is not used", async () => {
    const rates = await tg.req('PUT', `/v1/providers/${providerId}/rates`, { key, body: { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.5 }] } });
    assert.equal(rates.status, 200, rates.text);
    // null for 1.5 s after the end, as Twilio's "may not be immediately available"
    fake.pricing = { perMinute: 0.013, unit: 'USD', delayMs: 1500 };
    fake.scenario = { ...fake.scenario, agent: 'answer', customer: 'answer', talkMs: 30, order: 'in-order', duplicate: false, durationSec: 61 };
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-m', to: CUSTOMER, crmRecord: { module: 'Deals', id: 'D9' } } });
    assert.equal(r.status, 201, r.text);
    const id = r.body.id;
    await eventually(async () => crm.logsOf(id).length === 1, 20_000, 'the CRM log');
    // two legs (the agent's and the customer's), two started minutes each at 0.013: Twilio's -0.02600 twice
    const expected = { amount: 0.052, currency: 'USD', source: 'provider' };
    assert.deepEqual(crm.logsOf(id)[0].body.call.cost, expected);
    const call = await eventually(async () => {
      const g = (await tg.req('GET', `/v1/calls/${id}`, { key })).body;
      return g.crmLog?.status === 'logged' ? g : null;
    }, 5000, 'the call logged');
    assert.deepEqual(call.cost, expected);
    assert.equal(call.status, 'completed');
    // looked up with the account's credentials, more than once (null at first), children listed
    const reads = fake.requests.filter((x) => x.method === 'GET' && x.path.endsWith(`/Calls/${call.providerCallId}.json`));
    assert.ok(reads.length >= 2, `${reads.length} reads of the call`);
    assert.ok(reads.every((x) => x.status === 200));
    assert.ok(fake.requests.some((x) => x.path.endsWith('/Calls.json') && x.method === 'GET' && x.status === 200));
    await fake.idle();
    assert.deepEqual(fake.problems, []);
  });
});
