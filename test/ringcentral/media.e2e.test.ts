// RingCentral recordings over HTTP on Redis: the real gateway with the signed webhook CRM against
// the fake RingCentral (bearer tokens checked, every request validated against the spec subset).
// Recording on: the answered party is recorded through Call Control, the call log gives the
// recording id after the end, and the gateway's signed link streams the audio with Range.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, eventually, type TestGateway } from '../helpers/gateway.js';
import { DEFAULT_RINGOUT_SCENARIO, FakeRingCentral } from '../fakes/ringcentral/server.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { AGENT_PHONE, CALLER_ID, CUSTOMER, DID, SECRET } from './harness.js';
import { assertStreamsWav, assertTamperedRefused } from '../helpers/recording-link.js';

describe('RingCentral recordings through the gateway (Redis, webhook CRM)', () => {
  let tg: TestGateway;
  let fake: FakeRingCentral;
  let crm: WebhookCrmFake;
  let key: string;

  before(async () => {
    fake = await new FakeRingCentral({ credentials: SECRET }).start();
    crm = await new WebhookCrmFake().start();
    tg = await startGateway({ store: 'redis' });
    key = (await tg.createOrg('ringcentral media')).apiKey;
    const u = await tg.req('PUT', '/v1/users/agent-r', { key, body: { region: 'US', phone: AGENT_PHONE, numbers: [DID] } });
    assert.equal(u.status, 201, u.text);
    assert.equal((await tg.req('PUT', '/v1/crm', { key, body: crm.config() })).status, 200);
    const config = { ...SECRET, serverUrl: fake.url, callerId: CALLER_ID, timeoutMs: 3000 };
    // RingCentral cannot honour voicemail through this adapter: refused
    const vm = await tg.req('POST', '/v1/providers', { key, body: { kind: 'ringcentral', name: 'RC vm', voicemail: 'on', config, install: { scope: 'all' } } });
    assert.equal(vm.status, 422, vm.text);
    assert.equal(vm.body.error.code, 'capability_unsupported');
    const r = await tg.req('POST', '/v1/providers', { key, body: { kind: 'ringcentral', name: 'RC recorded', recording: 'on', config, install: { scope: 'all' } } });
    assert.equal(r.status, 201, r.text);
  });

  after(async () => {
    assert.deepEqual(fake.specViolations, []);
    assert.equal(crm.duplicates, 0);
    await tg.close();
    await fake.close();
    await crm.close();
  });

  const getCall = async (id: string) => (await tg.req('GET', `/v1/calls/${id}`, { key })).body;

  test('provider kinds: RingCentral records, no voicemail', async () => {
    const kinds = await tg.req('GET', '/v1/provider-kinds', { key });
    const rc = kinds.body.find((k: { kind: string }) => k.kind === 'ringcentral');
    assert.equal(rc.capabilities.recording, true);
    assert.equal(rc.capabilities.voicemail, false);
  });

  test('recording on: Call Control records the answered party, the call log gives the recording, the link streams it with Range; a tampered token is refused; the CRM gets the link', async () => {
    // talk long enough for the gateway's record request to reach a live call on a loaded machine
    // (at the default 30 ms the call could end first, and RingCentral refuses to record it)
    fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, talkMs: 1500 };
    fake.recordingOutcome = 'stored';
    const ws = await tg.events(key);
    try {
      const r = await tg.req('POST', '/v1/calls', { key, body: { userId: 'agent-r', to: CUSTOMER, crmRecord: { module: 'Deals', id: 'D20' } } });
      assert.equal(r.status, 201, r.text);
      const id = r.body.id;
      const ev = await ws.next((m) => m.type === 'call.recording' && m.call.id === id && m.call.recording?.status === 'available', 15_000);
      const rec = ev.call.recording;
      assert.equal(rec.durationSec, fake.recordedDurationSec);
      assert.ok(rec.url.startsWith(`${tg.url}/v1/recordings/${id}?token=`), rec.url);
      assert.equal(ev.call.recordingRef, undefined, "RingCentral's recording id is never shown");
      const call = await getCall(id);
      const ro = fake.ringOuts.get(call.providerCallId)!;
      const started = fake.requestsFor('startCallRecording');
      assert.equal(started.length, 1);
      assert.equal(started[0].status, 201);
      assert.equal(started[0].path, `/restapi/v1.0/account/~/telephony/sessions/${ro.telephonySessionId}/parties/p-${ro.telephonySessionId.slice(2)}-2/recordings`, "the customer's (Target) party");
      assert.ok(fake.requestsFor('readCompanyCallLog').every((x) => x.status === 200));
      const made = [...fake.recordings.values()].find((x) => x.telephonySessionId === ro.telephonySessionId)!;

      await assertStreamsWav(rec.url, made.wav);
      // fetched from RingCentral with the bearer token, Range passed on
      const media = fake.requestsFor('listCallRecordingData');
      assert.deepEqual(media.map((x) => x.status), [200, 206, 416]);
      assert.ok(media.every((x) => x.authorization?.startsWith('Bearer ') && x.path === `/restapi/v1.0/account/~/recording/${made.id}/content`));
      await assertTamperedRefused(rec.url, SECRET.clientSecret);

      await eventually(
        async () => crm.logsOf(id)[0]?.body.recording?.url === rec.url || crm.updatesOf(id).some((u) => u.body.recording?.url === rec.url),
        8000,
        'the recording link in the CRM',
      );
      assert.equal(crm.logsOf(id).length, 1);
    } finally {
      ws.close();
    }
  });
});
