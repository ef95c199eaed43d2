// Click-to-call by 3PCC through the real drachtio-srf against the drachtio-server double.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { SipAdapter } from '../../adapters/sip/index.js';
import type { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import { scripts, type FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { AGENT_URI, TRUNK_ADDR, adapterOn, call, srfDialogs, startDouble, testPool, user, waitFor, type RecordingSink } from './helpers.js';

const CUSTOMER = '+15551230000';

describe('sip click-to-call (3PCC)', () => {
  let double: FakeDrachtioServer;
  let pool: SipConnectionPool;
  let adapter: SipAdapter;
  let sink: RecordingSink;

  before(async () => {
    double = await startDouble();
    pool = testPool();
    ({ adapter, sink } = await adapterOn(double, pool, { customerLegTimeoutMs: 1_500, agentLegTimeoutMs: 1_500 }));
  });

  after(async () => {
    await adapter.close();
    pool.closeAll();
    await double.close();
  });

  afterEach(async () => {
    // no dialog or transaction may outlive a test, on either side of the wire
    await waitFor(() => adapter.activeCalls() === 0, 'no active calls');
    await waitFor(() => srfDialogs(adapter) === 0, 'srf dialogs released');
    await waitFor(() => {
      const l = double.leaks();
      return l.dialogs.length === 0 && l.pending.length === 0;
    }, `double has no dialogs/transactions left: ${JSON.stringify(double.leaks())}`);
    double.ua('agent').script = scripts.answer();
    double.ua('trunk').script = scripts.answer();
    double.ua('agent').ackTimeoutMs = 32_000;
  });

  async function dial(to = CUSTOMER) {
    const c = call({ to });
    const r = await adapter.dial({ call: c, user: user(), to, idempotencyToken: c.id });
    return { c, r, id: r.providerCallId };
  }

  test('agent then customer, ACK carries the customer answer, agent hangs up → BYE to the customer', async () => {
    const { c, r, id } = await dial();
    assert.equal(r.status, 'dialing');
    assert.equal(r.from, '+15550001111');
    await waitFor(() => sink.statuses(id).includes('answered'), 'answered');
    assert.deepEqual(sink.statuses(id), ['ringing', 'answered']);
    assert.ok(sink.events.every((e) => e.callId === c.id), 'reports carry our call id');

    const agentInvite = double.entries('agent', id)[0].msg;
    assert.equal(agentInvite.method, 'INVITE');
    assert.equal(agentInvite.uri, AGENT_URI);
    assert.equal(agentInvite.body, '', 'INVITE to the agent has no SDP');
    assert.match(agentInvite.get('From')!, /<sip:\+15551230000@127\.0\.0\.1:5060>/);

    const agent200 = double.entries('agent', id).find((e) => e.msg.status === 200)!.msg;
    const custInvite = double.entries('trunk').find((e) => e.dir === 'out' && e.msg.method === 'INVITE')!.msg;
    const custCallId = custInvite.callId;
    assert.equal(custInvite.uri, `sip:${CUSTOMER}@${TRUNK_ADDR}:5060`);
    assert.equal(custInvite.body, agent200.body, "the customer INVITE carries the agent's offer");
    assert.equal(custInvite.get('Content-Type'), 'application/sdp');
    assert.match(custInvite.get('From')!, /^<sip:\+15550001111@127\.0\.0\.1:5060>;tag=/);
    assert.equal(custInvite.get('P-Asserted-Identity'), `<sip:+15550001111@${TRUNK_ADDR}>`);
    const cust200 = double.entries('trunk', custCallId).find((e) => e.msg.status === 200)!.msg;

    assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', '←200', '→ACK']);
    assert.deepEqual(double.sequence('trunk', custCallId), ['→INVITE', '←100', '←180', '←200', '→ACK']);
    const ackToAgent = double.entries('agent', id).at(-1)!.msg;
    assert.equal(ackToAgent.body, cust200.body, "the agent's ACK carries the customer's answer");
    assert.equal(ackToAgent.cseq.seq, agentInvite.cseq.seq);
    assert.equal(double.entries('trunk', custCallId).at(-1)!.msg.body, '', 'plain ACK to the customer');
    // the agent's 200 OK was ACKed only after the customer answered (3PCC ordering)
    const ackSeq = double.entries('agent', id).at(-1)!.seq;
    const custAnswerSeq = double.entries('trunk', custCallId).find((e) => e.msg.status === 200)!.seq;
    assert.ok(ackSeq > custAnswerSeq);

    double.hangUpFrom('agent', id);
    await waitFor(() => sink.terminal(id), 'completed');
    assert.equal(sink.terminal(id)!.status, 'completed');
    assert.equal(sink.terminal(id)!.cause, 'agent hung up');
    await waitFor(() => double.sequence('trunk', custCallId).includes('←200 BYE'), 'BYE to the customer answered');
    assert.deepEqual(double.sequence('agent', id).slice(5), ['←BYE', '→200 BYE']);
    assert.deepEqual(double.sequence('trunk', custCallId).slice(5), ['→BYE', '←200 BYE']);
  });

  test('customer hangs up → BYE to the agent, completed', async () => {
    const { id } = await dial();
    await waitFor(() => sink.statuses(id).includes('answered'), 'answered');
    const custCallId = double.entries('trunk').filter((e) => e.msg.method === 'INVITE').at(-1)!.msg.callId;
    double.hangUpFrom('trunk', custCallId);
    await waitFor(() => sink.terminal(id), 'completed');
    assert.equal(sink.terminal(id)!.status, 'completed');
    assert.equal(sink.terminal(id)!.cause, 'customer hung up');
    await waitFor(() => double.sequence('agent', id).includes('←200 BYE'), 'agent BYE answered');
    assert.deepEqual(double.sequence('agent', id).slice(-2), ['→BYE', '←200 BYE']);
  });
});
