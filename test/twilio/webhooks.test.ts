// Webhooks into the Twilio adapter: every one must carry a valid X-Twilio-Signature over the public
// URL (403 and no effect otherwise); inbound calls route by DID; TwiML is escaped.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { Ajv } from 'ajv';
import { Harness, newUser } from './harness.js';
import { twilioSign } from '../fakes/twilio/server.js';
import { readTwiml, parseXml } from '../fakes/twilio/twiml.js';
import { twilioKind } from '../../adapters/twilio/index.js';
import * as twiml from '../../adapters/twilio/twiml.js';

const CALLER = '+14155550199';
const DID = '+14155550177';

async function postJson(url: string, body: string, signature: string | null, route: (u: string) => string = (u) => u) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signature !== null) headers['x-twilio-signature'] = signature;
  const res = await request(route(url), { method: 'POST', headers, body });
  return { statusCode: res.statusCode, body: await res.body.text() };
}

describe('signature enforcement', () => {
  let h: Harness;
  let base: string;
  before(async () => {
    h = await new Harness().start();
    h.addUser(newUser('agent-in', '+14155550100', [DID]));
    base = `${h.publicBase}/webhooks/twilio/${h.providerId}`;
  });
  after(async () => {
    await h.close();
  });

  const statusParams = (sid: string) => ({ AccountSid: 'AC' + '0'.repeat(32), CallSid: sid, CallStatus: 'completed', CallDuration: '5', SequenceNumber: '3' });

  for (const sub of ['/voice', '/status', '/connect?callId=x', '/dial-status?callId=x']) {
    test(`${sub}: missing signature → 403, the sink is never called`, async () => {
      const before = h.sink.log.length;
      const d = await h.fake.post('custom', base + sub, { ...statusParams('CA' + 'a'.repeat(32)), From: CALLER, To: DID }, { signature: null });
      assert.equal(d.statusCode, 403);
      assert.equal(h.sink.log.length, before);
    });

    test(`${sub}: signed with another token → 403, the sink is never called`, async () => {
      const before = h.sink.log.length;
      const d = await h.fake.post('custom', base + sub, { ...statusParams('CA' + 'b'.repeat(32)), From: CALLER, To: DID }, { token: 'forged-token' });
      assert.equal(d.statusCode, 403);
      assert.equal(h.sink.log.length, before);
    });
  }

  test('a valid signature replayed with a tampered param → 403', async () => {
    const params = { CallSid: 'CA' + 'c'.repeat(32), CallStatus: 'ringing', From: CALLER, To: DID };
    const sig = twilioSign(h.fake.authToken, `${base}/voice`, params);
    const before = h.sink.log.length;
    const d = await h.fake.post('custom', `${base}/voice`, { ...params, To: '+14155550100' }, { signature: sig });
    assert.equal(d.statusCode, 403);
    assert.equal(h.sink.log.length, before);
  });

  test('a valid signature for another URL (query changed) → 403', async () => {
    const params = { CallSid: 'CA' + 'd'.repeat(32), CallStatus: 'completed' };
    const sig = twilioSign(h.fake.authToken, `${base}/status?callId=a`, params);
    const d = await h.fake.post('custom', `${base}/status?callId=b`, params, { signature: sig });
    assert.equal(d.statusCode, 403);
  });

  test('the 403 body names no secret and no expected signature', async () => {
    const params = { CallSid: 'CA' + 'e'.repeat(32) };
    const d = await h.fake.post('custom', `${base}/status`, params, { token: 'forged' });
    assert.equal(d.statusCode, 403);
    assert.ok(!d.body.includes(h.fake.authToken));
    assert.ok(!d.body.includes(twilioSign(h.fake.authToken, `${base}/status`, params)));
    assert.ok(!h.logLines.join('').includes(h.fake.authToken));
  });

  test('JSON body: the bodySHA256 variant is accepted; a tampered body or a missing hash is refused', async () => {
    const body = JSON.stringify({ CallSid: 'CA' + 'f'.repeat(32), CallStatus: 'ringing' });
    const hash = createHash('sha256').update(body).digest('hex');
    const url = `${base}/status?bodySHA256=${hash}`;
    const sig = twilioSign(h.fake.authToken, url, {});
    assert.equal((await postJson(url, body, sig)).statusCode, 204);
    assert.equal((await postJson(url, body.replace('ringing', 'completed'), sig)).statusCode, 403);
    assert.equal((await postJson(url, body, null)).statusCode, 403);
    const noHash = `${base}/status`;
    assert.equal((await postJson(noHash, body, twilioSign(h.fake.authToken, noHash, {}))).statusCode, 403);
  });

  test('GET webhooks: params in the signed URL; a forged one is refused', async () => {
    const url = `${base}/voice?CallSid=CA${'4'.repeat(32)}&From=${encodeURIComponent(CALLER)}&To=${encodeURIComponent(DID)}`;
    const get = async (sig: string) => {
      const res = await request(url, { method: 'GET', headers: { 'x-twilio-signature': sig } });
      return { statusCode: res.statusCode, body: await res.body.text() };
    };
    const ok = await get(twilioSign(h.fake.authToken, url, {}));
    assert.equal(ok.statusCode, 200);
    const dial = readTwiml(ok.body).instructions[0];
    assert.ok(dial.verb === 'Dial' && dial.dial.target.value === '+14155550100');
    const before = h.sink.log.length;
    assert.equal((await get(twilioSign('forged', url, {}))).statusCode, 403);
    assert.equal(h.sink.log.length, before);
  });

  test('control: the same request correctly signed is accepted', async () => {
    const params = { CallSid: 'CA' + '1'.repeat(32), CallStatus: 'ringing' };
    const d = await h.fake.post('custom', `${base}/status`, params);
    assert.equal(d.statusCode, 204);
  });
});

describe('behind a proxy: the URL comes from PUBLIC_URL, not the internal address', () => {
  let h: Harness;
  before(async () => {
    h = await new Harness({ publicBase: 'https://gateway.example.test' }).start();
  });
  after(async () => {
    await h.close();
  });

  test('click-to-call completes with every callback signed over the public https URL', async () => {
    const agent = h.addUser(newUser('agent-proxy', '+14155550100'));
    const call = await h.clickToCall(agent, '+14155550123');
    await h.waitFor('completed', () => h.call(call.id).status === 'completed');
    await h.fake.idle();
    const fc = h.fake.callBySid(h.call(call.id).providerCallId!)!;
    assert.match(String(fc.params.Url), /^https:\/\/gateway\.example\.test\/webhooks\/twilio\//);
    assert.deepEqual(h.fake.problems, []);
  });

  test('a signature over the internal address is refused', async () => {
    const path = `/webhooks/twilio/${h.providerId}/status`;
    const params = { CallSid: 'CA' + '2'.repeat(32), CallStatus: 'ringing' };
    const sig = twilioSign(h.fake.authToken, h.internalBase + path, params);
    const d = await h.fake.post('custom', `https://gateway.example.test${path}`, params, { signature: sig });
    assert.equal(d.statusCode, 403);
  });
});

describe('inbound calls', () => {
  let h: Harness;
  let voice: string;
  before(async () => {
    h = await new Harness().start();
    voice = `${h.publicBase}/webhooks/twilio/${h.providerId}/voice`;
  });
  after(async () => {
    await h.close();
  });

  test('DID → user: screen pop at once, TwiML dials the user with the caller id, then the agent leg drives the call to completed', async () => {
    const user = h.addUser(newUser('agent-inbound', '+14155550100', [DID]));
    h.fake.scenario = { ...h.fake.scenario, agent: 'answer', talkMs: 20, durationSec: 17 };
    const r = await h.fake.placeInbound(voice, CALLER, DID);
    assert.equal(r.reply.statusCode, 200);
    assert.match(r.reply.contentType, /^text\/xml/);
    assert.deepEqual(r.problems, []);
    // the screen pop happened before the TwiML was answered
    const pop = h.sink.screenPops.find((p) => p.call.providerCallId === r.callSid);
    assert.ok(pop);
    assert.equal(pop.user.id, user.id);
    assert.equal(pop.call.from, CALLER);
    assert.equal(pop.call.to, DID);
    const dial = r.instructions[0];
    assert.ok(dial.verb === 'Dial');
    assert.equal(dial.dial.callerId, CALLER);
    assert.equal(dial.dial.target.kind, 'number');
    assert.equal(dial.dial.target.value, '+14155550100');
    await h.fake.idle();
    const call = h.call(pop.call.id);
    assert.equal(call.status, 'completed');
    assert.deepEqual(call.history.map((x) => x.status), ['ringing', 'answered', 'completed']);
    assert.equal(call.durationSec, 17);
    assert.deepEqual(h.fake.problems, []);
  });

  test('agent does not answer an inbound call: no-answer', async () => {
    h.addUser(newUser('agent-inbound-2', '+14155550101', ['+14155550178']));
    const r = await h.fake.placeInbound(voice, CALLER, '+14155550178', { agent: 'no-answer' });
    await h.fake.idle();
    const pop = h.sink.screenPops.find((p) => p.call.providerCallId === r.callSid)!;
    assert.equal(h.call(pop.call.id).status, 'no-answer');
  });

  test('unknown DID: <Reject/> and no call', async () => {
    const before = h.sink.calls.size;
    const r = await h.fake.placeInbound(voice, CALLER, '+14155550000');
    assert.equal(r.reply.statusCode, 200);
    assert.deepEqual(r.instructions, [{ verb: 'Reject' }]);
    assert.equal(h.sink.calls.size, before);
  });

  test('hanging up an inbound call ringing the agent: canceled on the parent is a no-op, so it is completed', async () => {
    h.addUser(newUser('agent-inbound-3', '+14155550102', ['+14155550179']));
    const r = await h.fake.placeInbound(voice, CALLER, '+14155550179', { agent: 'ring' });
    const pop = h.sink.screenPops.find((p) => p.call.providerCallId === r.callSid)!;
    await h.adapter.hangUp(h.call(pop.call.id));
    const upd = h.fake.requests.filter((x) => x.path.endsWith(`/Calls/${r.callSid}.json`)).map((x) => x.form.Status);
    assert.deepEqual(upd, ['canceled', 'completed']);
    await h.fake.idle();
    assert.ok(['completed', 'canceled'].includes(h.call(pop.call.id).status));
  });

  test('/connect for an unknown or ended call answers <Hangup/>', async () => {
    const base = `${h.publicBase}/webhooks/twilio/${h.providerId}`;
    const d = await h.fake.post('custom', `${base}/connect?callId=nope`, { CallSid: 'CA' + '3'.repeat(32), CallStatus: 'in-progress' });
    assert.equal(d.statusCode, 200);
    assert.deepEqual(readTwiml(d.body).instructions, [{ verb: 'Hangup' }]);
  });

  test('unknown subpath → 404 (after the signature check)', async () => {
    const base = `${h.publicBase}/webhooks/twilio/${h.providerId}`;
    assert.equal((await h.fake.post('custom', `${base}/nope`, { A: '1' })).statusCode, 404);
    assert.equal((await h.fake.post('custom', `${base}/nope`, { A: '1' }, { signature: null })).statusCode, 403);
  });
});

describe('inbound with agentIdentity "client"', () => {
  test('dials <Client>user id</Client>', async () => {
    const h = await new Harness({ config: { agentIdentity: 'client' } }).start();
    try {
      h.addUser(newUser('agent.c', undefined, [DID]));
      const r = await h.fake.placeInbound(`${h.publicBase}/webhooks/twilio/${h.providerId}/voice`, CALLER, DID);
      const dial = r.instructions[0];
      assert.ok(dial.verb === 'Dial');
      assert.deepEqual([dial.dial.target.kind, dial.dial.target.value], ['client', 'agent.c']);
      await h.fake.idle();
    } finally {
      await h.close();
    }
  });
});

describe('TwiML', () => {
  test('attributes and text are XML-escaped', () => {
    const doc = twiml.dial({ callerId: '+1"><Hangup/>', action: 'https://x/a?b=1&c=2' }, { kind: 'client', value: `<Say>&'"` });
    const root = parseXml(doc);
    assert.equal(root.name, 'Response');
    assert.equal(root.children.length, 1);
    const d = root.children[0];
    assert.equal(d.attrs.callerId, '+1"><Hangup/>');
    assert.equal(d.attrs.action, 'https://x/a?b=1&c=2');
    assert.equal(d.children[0].text, `<Say>&'"`);
    assert.equal(twiml.xmlEscape(`&<>"'`), '&amp;&lt;&gt;&quot;&apos;');
  });
});

describe('provider kind definition', () => {
  const ajv = new Ajv({ strict: false });
  const validate = ajv.compile(twilioKind.configSchema);
  const good = { accountSid: 'AC' + 'a1'.repeat(16), authToken: 'tok', callerId: '+15005550006' };

  test('config schema', () => {
    assert.equal(twilioKind.kind, 'twilio');
    assert.ok(validate(good));
    assert.ok(validate({ ...good, apiKeySid: 'SK' + 'b2'.repeat(16), apiKeySecret: 's', agentIdentity: 'client', apiBaseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 }));
    assert.ok(!validate({ ...good, accountSid: 'AC123' }), 'short sid');
    assert.ok(!validate({ ...good, callerId: '5005550006' }), 'not E.164');
    assert.ok(!validate({ accountSid: good.accountSid, callerId: good.callerId }), 'no auth token (needed to verify webhooks)');
    assert.ok(!validate({ ...good, apiKeySid: 'SK' + 'b2'.repeat(16) }), 'API key sid without its secret');
    assert.ok(!validate({ ...good, agentIdentity: 'sip' }));
    assert.ok(!validate({ ...good, extra: 1 }));
    assert.deepEqual(twilioKind.secretFields, ['authToken', 'apiKeySecret']);
  });

  test('canReach: a phone is needed unless agents are Twilio Client identities', () => {
    const noPhone = newUser('u-nophone', undefined);
    const withPhone = newUser('u-phone', '+14155550100');
    const prov = (agentIdentity?: string) => ({ config: { ...good, ...(agentIdentity ? { agentIdentity } : {}) } }) as never;
    assert.equal(twilioKind.canReach!(noPhone, prov()), false);
    assert.equal(twilioKind.canReach!(withPhone, prov()), true);
    assert.equal(twilioKind.canReach!(noPhone, prov('client')), true);
  });

  test('describe() gives the voice URL and no secret', () => {
    const out = twilioKind.describe!({ config: { ...good, authToken: 'SECRET-xyz' } } as never, 'https://gw.example/webhooks/twilio/p1');
    assert.equal(out.voiceUrl, 'https://gw.example/webhooks/twilio/p1/voice');
    assert.ok(!JSON.stringify(out).includes('SECRET-xyz'));
  });
});
