// /metrics after one outbound and one inbound call, on both stores: calls by provider kind,
// direction and outcome; setup-time histograms; dispatch overhead; provider API time; webhooks by
// result; screen pops — and never a user id, number or call id as a label value.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FAST, STORES, getCall, must, randomDid, simOrg } from './setup.js';

/** The value of the one sample of `name` whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

for (const store of STORES) {
  describe(`metrics after calls (${store} store)`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ store });
    });
    after(async () => {
      await gw.close();
    });

    test('calls, setup times, dispatch overhead, provider requests, webhooks and screen pops are exposed', async () => {
      const did = randomDid();
      const o = await simOrg(gw, FAST, { numbers: [did] });
      const out = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } }), 201, 'dial');
      const inn = must(await gw.req('POST', `/webhooks/sim/${o.providerId}/inbound`, { body: { from: '+14169672222', to: did } }), 200, 'inbound');
      for (const id of [out.body.id, inn.body.callId]) {
        await eventually(async () => (await getCall(gw, o.apiKey, id)).status === 'completed', 8000, `${id} completed`);
      }
      const unknown = await gw.req('POST', `/webhooks/sim/${o.providerId}/inbound`, { body: { from: '+14169672222', to: randomDid() } });
      assert.equal(unknown.status, 404);

      const r = await gw.req('GET', '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
      const m = r.text;
      const sim = { provider_kind: 'sim' };
      assert.equal(sample(m, 'dialgate_calls_total', { ...sim, direction: 'outbound', outcome: 'completed' }), 1);
      assert.equal(sample(m, 'dialgate_calls_total', { ...sim, direction: 'inbound', outcome: 'completed' }), 1);
      assert.equal(sample(m, 'dialgate_calls_dispatched_total', { ...sim, result: 'ok' }), 1);
      assert.equal(sample(m, 'dialgate_call_setup_seconds_count', { ...sim, stage: 'ringing' }), 1);
      assert.equal(sample(m, 'dialgate_call_setup_seconds_count', { ...sim, stage: 'answered' }), 1);
      const ringSecs = sample(m, 'dialgate_call_setup_seconds_sum', { ...sim, stage: 'ringing' })!;
      const answerSecs = sample(m, 'dialgate_call_setup_seconds_sum', { ...sim, stage: 'answered' })!;
      assert.ok(ringSecs >= 0 && answerSecs >= ringSecs, `ringing ${ringSecs} s before answered ${answerSecs} s`);
      assert.equal(sample(m, 'dialgate_dispatch_overhead_seconds_count', sim), 1);
      assert.ok(sample(m, 'dialgate_dispatch_overhead_seconds_sum', sim)! < 5);
      assert.equal(sample(m, 'dialgate_provider_request_duration_seconds_count', { ...sim, operation: 'dial', outcome: 'ok' }), 1);
      // outbound: ringing, answered, completed; inbound: answered, completed — all through the ingress
      assert.ok(sample(m, 'dialgate_webhooks_received_total', { ...sim, result: 'ok' })! >= 6);
      assert.equal(sample(m, 'dialgate_webhooks_received_total', { ...sim, result: 'refused' }), 1);
      assert.equal(sample(m, 'dialgate_inbound_unknown_number_total', sim), 1);
      assert.equal(sample(m, 'dialgate_screen_pop_seconds_count', sim), 1);
      assert.ok(sample(m, 'dialgate_websocket_connections', {}) !== undefined);
      assert.ok(sample(m, 'dialgate_http_request_duration_seconds_count', { method: 'POST', route: '/v1/calls', status_code: '201' })! >= 1);

      // per provider: two accounts of one kind are told apart
      assert.equal(sample(m, 'dialgate_calls_total', { ...sim, provider_id: o.providerId, direction: 'outbound', outcome: 'completed' }), 1);
      assert.equal(sample(m, 'dialgate_call_setup_seconds_count', { ...sim, provider_id: o.providerId, stage: 'answered' }), 1);
      assert.equal(sample(m, 'dialgate_calls_dispatched_total', { ...sim, provider_id: o.providerId, result: 'ok' }), 1);
      assert.equal(sample(m, 'dialgate_provider_request_duration_seconds_count', { ...sim, provider_id: o.providerId, operation: 'dial', outcome: 'ok' }), 1);
      // bounded labels only (provider ids are bounded by the providers installed)
      for (const secret of [o.userId, o.orgId, out.body.id, inn.body.callId, did, '4169671111', o.apiKey]) {
        assert.ok(!m.includes(secret), `${secret} must not appear in /metrics`);
      }
      // Prometheus naming: counters end in _total, durations in _seconds
      for (const line of m.split('\n')) {
        const t = /^# TYPE (dialgate_\w+) (\w+)/.exec(line);
        if (!t) continue;
        if (t[2] === 'counter') assert.match(t[1], /_total$/, t[1]);
        if (t[2] === 'histogram' && !t[1].startsWith('dialgate_nodejs_')) assert.match(t[1], /_seconds$/, t[1]);
      }
    });
  });
}
