// Click-to-call through the Twilio adapter against the fake Twilio: request shape (validated against
// the official spec), idempotency, agent first then customer via TwiML, status mapping and ordering,
// hang up / cancel.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { twilioSpec } from '../fakes/openapi.js';
import { Harness, newUser } from './harness.js';
import { readTwiml } from '../fakes/twilio/twiml.js';

const CUSTOMER = '+14155550123';

function statuses(h: Harness, id: string): string[] {
  return h.call(id).history.map((x) => x.status);
}

describe('click-to-call', () => {
  let h: Harness;
  before(async () => {
    h = await new Harness().start();
  });
  after(async () => {
    await h.close();
  });

  test('the create request: To = agent, From = callerId, Url, StatusCallback with 4 events, auth, idempotency token; valid per the spec', async () => {
    const agent = h.addUser(newUser('agent-1', '+14155550100'));
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring' };
    const call = await h.clickToCall(agent, CUSTOMER, { idempotencyToken: 'idem-123' });
    const req = h.fake.requests.find((r) => r.path.endsWith('/Calls.json'))!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, `/2010-04-01/Accounts/${h.fake.accountSid}/Calls.json`);
    assert.equal(req.status, 201);
    assert.match(req.contentType, /^application\/x-www-form-urlencoded/);
    assert.equal(req.headers.authorization, 'Basic ' + Buffer.from(`${h.fake.accountSid}:${h.fake.authToken}`).toString('base64'));
    assert.equal(req.headers['i-twilio-idempotency-token'], 'idem-123');
    assert.equal(req.form.To, '+14155550100');
    assert.equal(req.form.From, '+15005550006');
    assert.equal(req.form.Url, `${h.publicBase}/webhooks/twilio/${h.providerId}/connect?callId=${call.id}`);
    assert.equal(req.form.StatusCallback, `${h.publicBase}/webhooks/twilio/${h.providerId}/status?callId=${call.id}`);
    assert.deepEqual(req.form.StatusCallbackEvent, ['initiated', 'ringing', 'answered', 'completed']);
    // arrays as repeated keys, as twilio-node sends them
    assert.match(req.rawBody, /StatusCallbackEvent=initiated&StatusCallbackEvent=ringing&StatusCallbackEvent=answered&StatusCallbackEvent=completed/);
    assert.ok(Number(req.form.Timeout) >= 5);
    const spec = twilioSpec();
    const op = spec.find('POST', req.path)!;
    assert.deepEqual(spec.validateRequest(op, req.contentType, req.form), { ok: true, errors: [] });
    assert.equal(h.call(call.id).providerCallId, h.fake.calls.at(-1)!.sid);
    await h.adapter.hangUp(h.call(call.id));
    await h.waitFor('canceled', () => h.call(call.id).status === 'canceled');
    assert.deepEqual(h.fake.problems, []);
  });

  test('agent first, then the customer through <Dial>: dialing → ringing → answered → completed with the duration', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'answer', customer: 'answer', talkMs: 20, order: 'in-order', duplicate: false, durationSec: 42 };
    const agent = h.addUser(newUser('agent-2', '+14155550101'));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.waitFor('completed', () => h.call(call.id).status === 'completed');
    await h.fake.idle();
    assert.deepEqual(statuses(h, call.id), ['queued', 'dialing', 'ringing', 'answered', 'completed']);
    assert.equal(h.call(call.id).durationSec, 42);
    const fc = h.fake.callBySid(h.call(call.id).providerCallId!)!;
    // the first leg rang the agent; the TwiML then dialled the customer with our caller id
    assert.equal(fc.to, '+14155550101');
    assert.equal(fc.dialed.length, 1);
    const dial = fc.dialed[0];
    assert.ok(dial.verb === 'Dial');
    assert.deepEqual(dial.dial.target, { kind: 'number', value: CUSTOMER, statusCallback: undefined, statusCallbackEvents: ['completed'] });
    assert.equal(dial.dial.callerId, '+15005550006');
    assert.match(fc.twiml[0], /^<\?xml version="1.0" encoding="UTF-8"\?><Response><Dial /);
    // every delivery (TwiML fetch, status callbacks, dial action) was accepted
    for (const d of h.fake.deliveriesFor(fc.sid)) assert.ok(d.statusCode >= 200 && d.statusCode < 300, `${d.kind} ${d.url} → ${d.statusCode}`);
    const seqs = h.sink.statusEvents.filter((e) => e.providerCallId === fc.sid && e.seq !== undefined).map((e) => e.seq);
    assert.deepEqual(seqs, [0, 1, 2, 3]);
    assert.deepEqual(h.fake.problems, []);
  });

  test('callbacks out of order and duplicated never move the call backwards', async () => {
    for (const order of ['reverse', 'shuffle'] as const) {
      h.fake.scenario = { ...h.fake.scenario, agent: 'answer', customer: 'answer', talkMs: 10, order, duplicate: true };
      const agent = h.addUser(newUser(`agent-ooo-${order}`, '+14155550102'));
      const call = await h.clickToCall(agent, CUSTOMER);
      await h.fake.idle();
      await h.waitFor('terminal', () => h.call(call.id).status === 'completed');
      const st = statuses(h, call.id);
      // whatever arrived first, the history only moves forward and ends once
      assert.equal(st.filter((s) => s === 'completed').length, 1, `${order}: ${st}`);
      assert.equal(st.at(-1), 'completed');
      const fc = h.fake.callBySid(h.call(call.id).providerCallId!)!;
      const statusDeliveries = h.fake.deliveriesFor(fc.sid, 'status');
      assert.equal(statusDeliveries.length, 8, 'four events, each twice');
      const firstSeq = Number(statusDeliveries[0].params.SequenceNumber);
      assert.notEqual(firstSeq, 0, `${order}: the fake really delivered out of order`);
    }
    assert.deepEqual(h.fake.problems, []);
  });

  test('customer busy: the <Dial action> reports it and the call ends busy', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'answer', customer: 'busy', order: 'in-order', duplicate: false };
    const agent = h.addUser(newUser('agent-busy', '+14155550103'));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.fake.idle();
    await h.waitFor('busy', () => h.call(call.id).status === 'busy');
    assert.deepEqual(statuses(h, call.id), ['queued', 'dialing', 'ringing', 'answered', 'busy']);
    assert.deepEqual(h.fake.problems, []);
  });

  test('agent does not answer: no-answer; agent busy: busy', async () => {
    for (const outcome of ['no-answer', 'busy', 'failed'] as const) {
      h.fake.scenario = { ...h.fake.scenario, agent: outcome, order: 'in-order', duplicate: false };
      const agent = h.addUser(newUser(`agent-${outcome}`, '+14155550104'));
      const call = await h.clickToCall(agent, CUSTOMER);
      await h.fake.idle();
      await h.waitFor(outcome, () => h.call(call.id).status === outcome);
      assert.deepEqual(statuses(h, call.id), ['queued', 'dialing', 'ringing', outcome]);
      assert.equal(h.fake.callBySid(h.call(call.id).providerCallId!)!.twiml.length, 0, 'no TwiML fetched for an unanswered call');
    }
  });

  test('same idempotency token twice: one Twilio call', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring' };
    const agent = h.addUser(newUser('agent-idem', '+14155550105'));
    const before = h.fake.calls.length;
    const a = await h.clickToCall(agent, CUSTOMER, { idempotencyToken: 'same-token' });
    const b = await h.clickToCall(agent, CUSTOMER, { idempotencyToken: 'same-token' });
    assert.equal(h.fake.calls.length, before + 1);
    assert.equal(h.call(a.id).providerCallId, h.call(b.id).providerCallId);
    const reqs = h.fake.requests.filter((r) => r.headers['i-twilio-idempotency-token'] === 'same-token');
    assert.equal(reqs.length, 2);
    await h.adapter.hangUp(h.call(a.id));
    await h.fake.idle();
  });

  test('hang up while ringing cancels (Status=canceled)', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring', order: 'in-order', duplicate: false };
    const agent = h.addUser(newUser('agent-cancel', '+14155550106'));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.waitFor('ringing', () => h.call(call.id).status === 'ringing');
    await h.adapter.hangUp(h.call(call.id));
    const upd = h.fake.requests.filter((r) => r.path.endsWith(`/Calls/${h.call(call.id).providerCallId}.json`));
    assert.deepEqual(upd.map((r) => r.form.Status), ['canceled']);
    const spec = twilioSpec();
    assert.ok(spec.validateRequest(spec.find('POST', upd[0].path)!, upd[0].contentType, upd[0].form).ok);
    await h.waitFor('canceled', () => h.call(call.id).status === 'canceled');
    await h.fake.idle();
    assert.equal(h.fake.callBySid(h.call(call.id).providerCallId!)!.status, 'canceled');
  });

  test('hang up an answered call (Status=completed)', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'answer', customer: 'answer', talkMs: 'hold' };
    const agent = h.addUser(newUser('agent-hangup', '+14155550107'));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.waitFor('answered', () => h.call(call.id).status === 'answered');
    await h.waitFor('dial', () => h.fake.callBySid(h.call(call.id).providerCallId!)!.dialed.length > 0);
    await h.adapter.hangUp(h.call(call.id));
    const upd = h.fake.requests.filter((r) => r.path.endsWith(`/Calls/${h.call(call.id).providerCallId}.json`));
    assert.deepEqual(upd.map((r) => r.form.Status), ['completed']);
    await h.waitFor('completed', () => h.call(call.id).status === 'completed');
    await h.fake.idle();
  });

  test('cancel that loses the race with the answer: canceled is a no-op on a live call, so it follows with completed', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'answer', customer: 'answer', talkMs: 'hold', order: 'in-order' };
    const agent = h.addUser(newUser('agent-race', '+14155550108'));
    const call = await h.clickToCall(agent, CUSTOMER);
    const sid = h.call(call.id).providerCallId!;
    await h.waitFor('live at Twilio', () => h.fake.callBySid(sid)!.status === 'in-progress');
    // our view is still "ringing" (the answered callback may not have been applied yet)
    const stale = { ...h.call(call.id), status: 'ringing' as const };
    await h.adapter.hangUp(stale);
    const upd = h.fake.requests.filter((r) => r.path.endsWith(`/Calls/${sid}.json`));
    assert.deepEqual(upd.map((r) => r.form.Status), ['canceled', 'completed']);
    await h.waitFor('completed', () => h.fake.callBySid(sid)!.status === 'completed');
    await h.fake.idle();
  });

  test('hang up of an ended or unlinked call sends nothing', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring' };
    const n = h.fake.requests.length;
    const agent = h.addUser(newUser('agent-nop', '+14155550109'));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.adapter.hangUp({ ...h.call(call.id), providerCallId: undefined });
    await h.adapter.hangUp({ ...h.call(call.id), status: 'completed' });
    assert.equal(h.fake.requests.length, n + 1, 'only the create');
    await h.adapter.hangUp(h.call(call.id));
    await h.fake.idle();
  });

  test('a trial call rings the destination directly and the TwiML pauses then hangs up', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'answer', order: 'in-order', duplicate: false };
    const call = await h.clickToCall(null, CUSTOMER, { hangUpAfterMs: 2000 });
    await h.waitFor('completed', () => h.call(call.id).status === 'completed');
    await h.fake.idle();
    const fc = h.fake.callBySid(h.call(call.id).providerCallId!)!;
    assert.equal(fc.to, CUSTOMER);
    assert.match(String(fc.params.Url), /\/connect\?callId=[^&]+&trial=2$/);
    const { instructions } = readTwiml(fc.twiml[0]);
    assert.deepEqual(instructions, [{ verb: 'Pause', seconds: 2 }, { verb: 'Hangup' }]);
  });

  test('callbacks land by our call id even before the core linked the CallSid', async () => {
    // the "core" never links here, so every callback is one that raced the dial response
    const slow = await new Harness({ linkDelayMs: 'never' }).start();
    try {
      slow.fake.stepMs = 0;
      const agent = slow.addUser(newUser('agent-slow', '+14155550110'));
      const call = await slow.clickToCall(agent, CUSTOMER);
      await slow.waitFor('completed', () => slow.call(call.id).status === 'completed');
      await slow.fake.idle();
      assert.deepEqual(statuses(slow, call.id), ['queued', 'dialing', 'ringing', 'answered', 'completed']);
      assert.ok(slow.sink.misses >= 4);
    } finally {
      await slow.close();
    }
  });
});

describe('agentIdentity "client"', () => {
  let h: Harness;
  before(async () => {
    h = await new Harness({ config: { agentIdentity: 'client' } }).start();
  });
  after(async () => {
    await h.close();
  });

  test('rings client:<user id> and still dials the customer by number', async () => {
    const agent = h.addUser(newUser('agent.client', undefined));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.waitFor('completed', () => h.call(call.id).status === 'completed');
    await h.fake.idle();
    const fc = h.fake.callBySid(h.call(call.id).providerCallId!)!;
    assert.equal(fc.to, 'client:agent.client');
    const d = fc.dialed[0];
    assert.ok(d.verb === 'Dial' && d.dial.target.kind === 'number' && d.dial.target.value === CUSTOMER);
    assert.deepEqual(h.fake.problems, []);
  });
});

describe('Twilio fetchStatus (the reconciler asks where a call stands)', () => {
  let h: Harness;
  before(async () => {
    h = await new Harness().start();
  });
  after(async () => {
    await h.close();
  });

  test('GET the Call resource: its status mapped (valid per the spec); a call Twilio does not have is unknown', async () => {
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring' };
    const agent = h.addUser(newUser('agent-fs', '+14155550109'));
    const call = await h.clickToCall(agent, CUSTOMER);
    await h.waitFor('ringing', () => h.call(call.id).status === 'ringing');
    assert.deepEqual(await h.adapter.fetchStatus!(h.call(call.id)), { state: 'known', status: 'ringing' });
    const get = h.fake.requests.at(-1)!;
    assert.equal(get.method, 'GET');
    assert.equal(get.path, `/2010-04-01/Accounts/${h.fake.accountSid}/Calls/${h.call(call.id).providerCallId}.json`);
    assert.equal(get.status, 200);
    await h.adapter.hangUp(h.call(call.id));
    await h.waitFor('canceled', () => h.call(call.id).status === 'canceled');
    const ended = await h.adapter.fetchStatus!({ ...h.call(call.id), status: 'ringing' });
    assert.equal(ended.state === 'known' && ended.status, 'canceled');
    assert.deepEqual(await h.adapter.fetchStatus!({ ...h.call(call.id), providerCallId: 'CA' + '0'.repeat(32) }), { state: 'unknown' });
    h.fake.serverError(1, 503);
    assert.equal((await h.adapter.fetchStatus!(h.call(call.id))).state, 'unsure', 'Twilio down: ask again later');
    assert.deepEqual(h.fake.problems, []);
  });
});
