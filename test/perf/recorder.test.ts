// PerfRecorder on its own: what each call event adds to the figures (and what it must not add
// twice), with a memory perf store and its own metrics registry.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { figuresOf } from '../../src/perf/codec.js';
import { MemoryPerfStore } from '../../src/store/perf/memory.js';
import { PerfRecorder } from '../../src/perf/recorder.js';
import type { Call, CallStatus, Provider } from '../../src/domain/types.js';

const T0 = Date.parse('2030-01-01T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const provider = { id: 'pA', kind: 'sim', orgId: 'o1' } as Provider;

function call(history: Array<[CallStatus, number]>, extra: Partial<Call> = {}): Call {
  const last = history[history.length - 1];
  return {
    id: 'c' + Math.random(),
    orgId: 'o1',
    userId: 'u',
    providerId: 'pA',
    providerKind: 'sim',
    direction: 'outbound',
    to: '+14165550100',
    status: last[0],
    createdAt: iso(0),
    updatedAt: iso(last[1]),
    history: history.map(([status, at]) => ({ status, at: iso(at) })),
    ...extra,
  };
}

function setup(openBreakers: string[] = []) {
  const store = new MemoryPerfStore(() => T0);
  const registry = new Registry();
  const rec = new PerfRecorder(store, registry, {
    all: async () => new Map(openBreakers.map((id) => [id, { state: 'open' as const, failures: 5, openUntil: T0 + 30_000, successes: 0, trialUntil: 0, retryAfterSec: 30 }])),
  });
  const figures = async () => figuresOf((await store.window('o1', '5m', T0)).get('pA'));
  return { store, registry, rec, figures };
}

describe('PerfRecorder', () => {
  test('setup times come from the call history: dialing → ringing, dialing → answered', async () => {
    const { rec, figures } = setup();
    const c = call([['queued', 0], ['dialing', 100]], { providerCallId: 'x' });
    rec.dialed(c, provider, 0.08);
    rec.transitioned(call([['queued', 0], ['dialing', 100], ['ringing', 400]]), 'ringing');
    rec.transitioned(call([['queued', 0], ['dialing', 100], ['ringing', 400], ['answered', 1600]]), 'answered');
    rec.transitioned(call([['queued', 0], ['dialing', 100], ['ringing', 400], ['answered', 1600], ['completed', 5000]]), 'completed');
    const f = await figures();
    assert.deepEqual([f.attempts, f.answered, f.failures], [1, 1, {}]);
    assert.ok(Math.abs(f.setupToRinging.p50! - 0.3) / 0.3 < 0.045);
    assert.ok(Math.abs(f.setupToAnswer.p50! - 1.5) / 1.5 < 0.045);
    assert.ok(Math.abs(f.apiLatency.p50! - 0.08) / 0.08 < 0.045);
  });

  test('a dial error counts once: the attempt with its cause, not again when the call then fails', async () => {
    const { rec, figures, registry } = setup();
    rec.dialed(call([['queued', 0]]), provider, 2, 'provider_unavailable');
    rec.transitioned(call([['queued', 0], ['failed', 10]]), 'failed');
    const f = await figures();
    assert.deepEqual([f.attempts, f.answered, f.answerRatio, f.failures], [1, 0, 0, { provider_unavailable: 1 }]);
    const text = await registry.metrics();
    assert.match(text, /dialgate_call_failures_total\{provider_kind="sim",provider_id="pA",cause="provider_unavailable"\} 1/);
    assert.doesNotMatch(text, /cause="failed"/);
  });

  test('terminal failures of accepted calls count by status', async () => {
    const { rec, figures } = setup();
    for (const s of ['busy', 'no-answer', 'failed', 'canceled', 'busy'] as const) rec.transitioned(call([['queued', 0], ['dialing', 5], [s, 900]]), s);
    assert.deepEqual((await figures()).failures, { busy: 2, 'no-answer': 1, failed: 1, canceled: 1 });
  });

  test('"completed" without a recorded answer (its report lost the race) still counts as answered, once', async () => {
    const { rec, figures } = setup();
    rec.transitioned(call([['queued', 0], ['dialing', 5], ['ringing', 100], ['completed', 900]]), 'completed');
    rec.transitioned(call([['queued', 0], ['dialing', 5], ['answered', 300], ['completed', 900]]), 'completed');
    const f = await figures();
    assert.equal(f.answered, 1);
    assert.deepEqual(f.setupToAnswer, { p50: null, p95: null });
  });

  test('inbound calls are not provider dial figures', async () => {
    const { rec, store } = setup();
    const inbound = call([['queued', 0], ['ringing', 0], ['answered', 500]], { direction: 'inbound' });
    rec.dialed(inbound, provider, 0.1);
    rec.transitioned(inbound, 'answered');
    assert.equal((await store.window('o1', '5m', T0)).size, 0);
  });

  test('trial calls feed their trial as well as the live windows', async () => {
    const { rec, store, figures } = setup();
    rec.dialed(call([['queued', 0]], { trial: true, trialId: 'trl_1' }), provider, 0.05);
    assert.equal(figuresOf((await store.trial('o1', 'trl_1')).get('pA')).attempts, 1);
    assert.equal((await figures()).attempts, 1);
  });

  test('the breaker gauge says per provider whether its breaker is open, among providers dialled here', async () => {
    const { rec, registry } = setup(['pB']);
    rec.dialed(call([['queued', 0]]), provider, 0.05);
    rec.dialed(call([['queued', 0]], { providerId: 'pB' }), { id: 'pB', kind: 'twilio', orgId: 'o1' } as Provider, 1, 'provider_unavailable');
    const text = await registry.metrics();
    assert.match(text, /dialgate_provider_breaker_open\{provider_kind="sim",provider_id="pA"\} 0/);
    assert.match(text, /dialgate_provider_breaker_open\{provider_kind="twilio",provider_id="pB"\} 1/);
  });

  test('an observer failure never reaches the call path', () => {
    const store = new MemoryPerfStore();
    store.record = () => {
      throw new Error('boom');
    };
    const rec = new PerfRecorder(store, new Registry(), { all: async () => new Map() });
    assert.doesNotThrow(() => rec.dialed(call([['queued', 0]]), provider, 0.1));
    assert.doesNotThrow(() => rec.transitioned(call([['queued', 0], ['dialing', 1], ['ringing', 5]]), 'ringing'));
  });
});
