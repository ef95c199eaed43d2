// Twilio's price, recordings and voicemail over HTTP on Redis: the real gateway with the signed
// webhook CRM against the fake Twilio (which checks Basic auth and validates every request
// against the spec subset). A completed call's price (filled in late, as Twilio does) becomes its
// cost with source "provider" in the CRM log.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually, type TestGateway } from '../helpers/gateway.js';
import { FakeTwilio, twilioSign } from '../fakes/twilio/server.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { assertStreamsWav, assertTamperedRefused } from '../helpers/recording-link.js';

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
        recording: 'on',
        voicemail: 'on',
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

  const getCall = async (id: string) => (await tg.req('GET', `/v1/calls/${id}`, { key })).body;

  test('recording on: the bridged call is recorded (<Dial record>), the signed callback makes it available, the link streams the WAV from Twilio with Range', async () => {
    fake.pricing = { perMinute: 0.013, unit: 'USD', delayMs: 0 };
    fake.recordingOutcome = 'completed';
    fake.scenario = { ...fake.scenario, agent: 'answer', customer: 'answer', talkMs: 20, order: 'in-order', duplicate: false, durationSec: 5 };
    const ws = await tg.events(key);
    try {
      const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-m', to: CUSTOMER, crmRecord: { module: 'Deals', id: 'D10' } } });
      assert.equal(r.status, 201, r.text);
      const id = r.body.id;
      const ev = await ws.next((m) => m.type === 'call.recording' && m.call.id === id && m.call.recording?.status === 'available', 10_000);
      const rec = ev.call.recording;
      assert.equal(rec.durationSec, 5);
      assert.ok(rec.url.startsWith(`${tg.url}/v1/recordings/${id}?token=`), rec.url);
      assert.equal(ev.call.recordingRef, undefined, "Twilio's recording sid is never shown");
      const call = await getCall(id);
      const dial = fake.callBySid(call.providerCallId)!.dialed[0];
      assert.ok(dial.verb === 'Dial');
      assert.equal(dial.dial.record, 'record-from-answer-dual');
      assert.ok(dial.dial.recordingStatusCallback?.startsWith(`${webhookBase}/recording?callId=${id}`));
      assert.deepEqual(dial.dial.recordingStatusCallbackEvents, ['completed', 'absent']);
      const made = [...fake.recordings.values()].find((x) => x.callSid === call.providerCallId)!;

      await assertStreamsWav(rec.url, made.wav);
      // fetched from Twilio with the account's Basic auth, Range passed on; nothing of it in the answer
      const media = fake.requests.filter((x) => x.path.endsWith(`/Recordings/${made.sid}.wav`));
      assert.deepEqual(media.map((x) => x.status), [200, 206, 416]);
      assert.equal(media[1].headers.range, 'bytes=0-43');
      await assertTamperedRefused(rec.url, fake.authToken);

      // the CRM gets the link: in the log if it was ready, else as one update
      await eventually(
        async () => crm.logsOf(id)[0]?.body.recording?.url === rec.url || crm.updatesOf(id).some((u) => u.body.recording?.url === rec.url),
        8000,
        'the recording link in the CRM',
      );
      // a forged recording callback changes nothing
      const url = `${webhookBase}/recording?callId=${id}&kind=recording`;
      const params = { AccountSid: fake.accountSid, CallSid: call.providerCallId, RecordingSid: 'RE' + '0'.repeat(32), RecordingStatus: 'failed' };
      assert.equal((await fake.post('custom', url, params, { token: 'forged' })).statusCode, 403);
      assert.equal((await fake.post('custom', url, params, { signature: twilioSign(fake.authToken, url, { ...params, RecordingStatus: 'completed' }) })).statusCode, 403);
      assert.equal((await getCall(id)).recording.status, 'available');
      await fake.idle();
      assert.deepEqual(fake.problems, []);
    } finally {
      ws.close();
    }
  });

  test('Twilio made no recording (absent): the call says so', async () => {
    fake.recordingOutcome = 'absent';
    try {
      const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-m', to: CUSTOMER, crmRecord: { module: 'Deals', id: 'D11' } } });
      assert.equal(r.status, 201, r.text);
      const call = await eventually(async () => {
        const g = await getCall(r.body.id);
        return g.recording?.status === 'absent' ? g : null;
      }, 10_000, 'recording absent');
      assert.equal(call.recording.url, undefined);
      await fake.idle();
      assert.deepEqual(fake.problems, []);
    } finally {
      fake.recordingOutcome = 'completed';
    }
  });

  test("an inbound call the agent does not answer: the <Dial> rings for the user's ringTimeoutSec, then a greeting and <Record>: a missed call with a voicemail", async () => {
    fake.scenario = { ...fake.scenario, agent: 'no-answer', order: 'in-order', duplicate: false, voicemailSec: 3 };
    const ws = await tg.events(key);
    try {
      const r = await fake.placeInbound(`${webhookBase}/voice`, CALLER, DID);
      assert.equal(r.reply.statusCode, 200, r.reply.body);
      assert.deepEqual(r.problems, []);
      const dial = r.instructions[0];
      assert.ok(dial.verb === 'Dial');
      assert.equal(dial.dial.timeout, 7, "the user's ringTimeoutSec");
      const missed = await ws.next((m) => m.type === 'call.missed' && m.call.from === CALLER, 10_000);
      const id = missed.call.id;
      assert.equal(missed.call.status, 'no-answer');
      assert.equal(missed.call.missed, true);
      await fake.idle();
      const parent = fake.callBySid(r.callSid)!;
      const after = parent.twiml.find((t) => t.includes('<Record'));
      assert.match(after ?? parent.twiml.join('\n'), /<Say>[^<]+<\/Say><Record [^>]*maxLength="120"/);
      assert.match(parent.twiml.at(-1)!, /<Hangup\/>/, 'the Record action ends the call');
      const call = await eventually(async () => {
        const g = await getCall(id);
        return g.voicemail?.status === 'available' ? g : null;
      }, 8000, 'the voicemail');
      assert.equal(call.missed, true);
      assert.equal(call.voicemail.durationSec, 3);
      const vm = await fetch(call.voicemail.url);
      assert.equal(vm.status, 200);
      const made = [...fake.recordings.values()].find((x) => x.callSid === r.callSid && x.source === 'RecordVerb')!;
      assert.deepEqual(Buffer.from(await vm.arrayBuffer()), made.wav);
      await eventually(async () => crm.logsOf(id).length === 1, 8000, 'the missed log');
      assert.equal(crm.logsOf(id)[0].body.missed, true);
      await eventually(
        async () => crm.logsOf(id)[0].body.voicemailUrl === call.voicemail.url || crm.updatesOf(id).some((u) => u.body.voicemailUrl === call.voicemail.url),
        8000,
        'the voicemail link in the CRM',
      );
      assert.deepEqual(fake.problems, []);
    } finally {
      ws.close();
    }
  });
});
