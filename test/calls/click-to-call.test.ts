// POST /v1/calls end to end through the sim provider, on both stores: normalisation, the full
// status progression, every outcome, the refusals (404 / 409 / 422 / 503), hang-up and cancel,
// listing with pagination, and bad input that must create no call.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FAST, FROZEN, QUICK_BUSY, STORES, getCall, installSim, must, putUser, simOrg, uid } from './setup.js';

function assertHistory(call: any, expected: string[]): void {
  assert.deepEqual(
    call.history.map((h: any) => h.status),
    expected,
    `history of ${call.id}`,
  );
  let prev = 0;
  for (const h of call.history) {
    const t = Date.parse(h.at);
    assert.ok(Number.isFinite(t), `history timestamp ${h.at} is ISO 8601`);
    assert.ok(t >= prev, 'history timestamps never go backwards');
    prev = t;
  }
}

async function waitStatus(gw: TestGateway, key: string, id: string, status: string, timeoutMs = 8000): Promise<any> {
  return eventually(
    async () => {
      const c = await getCall(gw, key, id);
      return c.status === status ? c : null;
    },
    timeoutMs,
    `call ${id} to become ${status}`,
  );
}

async function listAll(gw: TestGateway, key: string): Promise<any[]> {
  return must(await gw.req('GET', '/v1/calls?limit=100', { key }), 200, 'list calls').body.items;
}

for (const store of STORES) {
  describe(`click-to-call (${store} store)`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ store });
    });
    after(async () => {
      await gw.close();
    });

    test('201 with `to` normalised to E.164 by the user region, then queued → dialing → ringing → answered → completed', async () => {
      const o = await simOrg(gw, FAST);
      const sock = await gw.events(o.apiKey);
      try {
        const r = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '(416) 967-1111' } });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.to, '+14169671111');
        assert.equal(r.body.userId, o.userId);
        assert.equal(r.body.providerId, o.providerId);
        assert.equal(r.body.direction, 'outbound');
        assert.ok(['dialing', 'ringing', 'answered'].includes(r.body.status), r.body.status);
        assert.ok(Date.parse(r.body.createdAt) > 0);
        assert.equal(r.body.orgId, undefined, 'the org id is not part of the public call');

        const done = await waitStatus(gw, o.apiKey, r.body.id, 'completed');
        assertHistory(done, ['queued', 'dialing', 'ringing', 'answered', 'completed']);
        assert.match(done.providerCallId, /^SIM/);
        assert.ok(done.answeredAt && done.endedAt);

        // the socket saw the whole life of the call
        await sock.next((m) => m.type === 'call.created' && m.call.id === r.body.id);
        await sock.next((m) => m.type === 'call.status' && m.call.id === r.body.id && m.call.status === 'completed');
      } finally {
        sock.close();
      }
    });

    test('another region normalises by that region (GB national format)', async () => {
      const o = await simOrg(gw, FROZEN);
      const gbUser = uid();
      must(await putUser(gw, o.apiKey, gbUser, { region: 'GB' }), 201, 'put GB user');
      must(await gw.req('POST', `/v1/providers/${o.providerId}/users`, { key: o.apiKey, body: { userIds: [gbUser] } }), 200, 'assign');
      const r = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: gbUser, to: '020 7946 0018' } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.to, '+442079460018');
    });

    for (const [outcome, history] of [
      ['busy', ['queued', 'dialing', 'ringing', 'busy']],
      ['no-answer', ['queued', 'dialing', 'ringing', 'no-answer']],
      ['failed', ['queued', 'dialing', 'ringing', 'failed']],
    ] as const) {
      test(`outcome ${outcome} ends the call as ${outcome}`, async () => {
        const o = await simOrg(gw, { ...FAST, outcome });
        const r = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } }), 201, 'dial');
        const done = await waitStatus(gw, o.apiKey, r.body.id, outcome);
        assertHistory(done, [...history]);
        assert.equal(done.answeredAt, undefined);
      });
    }

    test('409 no_provider when the user has no provider; 404 for an unknown user; 422 for an invalid number', async () => {
      const o = await simOrg(gw, FROZEN);
      const loose = uid();
      must(await putUser(gw, o.apiKey, loose), 201, 'put unassigned user');

      const r409 = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: loose, to: '+14169671111' } });
      assert.equal(r409.status, 409, r409.text);
      assert.equal(r409.body.error.code, 'no_provider');

      const r404 = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: 'nobody-here', to: '+14169671111' } });
      assert.equal(r404.status, 404, r404.text);
      assert.equal(r404.body.error.code, 'user_not_found');

      const r422 = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '12' } });
      assert.equal(r422.status, 422, r422.text);
      assert.equal(r422.body.error.code, 'invalid_number');

      assert.deepEqual(await listAll(gw, o.apiKey), [], 'no call was created');
    });

    test('a failing provider answers 503 + Retry-After, and once known down refuses at once without creating calls', async () => {
      const o = await simOrg(gw, { ...FROZEN, failDial: true });
      // src/providers/breaker.ts: 5 consecutive failures open the breaker for 30 s
      for (let i = 0; i < 5; i++) {
        const r = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } });
        assert.equal(r.status, 503, r.text);
        assert.equal(r.body.error.code, 'provider_unavailable');
        assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After on every 503');
      }
      const tried = await listAll(gw, o.apiKey);
      assert.equal(tried.length, 5);
      for (const c of tried) assert.equal(c.status, 'failed');

      const t0 = Date.now();
      const r = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.error.code, 'provider_unavailable');
      const retry = Number(r.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 30, `Retry-After ${retry} within the open window`);
      assert.ok(Date.now() - t0 < 2000, 'answered at once');
      assert.equal((await listAll(gw, o.apiKey)).length, 5, 'the known-down provider was not dialled again');

      const m = (await gw.req('GET', '/metrics')).text;
      assert.match(m, /dialgate_calls_dispatched_total\{provider_kind="sim",provider_id="[^"]+",result="provider_unavailable"\} \d+/);
    });

    test('DELETE cancels a ringing call (canceled) and hangs up an answered one (completed); 409 once ended, 404 unknown', async () => {
      const ringing = await simOrg(gw, { ringAfterMs: 10, answerAfterMs: 3_600_000, durationMs: 3_600_000 });
      const c1 = must(await gw.req('POST', '/v1/calls', { key: ringing.apiKey, body: { userId: ringing.userId, to: '+14169671111' } }), 201, 'dial');
      await waitStatus(gw, ringing.apiKey, c1.body.id, 'ringing');
      const d1 = await gw.req('DELETE', `/v1/calls/${c1.body.id}`, { key: ringing.apiKey });
      assert.equal(d1.status, 202, d1.text);
      const canceled = await waitStatus(gw, ringing.apiKey, c1.body.id, 'canceled');
      assertHistory(canceled, ['queued', 'dialing', 'ringing', 'canceled']);

      const answered = await simOrg(gw, { ringAfterMs: 10, answerAfterMs: 10, durationMs: 3_600_000 });
      const c2 = must(await gw.req('POST', '/v1/calls', { key: answered.apiKey, body: { userId: answered.userId, to: '+14169671111' } }), 201, 'dial');
      await waitStatus(gw, answered.apiKey, c2.body.id, 'answered');
      const d2 = await gw.req('DELETE', `/v1/calls/${c2.body.id}`, { key: answered.apiKey });
      assert.equal(d2.status, 202, d2.text);
      const completed = await waitStatus(gw, answered.apiKey, c2.body.id, 'completed');
      assertHistory(completed, ['queued', 'dialing', 'ringing', 'answered', 'completed']);
      assert.equal(typeof completed.durationSec, 'number');

      const again = await gw.req('DELETE', `/v1/calls/${c2.body.id}`, { key: answered.apiKey });
      assert.equal(again.status, 409, again.text);
      assert.equal(again.body.error.code, 'call_not_active');

      const unknown = await gw.req('DELETE', '/v1/calls/call_nope', { key: answered.apiKey });
      assert.equal(unknown.status, 404, unknown.text);
      // another org's call is not found either
      const other = await gw.req('DELETE', `/v1/calls/${c1.body.id}`, { key: answered.apiKey });
      assert.equal(other.status, 404, other.text);
      const otherGet = await gw.req('GET', `/v1/calls/${c1.body.id}`, { key: answered.apiKey });
      assert.equal(otherGet.status, 404, otherGet.text);
    });

    test('GET /v1/calls: newest first, limit + cursor pagination, userId and status filters', async () => {
      // calls that end at once (busy): a user may have only one live click-to-call
      const o = await simOrg(gw, QUICK_BUSY);
      const second = uid();
      must(await putUser(gw, o.apiKey, second), 201, 'put user 2');
      must(await gw.req('POST', `/v1/providers/${o.providerId}/users`, { key: o.apiKey, body: { userIds: [second] } }), 200, 'assign');

      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const userId = i % 2 === 0 ? o.userId : second;
        const r = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId, to: `+1416967${String(1000 + i)}` } }), 201, 'dial');
        ids.push(r.body.id);
        await waitStatus(gw, o.apiKey, r.body.id, 'busy');
        // distinct creation milliseconds so "newest first" has one right answer
        await new Promise((res) => setTimeout(res, 3));
      }
      // one call that stays live, so the status filter has two populations
      must(await gw.req('PATCH', `/v1/providers/${o.providerId}`, { key: o.apiKey, body: { config: FROZEN } }), 200, 'freeze sim');
      const live = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169672000' } }), 201, 'live dial');
      ids.push(live.body.id);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `/v1/calls?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = must(await gw.req('GET', q, { key: o.apiKey }), 200, 'page');
        assert.ok(page.body.items.length <= 3);
        seen.push(...page.body.items.map((c: any) => c.id));
        cursor = page.body.nextCursor;
        pages++;
        assert.ok(pages < 10, 'pagination terminates');
      } while (cursor);
      assert.deepEqual(seen, [...ids].reverse(), 'every call once, newest first');
      assert.equal(pages, 3);

      const mine = must(await gw.req('GET', `/v1/calls?userId=${second}&limit=100`, { key: o.apiKey }), 200, 'by user');
      assert.deepEqual(
        mine.body.items.map((c: any) => c.id),
        [ids[5], ids[3], ids[1]],
      );
      const dialing = must(await gw.req('GET', '/v1/calls?status=dialing&limit=100', { key: o.apiKey }), 200, 'by status');
      assert.deepEqual(
        dialing.body.items.map((c: any) => c.id),
        [live.body.id],
      );
      const busy = must(await gw.req('GET', `/v1/calls?status=busy&userId=${o.userId}&limit=2`, { key: o.apiKey }), 200, 'by status and user');
      assert.deepEqual(
        busy.body.items.map((c: any) => c.id),
        [ids[6], ids[4]],
      );
      const bad = await gw.req('GET', '/v1/calls?status=bogus', { key: o.apiKey });
      assert.equal(bad.status, 400, bad.text);
    });

    test('one live click-to-call per user: a second one while the first rings answers 429', async () => {
      const o = await simOrg(gw, FROZEN);
      const first = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } }), 201, 'first');
      const second = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169672222' } });
      assert.equal(second.status, 429, second.text);
      assert.ok(Number(second.headers.get('retry-after')) >= 1);
      must(await gw.req('DELETE', `/v1/calls/${first.body.id}`, { key: o.apiKey }), 202, 'cancel');
      await waitStatus(gw, o.apiKey, first.body.id, 'canceled');
      const third = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169672222' } });
      assert.equal(third.status, 201, third.text);
    });

    test('bad input gets a clear 4xx and creates no call: unknown user, bad number, huge body, bad JSON, unknown field, no key', async () => {
      const o = await simOrg(gw, FROZEN);
      const cases: Array<[string, { raw?: string; body?: unknown; key?: string | null; headers?: Record<string, string> }, number, string]> = [
        ['unknown user', { body: { userId: 'ghost', to: '+14169671111' } }, 404, 'user_not_found'],
        ['bad number', { body: { userId: o.userId, to: 'not a number' } }, 422, 'invalid_number'],
        ['huge body', { raw: JSON.stringify({ userId: o.userId, to: '+14169671111', pad: 'x'.repeat(400_000) }), headers: { 'content-type': 'application/json' } }, 413, 'payload_too_large'],
        ['bad JSON', { raw: '{"userId": "' + o.userId + '", "to": ', headers: { 'content-type': 'application/json' } }, 400, 'validation_failed'],
        ['unknown field', { body: { userId: o.userId, to: '+14169671111', extra: 1 } }, 400, 'validation_failed'],
        ['missing to', { body: { userId: o.userId } }, 400, 'validation_failed'],
        ['too long to', { body: { userId: o.userId, to: '1'.repeat(65) } }, 400, 'validation_failed'],
        ['no API key', { body: { userId: o.userId, to: '+14169671111' }, key: null }, 401, 'unauthorized'],
      ];
      for (const [what, opts, status, code] of cases) {
        const r = await gw.req('POST', '/v1/calls', { key: opts.key === null ? undefined : o.apiKey, body: opts.body, raw: opts.raw, headers: opts.headers });
        assert.equal(r.status, status, `${what}: ${r.text}`);
        assert.equal(r.body?.error?.code, code, `${what}: ${r.text}`);
        assert.equal(typeof r.body.error.message, 'string');
        assert.doesNotMatch(r.text, /at .*\.ts:\d+/, 'no stack trace');
      }
      assert.deepEqual(await listAll(gw, o.apiKey), [], 'no call was created by any bad request');
    });

    test('an org that installs a second sim provider for another user dials through that one', async () => {
      const o = await simOrg(gw, FROZEN);
      const other = uid();
      must(await putUser(gw, o.apiKey, other), 201, 'put user');
      const p2 = await installSim(gw, o.apiKey, FROZEN, [other]);
      const r = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: other, to: '+14169671111' } }), 201, 'dial');
      assert.equal(r.body.providerId, p2);
      assert.notEqual(p2, o.providerId);
    });
  });
}
