// Issue 16 over HTTP on Redis with the sim and the signed-webhook CRM: provider kinds and their
// capabilities; a recorded call's link streams a real WAV with Range and no other credential,
// refuses a tampered, expired or misplaced token, and reaches the CRM; an unanswered inbound call
// becomes a missed call with a voicemail, a call.missed event and a missed log.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingLinks, recordingLinkKey } from '../../src/calls/recording-links.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';

describe('recordings, missed calls and voicemail (sim, webhook CRM, Redis)', () => {
  let gw: TestGateway;
  let crm: WebhookCrmFake;
  let key: string;
  let orgId: string;
  let simId: string;
  const DID = '+14165550299';

  before(async () => {
    crm = await new WebhookCrmFake().start();
    gw = await startGateway({ store: 'redis' });
    ({ apiKey: key, id: orgId } = await gw.createOrg('Recordings'));
    assert.equal((await gw.req('PUT', '/v1/users/alice', { key, body: { region: 'CA', phone: '+14165550100', numbers: [DID], ringTimeoutSec: 5 } })).status, 201);
    assert.equal((await gw.req('PUT', '/v1/crm', { key, body: crm.config() })).status, 200);
    const sim = await gw.req('POST', '/v1/providers', {
      key,
      body: { kind: 'sim', name: 'recorded', recording: 'on', voicemail: 'on', config: { ringAfterMs: 10, answerAfterMs: 40, durationMs: 1100, recordingDelayMs: 100 }, install: { scope: 'all' } },
    });
    assert.equal(sim.status, 201, sim.text);
    assert.deepEqual([sim.body.recording, sim.body.voicemail], ['on', 'on']);
    simId = sim.body.id;
  });

  after(async () => {
    assert.equal(crm.duplicates, 0);
    const logs = [...crm.deliveries.values()].filter((d) => d.body.type === 'call.logged');
    assert.equal(new Set(logs.map((d) => d.body.callId)).size, logs.length, 'no call logged twice');
    await gw?.close();
    await crm?.close();
  });

  const getCall = async (id: string) => (await gw.req('GET', `/v1/calls/${id}`, { key })).body;

  test('GET /v1/provider-kinds says what each kind can do; a setting a kind cannot honour is 422 capability_unsupported', async () => {
    const kinds = await gw.req('GET', '/v1/provider-kinds', { key });
    assert.equal(kinds.status, 200);
    const byKind = Object.fromEntries(kinds.body.map((k: { kind: string }) => [k.kind, k]));
    assert.deepEqual(byKind.sim.capabilities, { recording: true, voicemail: true, inbound: true });
    assert.equal(byKind.sip.capabilities.recording, false, 'drachtio has no media server');
    assert.equal(byKind.sip.name, 'SIP trunk (drachtio)');
    const sip = await gw.req('POST', '/v1/providers', {
      key,
      body: { kind: 'sip', name: 'trunk', recording: 'on', config: { drachtio: { host: '127.0.0.1', port: 9, secret: 'not-a-drachtio' }, trunk: { uri: 'sip:trunk.example.com' }, callerId: '+14165550000' } },
    });
    assert.equal(sip.status, 422, sip.text);
    assert.equal(sip.body.error.code, 'capability_unsupported');
    const patch = await gw.req('PATCH', `/v1/providers/${simId}`, { key, body: { voicemail: 'off' } });
    assert.equal(patch.status, 200, patch.text);
    assert.equal((await gw.req('PATCH', `/v1/providers/${simId}`, { key, body: { voicemail: 'on' } })).body.voicemail, 'on');
    assert.equal((await gw.req('GET', '/v1/provider-kinds')).status, 401);
  });

  test("a recorded call: call.recording, the CRM gets the link, which streams a WAV with Range and refuses a tampered token", async () => {
    const ws = await gw.events(key);
    try {
      const id = (await gw.req('POST', '/v1/calls', { key, body: { userId: 'alice', to: '+14165550123', crmRecord: { module: 'Deals', id: 'D1' } } })).body.id;
      const ev = await ws.next((m) => m.type === 'call.recording' && m.call.id === id && m.call.recording?.status === 'available', 8000);
      const rec = ev.call.recording;
      assert.equal(rec.durationSec, 1);
      assert.ok(rec.url.startsWith(`${gw.url}/v1/recordings/${id}?token=`), rec.url);
      assert.equal(ev.call.recordingRef, undefined, "the provider's reference is never shown");

      // the log went out at the end (recording pending), the link followed as one update
      await eventually(async () => crm.updatesOf(id).some((u) => u.body.recording?.status === 'available'), 5000, 'the recording update');
      assert.equal(crm.logsOf(id).length, 1);
      assert.equal(crm.logsOf(id)[0].body.recording?.status, 'pending');
      const upd = crm.updatesOf(id).find((u) => u.body.recording?.status === 'available')!;
      assert.match(upd.key, new RegExp(`^${id}:recording:\\d+$`));
      assert.equal(upd.body.recording.url, rec.url);

      // no Authorization header: the link is its own credential
      const full = await fetch(rec.url);
      assert.equal(full.status, 200);
      assert.equal(full.headers.get('content-type'), 'audio/wav');
      assert.equal(full.headers.get('accept-ranges'), 'bytes');
      const wav = Buffer.from(await full.arrayBuffer());
      assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
      assert.equal(wav.toString('ascii', 8, 12), 'WAVE');
      assert.deepEqual([wav.readUInt16LE(20), wav.readUInt16LE(22), wav.readUInt32LE(24), wav.readUInt16LE(34)], [1, 1, 8000, 16], 'PCM, mono, 8 kHz, 16 bit');
      assert.equal(wav.length, 44 + 8000 * 2 * 1);

      const part = await fetch(rec.url, { headers: { range: 'bytes=0-43' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), `bytes 0-43/${wav.length}`);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), wav.subarray(0, 44));
      assert.equal((await fetch(rec.url, { headers: { range: `bytes=${wav.length + 10}-` } })).status, 416);

      const token = new URL(rec.url).searchParams.get('token')!;
      const tampered = token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
      const bad = await fetch(`${gw.url}/v1/recordings/${id}?token=${tampered}`);
      assert.equal(bad.status, 403);
      assert.equal((await bad.json()).error.code, 'forbidden');
      assert.equal((await fetch(`${gw.url}/v1/recordings/${id}`)).status, 400, 'no token');

      const links = new RecordingLinks(recordingLinkKey(gw.adminToken), 3600, () => gw.url);
      const expired = links.token(orgId, id, 'recording', Date.now() - 7200_000);
      assert.equal((await fetch(`${gw.url}/v1/recordings/${id}?token=${expired}`)).status, 403, 'expired');
      // another org's call with a valid token of this org
      const other = await gw.createOrg('Other');
      await gw.req('PUT', '/v1/users/bob', { key: other.apiKey, body: { region: 'CA', phone: '+14165550101' } });
      await gw.req('POST', '/v1/providers', { key: other.apiKey, body: { kind: 'sim', name: 's', recording: 'on', config: { ringAfterMs: 5, answerAfterMs: 5, durationMs: 1000, recordingDelayMs: 10 }, install: { scope: 'all' } } });
      const theirs = (await gw.req('POST', '/v1/calls', { key: other.apiKey, body: { userId: 'bob', to: '+14165550124' } })).body.id;
      assert.equal((await fetch(`${gw.url}/v1/recordings/${theirs}?token=${token}`)).status, 403, "this org's token on another org's call");
      // a call without a recording: 404 (a valid token for it, minted here)
      const none = (await gw.req('POST', '/v1/calls', { key, body: { userId: 'alice', to: '+14165550125', crmRecord: { module: 'Deals', id: 'D2' } } })).body.id;
      await gw.req('DELETE', `/v1/calls/${none}`, { key });
      assert.equal((await fetch(links.url(orgId, none, 'voicemail'))).status, 404);
    } finally {
      ws.close();
    }
  });

  test('an unanswered inbound call: missed, with a voicemail, a call.missed event and a missed log', async () => {
    const ws = await gw.events(key);
    try {
      const r = await gw.req('POST', `/webhooks/sim/${simId}/inbound`, { body: { from: '+14165550777', to: DID, agentAnswers: false } });
      assert.equal(r.status, 200, r.text);
      const id = r.body.callId;
      // missed at alice's ring timeout (5 s), not at the sim's answerAfterMs
      const missed = await ws.next((m) => m.type === 'call.missed' && m.call.id === id, 9000);
      const rang = Date.parse(missed.call.endedAt) - Date.parse(missed.call.createdAt);
      assert.ok(rang >= 4900 && rang < 8000, `rang ${rang} ms`);
      assert.equal(missed.call.missed, true);
      assert.equal(missed.call.status, 'no-answer');
      await eventually(async () => (await getCall(id)).voicemail?.status === 'available', 5000, 'the voicemail');
      const call = await getCall(id);
      assert.equal(call.missed, true);
      assert.equal(call.voicemail.durationSec, 3);
      const vm = await fetch(call.voicemail.url);
      assert.equal(vm.status, 200);
      assert.equal(Buffer.from(await vm.arrayBuffer()).length, 44 + 8000 * 2 * 3);
      await eventually(async () => crm.logsOf(id).length === 1, 5000, 'the missed log');
      assert.equal(crm.logsOf(id)[0].body.missed, true);
      // the voicemail link reaches the CRM: in the log if it was ready, else as one update
      await eventually(
        async () => crm.logsOf(id)[0].body.voicemailUrl === call.voicemail.url || crm.updatesOf(id).some((u) => u.body.voicemailUrl === call.voicemail.url),
        5000,
        'the voicemail link in the CRM',
      );
      const bad = await gw.req('POST', `/webhooks/sim/${simId}/inbound`, { body: { from: '+14165550777', to: DID, agentAnswers: 'no' } });
      assert.equal(bad.status, 400);
    } finally {
      ws.close();
    }
  });

  test('ringTimeoutSec: 5–120 on PUT /v1/users (absent: 25); an answer that would come after it is a missed call at the timeout', async () => {
    for (const bad of [4, 121, 10.5, '30']) {
      const r = await gw.req('PUT', '/v1/users/dave', { key, body: { region: 'CA', ringTimeoutSec: bad } });
      assert.equal(r.status, 400, `ringTimeoutSec ${bad}`);
    }
    assert.equal((await gw.req('GET', '/v1/users/alice', { key })).body.ringTimeoutSec, 5);
    // another org: its agent answers after 60 s, its provider takes no voicemail
    const slow = await gw.createOrg('Slow answers');
    const DID2 = '+14165550298';
    const u = await gw.req('PUT', '/v1/users/carol', { key: slow.apiKey, body: { region: 'CA', phone: '+14165550102', numbers: [DID2], ringTimeoutSec: 5 } });
    assert.equal(u.status, 201, u.text);
    const p = await gw.req('POST', '/v1/providers', { key: slow.apiKey, body: { kind: 'sim', name: 'slow', config: { answerAfterMs: 60_000 }, install: { scope: 'all' } } });
    assert.equal(p.status, 201, p.text);
    const ws = await gw.events(slow.apiKey);
    try {
      const r = await gw.req('POST', `/webhooks/sim/${p.body.id}/inbound`, { body: { from: '+14165550778', to: DID2 } });
      assert.equal(r.status, 200, r.text);
      const missed = await ws.next((m) => m.type === 'call.missed' && m.call.id === r.body.callId, 9000);
      assert.equal(missed.call.status, 'no-answer');
      const rang = Date.parse(missed.call.endedAt) - Date.parse(missed.call.createdAt);
      assert.ok(rang >= 4900 && rang < 8000, `rang ${rang} ms`);
      await new Promise((res) => setTimeout(res, 400));
      const call = (await gw.req('GET', `/v1/calls/${r.body.callId}`, { key: slow.apiKey })).body;
      assert.equal(call.missed, true);
      assert.equal(call.voicemail, undefined, 'voicemail off: no voicemail');
      assert.ok(!call.history.some((h: { status: string }) => h.status === 'answered'));
    } finally {
      ws.close();
    }
  });
});
