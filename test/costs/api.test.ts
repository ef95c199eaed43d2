// Issue 18 over HTTP on Redis with sim providers: costs per call from rate tables (in the call,
// the CRM log and the webhook), per-provider cost over a window with the what-if on another
// provider's table, local-presence caller ids (sticky), the do-not-call list (a 100,000-number
// upload in one request) and calling hours with an injected clock.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, RELAXED_LIMITS, startGateway, type TestGateway } from '../helpers/gateway.js';
import { must, putUser, uid } from '../calls/setup.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { waitTrial } from '../trials/helpers.js';

/** answered at once, ~1.2 s of talk: billed one 60 s increment */
const TALK = { ringAfterMs: 0, answerAfterMs: 10, durationMs: 1200 };
const NY = '+12125550123';
const LONDON = '+442079460123';
/** Monday 2026-01-05 */
const MON_15Z = Date.parse('2026-01-05T15:00:00Z'); // 10:00 in New York, 15:00 in London
const MON_03Z = Date.parse('2026-01-05T03:00:00Z'); // 22:00 Sunday in New York, 03:00 in London

describe('costs, local presence, do-not-call, calling hours (HTTP, Redis, sim)', () => {
  let gw: TestGateway;
  let hook: WebhookCrmFake;
  let fixed: number | null = null;
  let key: string;
  let a: string; // the users' provider
  let b: string; // another provider, for the what-if
  const users: string[] = [];

  const req = (method: string, path: string, o: Parameters<TestGateway['req']>[2] = {}) => gw.req(method, path, { key, ...o });
  const policy = (extra: Record<string, unknown> = {}) => req('PUT', '/v1/dial-policy', { body: { limits: RELAXED_LIMITS, countries: { allow: ['US', 'GB'] }, ...extra } });
  let next = 0;
  /** a click by a fresh user (each user has one live call at a time) */
  const click = (to: string) => req('POST', '/v1/calls', { body: { userId: users[next++ % users.length], to } });
  const ended = (id: string) =>
    eventually(async () => {
      const r = await req('GET', `/v1/calls/${id}`);
      return r.body.cost && r.body.crmLog?.status === 'logged' ? r.body : null;
    }, 15_000, `call ${id} ended, costed and logged`);

  before(async () => {
    hook = await new WebhookCrmFake().start();
    gw = await startGateway({ store: 'redis', clock: () => fixed ?? Date.now() });
    key = (await gw.createOrg('costs ' + uid('o'))).apiKey;
    must(await policy(), 200, 'dial policy');
    for (let i = 0; i < 8; i++) {
      const id = uid();
      must(await putUser(gw, key, id, { region: 'US', phone: '+13125550100' }), 201, 'user');
      users.push(id);
    }
    const install = (name: string, userIds: string[], extra: Record<string, unknown> = {}) =>
      req('POST', '/v1/providers', { body: { kind: 'sim', name, config: TALK, install: { scope: 'specific', userIds }, ...extra } });
    a = must(await install('sim A', users, { callerIdPool: ['+12125550100', '+13105550100', '+442071234567'] }), 201, 'provider A').body.id;
    b = must(await install('sim B', []), 201, 'provider B').body.id;
    must(await req('PUT', '/v1/crm', { body: hook.config() }), 200, 'crm');
  });
  after(async () => {
    await gw?.close();
    await hook?.close();
  });

  test('rate tables: JSON and CSV, longest prefix; bad rows and currencies name the line and keep the old table', async () => {
    const ta = { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.01 }, { prefix: '+1212', perMinute: 0.015, increment: 60 }, { prefix: '+44', perMinute: 0.02, connectFee: 0.001 }] };
    assert.deepEqual(must(await req('PUT', `/v1/providers/${a}/rates`, { body: ta }), 200, 'rates A').body, { currency: 'USD', rows: 3 });
    const csv = 'prefix,perMinute,increment,minimum,connectFee\n+1,0.008,6,30,\n+44,0.05,60,,\n';
    const put = await req('PUT', `/v1/providers/${b}/rates?currency=USD`, { raw: csv, headers: { 'content-type': 'text/csv' } });
    assert.deepEqual(must(put, 200, 'rates B (CSV)').body, { currency: 'USD', rows: 2 });
    const got = await gw.req('GET', `/v1/providers/${b}/rates`, { key, headers: { accept: 'text/csv' } });
    assert.equal(got.status, 200);
    assert.match(got.text, /^prefix,perMinute,increment,minimum,connectFee\n\+1,0\.008,6,30,\n\+44,0\.05,60,,\n$/);

    const badCsv = 'prefix,perMinute\n+1,0.01\n+44,-0.5\n';
    const r1 = await req('PUT', `/v1/providers/${b}/rates?currency=USD`, { raw: badCsv, headers: { 'content-type': 'text/csv' } });
    assert.equal(r1.status, 400);
    assert.match(r1.body.error.message, /^line 3: perMinute -0.5/);
    const r2 = await req('PUT', `/v1/providers/${b}/rates`, { body: { currency: 'USD', rates: [{ prefix: '+1', perMinute: 1 }, { prefix: '44x', perMinute: 1 }] } });
    assert.equal(r2.status, 400);
    assert.match(r2.body.error.message, /^line 2: prefix "44x"/);
    const r3 = await req('PUT', `/v1/providers/${b}/rates`, { body: { currency: 'XYZ', rates: [] } });
    assert.equal(r3.status, 400);
    assert.match(r3.body.error.message, /XYZ.*ISO 4217/);
    assert.equal((await req('GET', `/v1/providers/${b}/rates`)).body.rates.length, 2, 'the old table stays');
  });

  test('local presence: New York sees the 212 number, London the UK one; a destination sticks to its number', async () => {
    const ex = await req('GET', `/v1/routing/explain?userId=${users[0]}&to=${encodeURIComponent(NY)}`);
    assert.equal(ex.body.callerId.number, '+12125550100');
    assert.match(ex.body.callerId.reason, /same country \(US\)/);
    const ny = must(await click(NY), 201, 'call NY').body;
    const uk = must(await click(LONDON), 201, 'call London').body;
    assert.equal(ny.callerId, '+12125550100');
    assert.equal(uk.callerId, '+442071234567');
    assert.equal(ny.from, '+12125550100', 'the sim dialled with it');
    // (a provider change replaces its live adapter: let the calls end first)
    for (const c of [ny, uk]) await ended(c.id);
    // a closer number joins the pool: the New York callee keeps what it was shown, a new one gets the closer number
    must(await req('PATCH', `/v1/providers/${a}`, { body: { callerIdPool: ['+12125550100', '+12125550120', '+13105550100', '+442071234567'] } }), 200, 'pool');
    const again = must(await click(NY), 201, 'call NY again').body;
    assert.equal(again.callerId, '+12125550100', 'sticky');
    const other = must(await click('+12125550124'), 201, 'another NY callee').body;
    assert.equal(other.callerId, '+12125550120');
    const ex2 = await req('GET', `/v1/routing/explain?userId=${users[0]}&to=${encodeURIComponent(NY)}`);
    assert.match(ex2.body.callerId.reason, /^sticky/);
    for (const c of [again, other]) await ended(c.id);
  });

  test('costs per call from the rate tables, in the call, the CRM webhook; per provider over a window with the what-if', async () => {
    const ny = must(await click(NY), 201, 'call').body;
    const call = await ended(ny.id);
    assert.deepEqual(call.cost, { amount: 0.015, currency: 'USD', source: 'rates' }, '+1212 beats +1: one minute at 0.015');
    const uk = await ended(must(await click(LONDON), 201, 'call').body.id);
    assert.deepEqual(uk.cost, { amount: 0.021, currency: 'USD', source: 'rates' }, 'a minute at 0.02 plus the 0.001 connect fee');
    const delivered = hook.deliveries.get(ny.id);
    assert.deepEqual(delivered?.body.call.cost, call.cost, 'the webhook carries the cost');
    assert.equal(delivered?.body.call.callerId, '+12125550100');

    const rep = must(await req('GET', '/v1/providers/costs?window=1h'), 200, 'costs').body;
    // every call so far is on A: 4 from the caller-id test (2 NY-ish + London + NY), and these 2
    const pa = rep.providers[a];
    assert.equal(pa.calls, 6);
    assert.equal(pa.billedMinutes, 6);
    assert.deepEqual(pa.cost, { amount: 0.102, currency: 'USD' });
    assert.equal(rep.providers[b], undefined, 'no calls on B');
    // B: +1 at 0.008/min, 6 s increments, 30 s minimum (a ~1 s call bills 30 s); +44 at 0.05 per started minute
    assert.deepEqual(rep.whatIf[a], { amount: 0.102, currency: 'USD', unpriced: 0 });
    assert.deepEqual(rep.whatIf[b], { amount: 0.116, currency: 'USD', unpriced: 0 });
    assert.deepEqual(rep.byCountry.GB, { calls: 2, whatIf: { [a]: { amount: 0.042, currency: 'USD' }, [b]: { amount: 0.1, currency: 'USD' } } });
    assert.equal(rep.byCountry.US.calls, 4);
    assert.equal((await req('GET', '/v1/providers/costs?window=5y')).status, 400);
  });

  test('do-not-call: a listed number is refused atomically with the click; 100,000 numbers in one request', async () => {
    const listed = '+12125550177';
    const put = must(await req('PUT', '/v1/dnc', { body: { add: [listed, 'not a number'] } }), 200, 'dnc add').body;
    assert.equal(put.added, 1);
    assert.deepEqual(put.invalid, [{ line: 2, value: 'not a number', list: 'add' }]);
    const refused = await click(listed);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'destination_not_allowed');
    assert.equal(refused.body.error.rule, 'dnc');
    const ex = await req('GET', `/v1/routing/explain?userId=${users[0]}&to=${encodeURIComponent(listed)}`);
    assert.deepEqual([ex.body.dnc, ex.body.wouldDial], [{ listed: true }, false]);

    const numbers = Array.from({ length: 100_000 }, (_, i) => `+1312${String(2000000 + i * 7)}`);
    const body = 'number\n' + numbers.join('\n') + '\n';
    assert.ok(body.length > 1_200_000, `${body.length} bytes`);
    const t0 = performance.now();
    const up = await req('PUT', '/v1/dnc', { raw: body, headers: { 'content-type': 'text/csv' } });
    const took = performance.now() - t0;
    assert.equal(up.status, 200, up.text.slice(0, 300));
    assert.equal(up.body.added, 100_000);
    assert.equal(up.body.invalidCount, 0);
    assert.ok(took < 10_000, `upload took ${took} ms`);
    console.log(`# 100,000-number DNC upload (${(body.length / 1e6).toFixed(2)} MB) in ${Math.round(took)} ms`);
    assert.equal((await req('GET', '/v1/dnc')).body.total, 100_001);
    const one = numbers[54_321];
    assert.deepEqual((await req('GET', `/v1/dnc/${encodeURIComponent(one)}`)).body, { number: one, listed: true });
    const r = await click(one);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.rule, 'dnc');
    must(await req('PUT', '/v1/dnc', { body: { remove: [listed] } }), 200, 'dnc remove');
    assert.deepEqual((await req('GET', `/v1/dnc/${encodeURIComponent(listed)}`)).body, { number: listed, listed: false });

    // a body with no valid number at all (a wrong file) is refused whole, naming its lines
    const garbled = await req('PUT', '/v1/dnc', { raw: 'name,phone\nbob,x\n<xml/>\n', headers: { 'content-type': 'text/plain' } });
    assert.equal(garbled.status, 400, garbled.text);
    assert.equal(garbled.body.error.code, 'validation_failed');
    assert.match(garbled.body.error.message, /line 2: "bob"/);
    assert.equal((await req('PUT', '/v1/dnc', { body: { add: ['nope'] } })).status, 400);
    assert.equal((await req('GET', '/v1/dnc')).body.total, 100_000, 'nothing changed');
    // a repeat of listed numbers changes nothing, and the audit log records changes only
    const audited = async () => (await req('GET', '/v1/audit?limit=200')).body.items.filter((e: { action: string }) => e.action === 'dnc.update').length;
    const n = await audited();
    assert.equal(must(await req('PUT', '/v1/dnc', { body: { add: [one] } }), 200, 'repeat').body.added, 0);
    assert.equal(await audited(), n);
  });

  test('calling hours: refused outside with retryAt, placed inside; across midnight; end = start refused', async () => {
    must(await policy({ callingHours: { start: '09:00', end: '17:00', days: [1, 2, 3, 4, 5] } }), 200, 'hours');
    try {
      fixed = MON_03Z; // Sunday 22:00 in New York
      const r = await click(NY);
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'destination_not_allowed');
      assert.equal(r.body.error.rule, 'calling_hours');
      assert.equal(r.body.error.retryAt, '2026-01-05T14:00:00.000Z', 'Monday 09:00 in New York');
      const ex = await req('GET', `/v1/routing/explain?userId=${users[0]}&to=${encodeURIComponent(NY)}`);
      assert.equal(ex.body.policy.rule, 'calling_hours');
      assert.ok(ex.body.reasons.some((x: string) => /calling hours: .*America\/New_York.*next allowed at 2026-01-05T14:00:00.000Z/.test(x)), ex.body.reasons.join('\n'));
      fixed = MON_15Z; // 10:00 in New York
      const ok = must(await click(NY), 201, 'inside calling hours').body;
      await ended(ok.id);
      // across midnight: 22:00-02:00 London time
      must(await policy({ callingHours: { start: '22:00', end: '02:00' } }), 200, 'night hours');
      const day = await click(LONDON);
      assert.equal(day.body.error.retryAt, '2026-01-05T22:00:00.000Z');
      fixed = Date.parse('2026-01-06T01:30:00Z');
      await ended(must(await click(LONDON), 201, 'inside the night window').body.id);
      const zero = await policy({ callingHours: { start: '09:00', end: '09:00' } });
      assert.equal(zero.status, 400);
      assert.match(zero.body.error.message, /across midnight/);
    } finally {
      fixed = null;
      must(await policy(), 200, 'hours lifted');
    }
  });

  test('a trial shows the cost per call on each provider, from that provider\'s rate table', async () => {
    const start = must(await req('POST', '/v1/trials', { body: { providerIds: [a, b], to: NY, calls: 2, concurrency: 2, hangUpAfterMs: 5000 } }), 202, 'trial');
    const t = await waitTrial(gw, key, start.body.id);
    const [ra, rb] = t.report;
    // a ~1 s call: A bills a minute at +1212's 0.015; B bills its 30 s minimum at +1's 0.008/min
    assert.deepEqual(ra.cost, { calls: 2, billedMinutes: 2, total: { amount: 0.03, currency: 'USD' }, perCall: { amount: 0.015, currency: 'USD' }, unpriced: 0 });
    assert.deepEqual(rb.cost, { calls: 2, billedMinutes: 1, total: { amount: 0.008, currency: 'USD' }, perCall: { amount: 0.004, currency: 'USD' }, unpriced: 0 });
    must(await req('DELETE', `/v1/providers/${b}/rates`), 204, 'no table on B');
    const again = must(await req('GET', `/v1/trials/${start.body.id}`), 200, 'report').body;
    const { billedMinutes: _talk, ...unpriced } = again.report[1].cost;
    assert.deepEqual(unpriced, { calls: 2, total: null, perCall: null, unpriced: 2 }, 'no table: unpriced');
    const tb = { currency: 'USD', rates: [{ prefix: '+1', perMinute: 0.008, increment: 6, minimum: 30 }, { prefix: '+44', perMinute: 0.05, increment: 60 }] };
    must(await req('PUT', `/v1/providers/${b}/rates`, { body: tb }), 200, "B's table back");
  });

  test("a failover shows the caller id of the provider that dials (its own pool's, sticky there)", async () => {
    const u = uid();
    must(await putUser(gw, key, u, { region: 'US', phone: '+13125550100' }), 201, 'user');
    const f = must(
      await req('POST', '/v1/providers', { body: { kind: 'sim', name: 'sim down', config: { ...TALK, failDial: true }, callerIdPool: ['+12125550199'], install: { scope: 'specific', userIds: [u] } } }),
      201,
      'failing provider',
    ).body.id;
    must(await req('PATCH', `/v1/providers/${b}`, { body: { callerIdPool: ['+12125550155', '+442070000155'] } }), 200, 'pool on B');
    must(await req('PUT', '/v1/routing/policy', { body: { failover: { enabled: true, order: [f, b] } } }), 200, 'failover on');
    try {
      for (const to of [NY, '+12125550188']) {
        const call = must(await req('POST', '/v1/calls', { body: { userId: u, to } }), 201, 'failed over').body;
        assert.deepEqual([call.providerId, call.failedOverFrom], [b, f]);
        assert.equal(call.callerId, '+12125550155', "B's pool number, not the failing provider's");
        assert.equal(call.from, '+12125550155', 'B dialled with it');
        assert.equal((await ended(call.id)).callerId, '+12125550155');
      }
      const ex = await req('GET', `/v1/routing/explain?userId=${u}&to=${encodeURIComponent(NY)}`);
      assert.equal(ex.body.providerId, f, 'explain is about the assigned provider');
    } finally {
      must(await req('PUT', '/v1/routing/policy', { body: { failover: { enabled: false } } }), 200, 'failover off');
    }
  });
});
