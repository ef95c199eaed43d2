// Click-to-call by 3PCC through the real drachtio-srf against the drachtio-server double.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { SipAdapter } from '../../adapters/sip/index.js';
import type { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import { scripts, type FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { AGENT_URI, TRUNK_ADDR, adapterOn, call, context, provider, sipConfig, srfDialogs, startDouble, testPool, user, waitFor, type RecordingSink } from './helpers.js';

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
    // srf reports the ACK sent as soon as it is written; let the double's stack process it
    await waitFor(() => double.sequence('agent', id).includes('→ACK'), 'ACK to the agent');
    await waitFor(() => double.sequence('trunk').at(-1) === '→ACK', 'ACK to the customer');

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

  test('fetchStatus: a dialog this instance holds is up; once it ended (or on no instance alive) it is unknown', async () => {
    const { c, id } = await dial();
    await waitFor(() => sink.statuses(id).includes('answered'), 'answered');
    assert.deepEqual(await adapter.fetchStatus({ ...c, providerCallId: id, status: 'answered' }), { state: 'known', status: 'answered' });
    double.hangUpFrom('agent', id);
    await waitFor(() => sink.terminal(id), 'completed');
    await waitFor(() => adapter.activeCalls() === 0, 'released');
    assert.deepEqual(await adapter.fetchStatus({ ...c, providerCallId: id, status: 'answered' }), { state: 'unknown' });
    assert.deepEqual(await adapter.fetchStatus({ ...c, providerCallId: 'nobody@here', status: 'answered' }), { state: 'unknown' });
  });

  test("fetchStatus: a dialog another instance holds is left to it while that instance is alive", async () => {
    const m = new Map<string, string>();
    const alive = new Set(['other']);
    const ctx = {
      ...context(provider(sipConfig(double)), sink),
      shared: { ...context(provider(sipConfig(double)), sink).shared, get: async (k: string) => m.get(k) ?? null, set: async (k: string, v: string) => void m.set(k, v), del: async (k: string) => void m.delete(k) },
      instances: { id: 'me', alive: async (id: string) => id === 'me' || alive.has(id) },
    };
    const other = new SipAdapter(ctx, pool);
    try {
      const c = call({ providerCallId: 'held-elsewhere@x', status: 'answered' });
      m.set(`sip:${ctx.provider.id}:dialog:held-elsewhere@x`, 'other');
      assert.deepEqual(await other.fetchStatus(c), { state: 'known', status: 'answered' });
      alive.delete('other');
      assert.deepEqual(await other.fetchStatus(c), { state: 'unknown' }, 'its instance is gone: so is the dialog');
    } finally {
      await other.close();
    }
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

  function lastCustomerCallId(): string {
    return double.entries('trunk').filter((e) => e.dir === 'out' && e.msg.method === 'INVITE').at(-1)!.msg.callId;
  }

  test('agent does not answer within agentLegTimeoutMs → CANCEL → no-answer, no customer leg', async () => {
    double.ua('agent').script = scripts.ringForever();
    const trunkBefore = double.entries('trunk').length;
    const { id } = await dial();
    await waitFor(() => sink.terminal(id), 'terminal', 8_000);
    assert.deepEqual(sink.statuses(id), ['ringing', 'no-answer']);
    assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', '→CANCEL', '←200 CANCEL', '←487', '→ACK']);
    assert.equal(double.entries('trunk').length, trunkBefore, 'the customer was never called');
  });

  for (const [status, expected] of [
    [480, 'no-answer'],
    [408, 'no-answer'],
    [486, 'busy'],
    [600, 'busy'],
    [603, 'failed'],
    [503, 'failed'],
  ] as const) {
    test(`agent answers ${status} → ${expected}`, async () => {
      double.ua('agent').script = scripts.reject(status);
      const { id } = await dial();
      await waitFor(() => sink.terminal(id), 'terminal');
      assert.deepEqual(sink.statuses(id), ['ringing', expected]);
      assert.match(sink.terminal(id)!.cause!, new RegExp(`agent leg: SIP ${status}`));
      // sofia ACKs a non-2xx itself; the app's ACK attempt is refused by the stack
      assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', `←${status}`, '→ACK']);
    });
  }

  test('customer busy (486) → busy; the answered agent is ACKed then BYEd', async () => {
    double.ua('trunk').script = scripts.reject(486);
    const { id } = await dial();
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.deepEqual(sink.statuses(id), ['ringing', 'busy']);
    assert.match(sink.terminal(id)!.cause!, /customer leg: SIP 486/);
    assert.deepEqual(double.sequence('trunk', lastCustomerCallId()), ['→INVITE', '←100', '←180', '←486', '→ACK']);
    await waitFor(() => double.sequence('agent', id).includes('←200 BYE'), 'agent released');
    assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', '←200', '→ACK', '→BYE', '←200 BYE']);
  });

  test('customer 503 → failed, agent released', async () => {
    double.ua('trunk').script = scripts.reject(503, { ringMs: 1, afterMs: 2 });
    const { id } = await dial();
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.equal(sink.terminal(id)!.status, 'failed');
    await waitFor(() => double.sequence('agent', id).includes('←200 BYE'), 'agent released');
  });

  test('customer leg is bounded: CANCEL at customerLegTimeoutMs, agent ACKed before its 64×T1 and BYEd', async () => {
    double.ua('trunk').script = scripts.ringForever();
    // the agent gives up on an unACKed 200 OK after 3 s; the bound (1.5 s) must beat it
    double.ua('agent').ackTimeoutMs = 3_000;
    const { id } = await dial();
    await waitFor(() => sink.terminal(id), 'terminal', 8_000);
    assert.deepEqual(sink.statuses(id), ['ringing', 'no-answer']);
    assert.match(sink.terminal(id)!.cause!, /customer leg: no answer \(timeout\)/);
    assert.deepEqual(double.sequence('trunk', lastCustomerCallId()), ['→INVITE', '←100', '←180', '→CANCEL', '←200 CANCEL', '←487', '→ACK']);
    await waitFor(() => double.sequence('agent', id).includes('←200 BYE'), 'agent released');
    assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', '←200', '→ACK', '→BYE', '←200 BYE']);
    assert.equal(double.ua('agent').ackTimeouts, 0, 'the agent never had to give up on its 200 OK');
    const e = double.entries('agent', id);
    const answeredAt = e.find((x) => x.msg.status === 200)!.at;
    const ackedAt = e.find((x) => x.msg.method === 'ACK')!.at;
    assert.ok(ackedAt - answeredAt < 3_000, `ACKed ${ackedAt - answeredAt} ms after the 200 OK`);
  });

  test('hang-up while the agent rings → CANCEL to the agent → canceled', async () => {
    double.ua('agent').script = scripts.ringForever();
    const { c, id } = await dial();
    await waitFor(() => sink.statuses(id).includes('ringing'), 'ringing');
    await adapter.hangUp({ ...c, providerCallId: id });
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.deepEqual(sink.statuses(id), ['ringing', 'canceled']);
    assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', '→CANCEL', '←200 CANCEL', '←487', '→ACK']);
  });

  test('hang-up while the customer rings → CANCEL to the customer, agent ACKed then BYEd → canceled', async () => {
    double.ua('trunk').script = scripts.ringForever();
    const trunkBefore = double.entries('trunk').length;
    const { c, id } = await dial();
    await waitFor(() => double.entries('trunk').slice(trunkBefore).some((e) => e.msg.status === 180), 'customer ringing');
    await adapter.hangUp({ ...c, providerCallId: id });
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.deepEqual(sink.statuses(id), ['ringing', 'canceled']);
    assert.deepEqual(double.sequence('trunk', lastCustomerCallId()), ['→INVITE', '←100', '←180', '→CANCEL', '←200 CANCEL', '←487', '→ACK']);
    await waitFor(() => double.sequence('agent', id).includes('←200 BYE'), 'agent released');
    assert.deepEqual(double.sequence('agent', id), ['→INVITE', '←100', '←180', '←200', '→ACK', '→BYE', '←200 BYE']);
  });

  test('hang-up while connected → BYE on both legs → completed with a duration', async () => {
    const { c, id } = await dial();
    await waitFor(() => sink.statuses(id).includes('answered'), 'answered');
    const cust = lastCustomerCallId();
    await adapter.hangUp({ ...c, providerCallId: id });
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.equal(sink.terminal(id)!.status, 'completed');
    assert.equal(sink.terminal(id)!.durationSec, 0);
    assert.deepEqual(double.sequence('agent', id).slice(-2), ['→BYE', '←200 BYE']);
    assert.deepEqual(double.sequence('trunk', cust).slice(-2), ['→BYE', '←200 BYE']);
    // a second hang-up is a no-op
    await adapter.hangUp({ ...c, providerCallId: id });
  });

  test('an agent answering without an SDP offer cannot be bridged → failed, BYE', async () => {
    double.ua('agent').script = scripts.answerWithoutSdp();
    const trunkBefore = double.entries('trunk').length;
    const { id } = await dial();
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.equal(sink.terminal(id)!.status, 'failed');
    await waitFor(() => double.sequence('agent', id).includes('←200 BYE'), 'released');
    assert.equal(double.entries('trunk').length, trunkBefore);
  });

  test('a user without sipUri is refused before anything is sent', async () => {
    const c = call();
    const before = double.trace.length;
    await assert.rejects(
      adapter.dial({ call: c, user: user({ sipUri: undefined }), to: CUSTOMER, idempotencyToken: c.id }),
      (e: Error & { code?: string }) => e.name === 'ProviderError' && e.code === 'provider_error' && /sipUri/.test(e.message),
    );
    assert.equal(double.trace.length, before);
  });

  test('trial call (no user): offerless INVITE through the trunk, srf ACKs, BYE after hangUpAfterMs', async () => {
    const c = call({ trial: true });
    const r = await adapter.dial({ call: c, user: null, to: CUSTOMER, idempotencyToken: c.id, hangUpAfterMs: 200 });
    const id = r.providerCallId;
    await waitFor(() => sink.terminal(id), 'terminal');
    assert.deepEqual(sink.statuses(id), ['ringing', 'answered', 'completed']);
    await waitFor(() => double.sequence('trunk', id).includes('←200 BYE'), 'BYE answered');
    assert.deepEqual(double.sequence('trunk', id), ['→INVITE', '←100', '←180', '←200', '→ACK', '→BYE', '←200 BYE']);
    const e = double.entries('trunk', id);
    assert.equal(e[0].msg.body, '', 'offerless');
    assert.match(e[4].msg.body, /a=recvonly/, 'srf answers with a recvonly copy');
  });

  test('trial call busy → busy', async () => {
    double.ua('trunk').script = scripts.reject(486);
    const c = call({ trial: true });
    const r = await adapter.dial({ call: c, user: null, to: CUSTOMER, idempotencyToken: c.id, hangUpAfterMs: 200 });
    await waitFor(() => sink.terminal(r.providerCallId), 'terminal');
    assert.equal(sink.terminal(r.providerCallId)!.status, 'busy');
  });
});
