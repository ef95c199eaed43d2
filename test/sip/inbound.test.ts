// Inbound calls: DID → user → B2BUA to the user's sipUri, 404 for an unknown DID, 403 for a
// source outside inboundAllow, cancel and hang-up, through the real drachtio-srf and the double.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SipAdapter } from '../../adapters/sip/index.js';
import type { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import { scripts, type FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { AGENT_URI, adapterOn, call, srfDialogs, startDouble, testPool, user, waitFor, type RecordingSink } from './helpers.js';

const DID = '+15557770000';
const CALLER = '+15554443333';

describe('sip inbound', () => {
  let double: FakeDrachtioServer;
  let pool: SipConnectionPool;
  let adapter: SipAdapter;
  let sink: RecordingSink;

  before(async () => {
    double = await startDouble();
    pool = testPool();
    ({ adapter, sink } = await adapterOn(double, pool, { inboundAllow: ['127.0.0.16/28', '::1'], agentLegTimeoutMs: 1_500 }));
    sink.dids.set(DID, user({ sipUri: AGENT_URI, numbers: [DID] }));
  });

  after(async () => {
    await adapter.close();
    pool.closeAll();
    await double.close();
  });

  afterEach(async () => {
    await waitFor(() => adapter.activeCalls() === 0, 'no active calls');
    await waitFor(() => srfDialogs(adapter) === 0, 'srf dialogs released');
    await waitFor(() => {
      const l = double.leaks();
      return l.dialogs.length === 0 && l.pending.length === 0;
    }, `double has no dialogs/transactions left: ${JSON.stringify(double.leaks())}`);
    double.ua('agent').script = scripts.answer();
    sink.failInbound = false;
  });

  function agentCallId(): string {
    return double.entries('agent').filter((e) => e.dir === 'out' && e.msg.method === 'INVITE').at(-1)!.msg.callId;
  }

  test('a call from the trunk to a DID reaches its user; caller hangs up → agent BYE, completed', async () => {
    const agentBefore = double.entries('agent').length;
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => sink.statuses(inv.callId).includes('answered'), 'answered');
    assert.deepEqual(sink.inboundEvents.at(-1), { providerCallId: inv.callId, from: CALLER, to: DID, at: sink.inboundEvents.at(-1)!.at });
    assert.deepEqual(sink.statuses(inv.callId), ['ringing', 'answered']);
    const callId = sink.inboundCalls.get(inv.callId)!.id;
    assert.ok(sink.events.filter((e) => e.providerCallId === inv.callId).every((e) => e.callId === callId));

    const callerInvite = double.entries('trunk', inv.callId)[0].msg;
    const agentLeg = double.entries('agent').slice(agentBefore);
    const agentInvite = agentLeg[0].msg;
    assert.equal(agentInvite.method, 'INVITE');
    assert.equal(agentInvite.uri, AGENT_URI);
    assert.equal(agentInvite.body, callerInvite.body, "the agent gets the caller's offer");
    assert.match(agentInvite.get('From')!, /sip:\+15554443333@127\.0\.0\.1:5060/, "the agent sees the caller's number");
    const agent200 = agentLeg.find((e) => e.msg.status === 200)!.msg;
    const to200 = double.entries('trunk', inv.callId).find((e) => e.msg.status === 200)!.msg;
    assert.equal(to200.body, agent200.body, "the caller gets the agent's answer");
    await waitFor(() => double.sequence('trunk', inv.callId).includes('←ACK'), 'caller ACK');
    await waitFor(() => double.sequence('agent', agentInvite.callId).includes('→ACK'), 'agent ACK');
    assert.deepEqual(double.sequence('trunk', inv.callId), ['←INVITE', '→100', '→180', '→200', '←ACK']);
    assert.deepEqual(double.sequence('agent', agentInvite.callId), ['→INVITE', '←100', '←180', '←200', '→ACK']);

    double.hangUpFrom('trunk', inv.callId);
    await waitFor(() => sink.terminal(inv.callId), 'completed');
    assert.equal(sink.terminal(inv.callId)!.status, 'completed');
    assert.equal(sink.terminal(inv.callId)!.cause, 'caller hung up');
    await waitFor(() => double.sequence('agent', agentInvite.callId).includes('←200 BYE'), 'agent BYE');
    assert.deepEqual(double.sequence('trunk', inv.callId).slice(5), ['←BYE', '→200 BYE']);
  });

  test('agent hangs up → BYE to the caller', async () => {
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => sink.statuses(inv.callId).includes('answered'), 'answered');
    double.hangUpFrom('agent', agentCallId());
    await waitFor(() => sink.terminal(inv.callId), 'completed');
    assert.equal(sink.terminal(inv.callId)!.cause, 'agent hung up');
    await waitFor(() => double.sequence('trunk', inv.callId).includes('←200 BYE'), 'caller BYE');
    assert.deepEqual(double.sequence('trunk', inv.callId).slice(-2), ['→BYE', '←200 BYE']);
  });

  test('national-format DID from the trunk is read as E.164', async () => {
    const inv = double.placeCall('trunk', { to: '15557770000', from: '15554443333' });
    await waitFor(() => sink.statuses(inv.callId).includes('answered'), 'answered');
    assert.equal(sink.inboundEvents.at(-1)!.to, DID);
    assert.equal(sink.inboundEvents.at(-1)!.from, CALLER);
    await adapter.hangUp(call({ providerCallId: inv.callId }));
    await waitFor(() => sink.terminal(inv.callId), 'completed');
  });

  test('unknown DID → 404, nothing sent to any agent', async () => {
    const agentBefore = double.entries('agent').length;
    const inv = double.placeCall('trunk', { to: '+15559990000', from: CALLER });
    await waitFor(() => inv.final(), 'final response');
    assert.equal(inv.final(), 404);
    assert.deepEqual(double.sequence('trunk', inv.callId), ['←INVITE', '→100', '→404', '←ACK']);
    assert.equal(double.entries('agent').length, agentBefore);
    assert.equal(sink.statuses(inv.callId).length, 0);
  });

  test('a source outside inboundAllow → 403 before any routing', async () => {
    const routed = sink.inboundEvents.length;
    const inv = double.placeCall('stranger', { to: DID, from: CALLER });
    await waitFor(() => inv.final(), 'final response');
    assert.equal(inv.final(), 403);
    assert.deepEqual(double.sequence('stranger', inv.callId), ['←INVITE', '→100', '→403', '←ACK']);
    assert.equal(sink.inboundEvents.length, routed, 'the DID was never looked up');
  });

  test('agent busy → the caller gets 486, status busy', async () => {
    double.ua('agent').script = scripts.reject(486);
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => sink.terminal(inv.callId), 'terminal');
    assert.equal(sink.terminal(inv.callId)!.status, 'busy');
    await waitFor(() => inv.final(), 'final');
    assert.equal(inv.final(), 486);
    assert.deepEqual(double.sequence('trunk', inv.callId), ['←INVITE', '→100', '→180', '→486', '←ACK']);
  });

  test('agent does not answer → CANCEL to the agent, 480 to the caller, no-answer', async () => {
    double.ua('agent').script = scripts.ringForever();
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => sink.terminal(inv.callId), 'terminal', 8_000);
    assert.equal(sink.terminal(inv.callId)!.status, 'no-answer');
    await waitFor(() => inv.final(), 'final');
    assert.equal(inv.final(), 480);
    assert.deepEqual(double.sequence('agent', agentCallId()), ['→INVITE', '←100', '←180', '→CANCEL', '←200 CANCEL', '←487', '→ACK']);
  });

  test('caller hangs up while the agent rings → CANCEL propagates to the agent, canceled', async () => {
    double.ua('agent').script = scripts.ringForever();
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => double.sequence('trunk', inv.callId).includes('→180'), 'caller hears ringing');
    double.cancelCall(inv.callId);
    await waitFor(() => sink.terminal(inv.callId), 'terminal');
    assert.equal(sink.terminal(inv.callId)!.status, 'canceled');
    assert.deepEqual(double.sequence('trunk', inv.callId), ['←INVITE', '→100', '→180', '←CANCEL', '→200 CANCEL', '→487', '←ACK']);
    await waitFor(() => double.sequence('agent', agentCallId()).includes('→ACK'), 'agent leg ended');
    assert.deepEqual(double.sequence('agent', agentCallId()), ['→INVITE', '←100', '←180', '→CANCEL', '←200 CANCEL', '←487', '→ACK']);
  });

  test('DELETE while ringing → CANCEL to the agent and 603 to the caller; while connected → BYE both', async () => {
    double.ua('agent').script = scripts.ringForever();
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => sink.statuses(inv.callId).includes('ringing'), 'ringing');
    await adapter.hangUp(call({ providerCallId: inv.callId }));
    await waitFor(() => sink.terminal(inv.callId), 'terminal');
    assert.equal(sink.terminal(inv.callId)!.status, 'canceled');
    await waitFor(() => inv.final(), 'final');
    assert.equal(inv.final(), 603);

    double.ua('agent').script = scripts.answer();
    const inv2 = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => sink.statuses(inv2.callId).includes('answered'), 'answered');
    await adapter.hangUp(call({ providerCallId: inv2.callId }));
    await waitFor(() => sink.terminal(inv2.callId), 'terminal');
    assert.equal(sink.terminal(inv2.callId)!.status, 'completed');
    await waitFor(() => double.sequence('trunk', inv2.callId).includes('←200 BYE'), 'caller BYE');
    await waitFor(() => double.sequence('agent', agentCallId()).includes('←200 BYE'), 'agent BYE');
  });

  test('routing lookup failing (store down) → 503 with Retry-After', async () => {
    sink.failInbound = true;
    const inv = double.placeCall('trunk', { to: DID, from: CALLER });
    await waitFor(() => inv.final(), 'final');
    assert.equal(inv.final(), 503);
    assert.equal(inv.responses.at(-1)!.get('Retry-After'), '5');
  });
});
