// The call state machine: the rules of applyTransition, then a property check through the real
// path (sim adapter webhook → CallService → store transition → events) on both stores: random
// shuffles of a provider's events, with duplicates, delivered one by one or all at once, never move
// a call backwards and emit exactly one terminal event.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STATUS_RANK, applyTransition, canTransition, isTerminal, notBefore } from '../../src/domain/state-machine.js';
import { CALL_STATUSES, type Call, type CallStatus } from '../../src/domain/types.js';
import { startGateway, type EventClient, type TestGateway } from '../helpers/gateway.js';
import { FROZEN, STORES, getCall, must, simOrg, type SimOrg } from './setup.js';

function freshCall(): Call {
  const at = '2024-05-01T10:00:00.000Z';
  return {
    id: 'call_unit',
    orgId: 'org',
    userId: 'u',
    providerId: 'p',
    providerKind: 'sim',
    direction: 'outbound',
    to: '+14169671111',
    status: 'queued',
    createdAt: at,
    updatedAt: at,
    history: [{ status: 'queued', at }],
  };
}

describe('applyTransition (unit)', () => {
  test('canTransition: only forward, never out of a terminal status', () => {
    for (const from of CALL_STATUSES) {
      for (const to of CALL_STATUSES) {
        const expected = !isTerminal(from) && STATUS_RANK[to] > STATUS_RANK[from];
        assert.equal(canTransition(from, to), expected, `${from} → ${to}`);
      }
    }
    // the ones that matter most, spelled out
    assert.equal(canTransition('ringing', 'dialing'), false);
    assert.equal(canTransition('answered', 'ringing'), false);
    assert.equal(canTransition('completed', 'answered'), false);
    assert.equal(canTransition('busy', 'completed'), false);
    assert.equal(canTransition('ringing', 'ringing'), false);
    assert.equal(canTransition('queued', 'completed'), true);
    assert.equal(canTransition('dialing', 'answered'), true, 'a skipped step (lost ringing callback) still moves forward');
  });

  test('applies forward events with timestamps, records answer and end, computes the duration', () => {
    const c = freshCall();
    assert.equal(applyTransition(c, { status: 'dialing', at: '2024-05-01T10:00:00.100Z', providerCallId: 'P1' }), true);
    assert.equal(c.providerCallId, 'P1');
    assert.equal(applyTransition(c, { status: 'ringing', at: '2024-05-01T10:00:01.000Z' }), true);
    assert.equal(applyTransition(c, { status: 'answered', at: '2024-05-01T10:00:03.000Z' }), true);
    assert.equal(c.answeredAt, '2024-05-01T10:00:03.000Z');
    assert.equal(applyTransition(c, { status: 'completed', at: '2024-05-01T10:00:45.400Z', cause: 'hangup' }), true);
    assert.equal(c.status, 'completed');
    assert.equal(c.endedAt, '2024-05-01T10:00:45.400Z');
    assert.equal(c.durationSec, 42);
    assert.equal(c.updatedAt, '2024-05-01T10:00:45.400Z');
    assert.deepEqual(c.history, [
      { status: 'queued', at: '2024-05-01T10:00:00.000Z' },
      { status: 'dialing', at: '2024-05-01T10:00:00.100Z' },
      { status: 'ringing', at: '2024-05-01T10:00:01.000Z' },
      { status: 'answered', at: '2024-05-01T10:00:03.000Z' },
      { status: 'completed', at: '2024-05-01T10:00:45.400Z', cause: 'hangup' },
    ]);
  });

  test('late, duplicated and second terminal events change nothing; a provided duration wins', () => {
    const c = freshCall();
    applyTransition(c, { status: 'answered', at: '2024-05-01T10:00:03.000Z' });
    const snapshot = structuredClone(c);
    assert.equal(applyTransition(c, { status: 'ringing', at: '2024-05-01T10:00:02.000Z' }), false);
    assert.equal(applyTransition(c, { status: 'answered', at: '2024-05-01T10:00:04.000Z' }), false);
    assert.deepEqual(c, snapshot, 'a refused event leaves the call untouched');
    assert.equal(applyTransition(c, { status: 'completed', at: '2024-05-01T10:00:09.000Z', durationSec: 7 }), true);
    assert.equal(c.durationSec, 7);
    const ended = structuredClone(c);
    for (const s of ['canceled', 'failed', 'busy', 'no-answer', 'completed'] as CallStatus[]) {
      assert.equal(applyTransition(c, { status: s, at: '2024-05-01T10:01:00.000Z' }), false, s);
    }
    assert.deepEqual(c, ended);
  });

  test('a providerCallId is set once and never replaced', () => {
    const c = freshCall();
    applyTransition(c, { status: 'dialing', at: c.createdAt, providerCallId: 'A' });
    applyTransition(c, { status: 'ringing', at: c.createdAt, providerCallId: 'B' });
    assert.equal(c.providerCallId, 'A');
    // even a refused event fills a missing one (a late callback carrying the provider id)
    const d = freshCall();
    applyTransition(d, { status: 'canceled', at: d.createdAt });
    applyTransition(d, { status: 'ringing', at: d.createdAt, providerCallId: 'C' });
    assert.equal(d.providerCallId, 'C');
  });
});

describe('notBefore (provider event times)', () => {
  test('a time before the last transition is moved up to it; later times and unparseable ones', () => {
    const call = { history: [{ status: 'queued' as const, at: '2024-05-01T10:00:00.500Z' }] };
    assert.equal(notBefore('2024-05-01T10:00:00.000Z', call), '2024-05-01T10:00:00.500Z', 'whole-second provider time');
    assert.equal(notBefore('2024-05-01T10:00:01.000Z', call), '2024-05-01T10:00:01.000Z');
    const t0 = Date.now();
    const fixed = notBefore('not a time', call);
    assert.ok(Date.parse(fixed) >= t0, 'unparseable: arrival time');
  });
});

// ---- property check through the real path ---------------------------------------------------

/** A small seeded PRNG so a failure names a seed that reproduces it. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCENARIOS: CallStatus[][] = [
  ['ringing', 'answered', 'completed'],
  ['ringing', 'busy'],
  ['ringing', 'no-answer'],
  ['ringing', 'failed'],
  ['ringing', 'canceled'],
  // contradictory reports (a late cancel after completion, a failure after an answer)
  ['ringing', 'answered', 'completed', 'canceled'],
  ['ringing', 'answered', 'failed', 'completed'],
];

interface Ev {
  status: CallStatus;
  at: string;
}

function eventsFor(scenario: CallStatus[], rand: () => number, base: number, wholeSeconds: boolean): Ev[] {
  const out: Ev[] = [];
  scenario.forEach((status, i) => {
    const t = base + (i + 1) * 400;
    // Twilio's Timestamp has whole seconds: it can fall before the gateway's own "dialing" time
    const at = new Date(wholeSeconds ? Math.floor(t / 1000) * 1000 : t).toISOString();
    const copies = 1 + Math.floor(rand() * 3);
    for (let k = 0; k < copies; k++) out.push({ status, at });
  });
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

for (const store of STORES) {
  describe(`shuffled provider events through the webhook path (${store} store)`, () => {
    let gw: TestGateway;
    let o: SimOrg;
    let sock: EventClient;
    before(async () => {
      gw = await startGateway({ store });
      o = await simOrg(gw, FROZEN);
      sock = await gw.events(o.apiKey);
    });
    after(async () => {
      sock.close();
      await gw.close();
    });

    async function deliver(providerCallId: string, callId: string | undefined, ev: Ev): Promise<void> {
      const provider = await gw.gw.parts.backend.directory.getProvider(o.orgId, o.providerId);
      const adapter = gw.gw.parts.providers.adapter(provider!);
      const reply = await adapter.handleWebhook({
        method: 'POST',
        subpath: '/status',
        publicUrl: `${gw.url}/webhooks/sim/${o.providerId}/status`,
        query: {},
        headers: {},
        rawBody: Buffer.alloc(0),
        contentType: 'application/json',
        body: { providerCallId, ...(callId ? { callId } : {}), status: ev.status, at: ev.at },
        internal: true,
      });
      assert.equal(reply.statusCode, 204);
    }

    test('never backwards, one terminal event, non-decreasing history, for 60 random shuffles', async () => {
      const seed0 = Date.now() % 100_000;
      const expectations: Array<{ id: string; seed: number; firstTerminal?: CallStatus; terminals: Set<CallStatus> }> = [];
      for (let n = 0; n < 60; n++) {
        const seed = seed0 + n;
        const rand = rng(seed);
        const scenario = SCENARIOS[n % SCENARIOS.length];
        const r = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } }), 201, 'dial');
        const pcid = (await getCall(gw, o.apiKey, r.body.id)).providerCallId as string;
        const evs = eventsFor(scenario, rand, Date.now(), n % 3 === 0);
        // half the calls get their events one by one, half all at once (concurrent webhooks);
        // some by our call id, some only by the provider's id
        const byCallId = rand() < 0.5 ? r.body.id : undefined;
        const concurrent = n % 2 === 1;
        if (concurrent) await Promise.all(evs.map((e) => deliver(pcid, byCallId, e)));
        else for (const e of evs) await deliver(pcid, byCallId, e);
        const terminals = new Set(scenario.filter(isTerminal));
        expectations.push({ id: r.body.id, seed, terminals, firstTerminal: concurrent ? undefined : evs.find((e) => isTerminal(e.status))!.status });

        const call = await getCall(gw, o.apiKey, r.body.id);
        const why = `seed ${seed}, scenario ${scenario.join(',')}, order ${evs.map((e) => e.status).join(',')}`;
        assert.ok(terminals.has(call.status), `${why}: ends in one of the reported terminal statuses, got ${call.status}`);
        if (!concurrent) assert.equal(call.status, evs.find((e) => isTerminal(e.status))!.status, `${why}: the first terminal report wins`);
        const ranks = call.history.map((h: any) => STATUS_RANK[h.status as CallStatus]);
        for (let i = 1; i < ranks.length; i++) assert.ok(ranks[i] > ranks[i - 1], `${why}: history moves forward only: ${call.history.map((h: any) => h.status)}`);
        assert.equal(call.history.filter((h: any) => isTerminal(h.status)).length, 1, `${why}: one terminal entry`);
        for (let i = 1; i < call.history.length; i++) {
          assert.ok(Date.parse(call.history[i].at) >= Date.parse(call.history[i - 1].at), `${why}: timestamps non-decreasing: ${JSON.stringify(call.history)}`);
        }
      }

      // a last call as a sentinel: once its call.created is here, every earlier event is too
      // (one socket, one server, in order)
      const sentinel = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } }), 201, 'sentinel');
      await sock.next((m) => m.type === 'call.created' && m.call.id === sentinel.body.id, 10_000);

      for (const x of expectations) {
        const mine = sock.messages.filter((m) => m.type === 'call.status' && m.call.id === x.id);
        const terminalEvents = mine.filter((m) => isTerminal(m.call.status));
        assert.equal(terminalEvents.length, 1, `seed ${x.seed}: exactly one terminal event, got ${mine.map((m) => m.call.status)}`);
        if (x.firstTerminal) assert.equal(terminalEvents[0].call.status, x.firstTerminal);
        const ranks = mine.map((m) => STATUS_RANK[m.call.status as CallStatus]);
        for (let i = 1; i < ranks.length; i++) assert.ok(ranks[i] > ranks[i - 1], `seed ${x.seed}: events move forward only: ${mine.map((m) => m.call.status)}`);
        assert.equal(mine.at(-1).call.status, terminalEvents[0].call.status, 'nothing after the terminal event');
      }

      // one terminal outcome counted per call
      const metrics = (await gw.req('GET', '/metrics')).text;
      let counted = 0;
      for (const line of metrics.split('\n')) {
        const m = /^dialgate_calls_total\{[^}]*provider_kind="sim"[^}]*direction="outbound"[^}]*\} (\d+)/.exec(line);
        if (m) counted += Number(m[1]);
      }
      assert.equal(counted, expectations.length, 'dialgate_calls_total counts each call once');
    });
  });
}
