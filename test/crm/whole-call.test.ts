// Issue 16 over HTTP on Redis, with the signed-webhook CRM fake and the sim: wrap-up notes after
// the log reach the CRM as one update (a repeat sends nothing, a late one is refused), changes
// before the log are folded into it, screen pops search the webhook CRM (one match links the pop
// and the log; several give candidates, an unresolved entry and, after the agent's pick, one
// linking update; a slow, down or garbage search costs only the match), a new WebSocket gets the
// live calls first — and no call is ever logged twice.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the whole call in the CRM (webhook CRM, sim, Redis)', () => {
  let gw: TestGateway;
  let crm: WebhookCrmFake;
  let key: string;
  let simId: string;
  let slowSimId: string;
  const DID = '+14165550199';

  before(async () => {
    crm = await new WebhookCrmFake().start();
    gw = await startGateway({ store: 'redis' });
    ({ apiKey: key } = await gw.createOrg('Whole call'));
    const put = async (path: string, body: unknown) => {
      const r = await gw.req('PUT', path, { key, body });
      assert.ok(r.status < 300, `${path}: ${r.status} ${r.text}`);
      return r.body;
    };
    await put('/v1/users/alice', { region: 'CA', phone: '+14165550100', numbers: [DID] });
    await put('/v1/users/bob', { region: 'CA', phone: '+14165550101' });
    await put('/v1/crm', crm.config({ search: true }));
    const sim = await gw.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'fast', config: { ringAfterMs: 10, answerAfterMs: 30, durationMs: 80 }, install: { scope: 'specific', userIds: ['alice'] } } });
    assert.equal(sim.status, 201, sim.text);
    simId = sim.body.id;
    const slow = await gw.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'long calls', config: { ringAfterMs: 10, answerAfterMs: 20, durationMs: 60_000 }, install: { scope: 'specific', userIds: ['bob'] } } });
    assert.equal(slow.status, 201, slow.text);
    slowSimId = slow.body.id;
    crm.contacts.push(
      { module: 'Contacts', id: 'C-ONE', name: 'Olga One', phone: '(212) 555-0100' },
      { module: 'Accounts', id: 'A-CA', name: 'Maple Ltd', phone: '416.555.0188' },
      { module: 'Contacts', id: 'C-TWIN1', name: 'Tom Twin', phone: '+1 212 555 0177' },
      { module: 'Leads', id: 'L-TWIN2', name: 'Tina Twin', phone: '212-555-0177' },
    );
  });

  after(async () => {
    // no call, whatever happened above, was ever logged twice
    assert.equal(crm.duplicates, 0, 'no delivery was repeated');
    const logs = [...crm.deliveries.values()].filter((d) => d.body.type === 'call.logged');
    assert.equal(new Set(logs.map((d) => d.body.callId)).size, logs.length, 'one call.logged per call');
    await gw?.close();
    await crm?.close();
  });

  const getCall = async (id: string) => (await gw.req('GET', `/v1/calls/${id}`, { key })).body;
  const logged = (id: string) => eventually(async () => ((await getCall(id)).crmLog?.status === 'logged' ? getCall(id) : null), 8000, `call ${id} logged`);
  const click = async (body: Record<string, unknown>) => {
    const r = await gw.req('POST', '/v1/calls', { key, body: { userId: 'alice', ...body } });
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };

  test('notes after the log reach the CRM as one update; the same values again send nothing', async () => {
    const id = await click({ to: '+14165550123', crmRecord: { module: 'Deals', id: 'D-1' } });
    await logged(id);
    assert.equal(crm.logsOf(id).length, 1);
    assert.equal(crm.logsOf(id)[0].key, id, 'the log keeps Idempotency-Key = call id');

    const patch = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { notes: 'Wants a quote', disposition: 'interested' } });
    assert.equal(patch.status, 200, patch.text);
    assert.deepEqual([patch.body.notes, patch.body.disposition], ['Wants a quote', 'interested']);
    await eventually(async () => crm.updatesOf(id).length === 1, 5000, 'the update');
    const [u] = crm.updatesOf(id);
    assert.equal(u.key, `${id}:notes:1`);
    assert.deepEqual(u.body, { type: 'call.log.updated', callId: id, notes: 'Wants a quote', disposition: 'interested', subject: null });

    const again = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { disposition: 'interested', notes: 'Wants a quote' } });
    assert.equal(again.status, 200);
    await sleep(400);
    assert.equal(crm.updatesOf(id).length, 1, 'a repeat sends nothing');

    const more = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { subject: 'Quote' } });
    assert.equal(more.status, 200);
    await eventually(async () => crm.updatesOf(id).length === 2, 5000, 'the second change');
    assert.equal(crm.updatesOf(id)[1].key, `${id}:notes:2`);
    assert.equal(crm.updatesOf(id)[1].body.subject, 'Quote');
    assert.equal(crm.logsOf(id).length, 1, 'never a second log');
  });

  test('wrap-up while the call is live is carried by the log itself: no update', async () => {
    const r = await gw.req('POST', '/v1/calls', { key, body: { userId: 'bob', to: '+14165550124', crmRecord: { module: 'Deals', id: 'D-2' } } });
    assert.equal(r.status, 201);
    const id = r.body.id;
    const p = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { notes: 'said during the call', disposition: 'callback' } });
    assert.equal(p.status, 200, p.text);
    assert.equal((await gw.req('DELETE', `/v1/calls/${id}`, { key })).status, 202);
    await logged(id);
    const [log] = crm.logsOf(id);
    assert.deepEqual([log.body.notes, log.body.disposition], ['said during the call', 'callback']);
    await sleep(300);
    assert.equal(crm.updatesOf(id).length, 0);
  });

  test('bad wrap-up input: oversize notes 400, unknown field 400, another org\'s call 404', async () => {
    const id = await click({ to: '+14165550125', crmRecord: { module: 'Deals', id: 'D-3' } });
    const big = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { notes: 'x'.repeat(10_001) } });
    assert.equal(big.status, 400);
    assert.equal(big.body.error.code, 'validation_failed');
    assert.equal((await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { disposition: 'x'.repeat(101) } })).status, 400);
    assert.equal((await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { status: 'completed' } })).status, 400);
    assert.equal((await gw.req('PATCH', `/v1/calls/${id}`, { key, body: {} })).status, 400);
    const other = await gw.createOrg('Other');
    const foreign = await gw.req('PATCH', `/v1/calls/${id}`, { key: other.apiKey, body: { notes: 'x' } });
    assert.equal(foreign.status, 404);
    await logged(id);
  });

  test('one match: the pop and the log are linked to it', async () => {
    const ws = await gw.events(key);
    try {
      const r = await gw.req('POST', `/webhooks/sim/${simId}/inbound`, { body: { from: '+12125550100', to: DID } });
      assert.equal(r.status, 200, r.text);
      const id = r.body.callId;
      const pop = await ws.next((m) => m.type === 'call.matched' && m.call.id === id, 5000);
      assert.deepEqual(pop.match, { module: 'Contacts', id: 'C-ONE', name: 'Olga One' });
      assert.equal(crm.searches.at(-1)?.phone, '+12125550100', 'searched in E.164');
      const call = await logged(id);
      assert.deepEqual(call.match, { module: 'Contacts', id: 'C-ONE', name: 'Olga One' });
      assert.deepEqual(crm.logsOf(id)[0].body.record, { module: 'Contacts', id: 'C-ONE' });
    } finally {
      ws.close();
    }
  });

  test('two matches: candidates, no guess; unresolved until the agent picks; then one linking update', async () => {
    const ws = await gw.events(key);
    try {
      const r = await gw.req('POST', `/webhooks/sim/${simId}/inbound`, { body: { from: '+12125550177', to: DID } });
      const id = r.body.callId;
      const pop = await ws.next((m) => m.type === 'call.matched' && m.call.id === id, 5000);
      assert.equal(pop.match, null);
      assert.deepEqual(pop.candidates.map((c: { id: string }) => c.id).sort(), ['C-TWIN1', 'L-TWIN2']);
      await logged(id);
      const [log] = crm.logsOf(id);
      assert.equal(log.body.record, null, 'written unlinked');
      const un = await gw.req('GET', '/v1/crm/unresolved', { key });
      assert.equal(un.status, 200);
      assert.ok(un.body.items.some((c: { id: string }) => c.id === id), 'listed as unresolved');

      const pick = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { crmRecord: { module: 'Leads', id: 'L-TWIN2' } } });
      assert.equal(pick.status, 200, pick.text);
      await eventually(async () => crm.updatesOf(id).length === 1, 5000, 'the linking update');
      const [u] = crm.updatesOf(id);
      assert.equal(u.key, `${id}:record:1`);
      assert.deepEqual(u.body.record, { module: 'Leads', id: 'L-TWIN2' });
      const after = await gw.req('GET', '/v1/crm/unresolved', { key });
      assert.equal(after.body.items.some((c: { id: string }) => c.id === id), false);
      await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { crmRecord: { id: 'L-TWIN2', module: 'Leads' } } });
      await sleep(300);
      assert.equal(crm.updatesOf(id).length, 1, 'the same pick again sends nothing');
      assert.equal(crm.logsOf(id).length, 1);
    } finally {
      ws.close();
    }
  });

  test('an outbound click without a record searches too, and its log is linked', async () => {
    const id = await click({ to: '(416) 555-0188' });
    const call = await logged(id);
    assert.equal(call.match?.id, 'A-CA');
    assert.deepEqual(crm.logsOf(id)[0].body.record, { module: 'Accounts', id: 'A-CA' });
    assert.ok(crm.searches.some((q) => q.phone === '+14165550188' && q.callId === id));
  });

  for (const mode of ['slow', 'down', 'garbage'] as const) {
    test(`a ${mode} search: the pop goes out with match null within about 1.5 s, the call is unaffected`, async () => {
      crm.searchMode = mode === 'slow' ? 'ok' : mode;
      crm.searchDelayMs = mode === 'slow' ? 3000 : 0;
      const ws = await gw.events(key);
      try {
        const t0 = Date.now();
        const r = await gw.req('POST', `/webhooks/sim/${simId}/inbound`, { body: { from: '+12125550100', to: DID } });
        assert.equal(r.status, 200);
        const pop = await ws.next((m) => m.type === 'call.matched' && m.call.id === r.body.callId, 5000);
        assert.ok(Date.now() - t0 < 2500, `the pop came after ${Date.now() - t0} ms`);
        assert.equal(pop.match, null);
        await logged(r.body.callId);
      } finally {
        crm.searchMode = 'ok';
        crm.searchDelayMs = 0;
        ws.close();
      }
    });
  }

  test('a new WebSocket gets the live calls first (calls.snapshot), narrowed by userId', async () => {
    const r = await gw.req('POST', '/v1/calls', { key, body: { userId: 'bob', to: '+14165550126', crmRecord: { module: 'Deals', id: 'D-4' } } });
    const id = r.body.id;
    await eventually(async () => (await getCall(id)).status === 'answered', 3000, 'answered');
    const all = await gw.events(key);
    const mine = await gw.events(key, 'bob');
    const others = await gw.events(key, 'alice');
    try {
      assert.equal(all.messages[0].type, 'calls.snapshot', 'the first message');
      assert.ok(all.messages[0].calls.some((c: { id: string; status: string }) => c.id === id && c.status === 'answered'));
      assert.deepEqual(mine.messages[0].calls.map((c: { id: string }) => c.id), [id]);
      assert.equal(others.messages[0].calls.some((c: { id: string }) => c.id === id), false);
      assert.equal(mine.messages[0].calls[0].changes, undefined, 'internal counters never shown');
    } finally {
      all.close();
      mine.close();
      others.close();
      await gw.req('DELETE', `/v1/calls/${id}`, { key });
      await logged(id);
    }
  });
});

describe('the wrap-up window', () => {
  test('after DIALGATE_WRAPUP_SEC a PATCH is refused with 409 wrapup_closed', async () => {
    const gw = await startGateway({ store: 'redis', env: { DIALGATE_WRAPUP_SEC: '1' } });
    try {
      const { apiKey: key } = await gw.createOrg('Wrap-up');
      await gw.req('PUT', '/v1/users/u1', { key, body: { region: 'CA', phone: '+14165550100' } });
      await gw.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 's', config: { ringAfterMs: 5, answerAfterMs: 5, durationMs: 20 }, install: { scope: 'all' } } });
      const id = (await gw.req('POST', '/v1/calls', { key, body: { userId: 'u1', to: '+14165550123' } })).body.id;
      await eventually(async () => (await gw.req('GET', `/v1/calls/${id}`, { key })).body.status === 'completed', 3000, 'ended');
      assert.equal((await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { notes: 'in time' } })).status, 200);
      await sleep(1300);
      const late = await gw.req('PATCH', `/v1/calls/${id}`, { key, body: { notes: 'too late' } });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'wrapup_closed');
      assert.equal((await gw.req('GET', `/v1/calls/${id}`, { key })).body.notes, 'in time');
    } finally {
      await gw.close();
    }
  });
});
