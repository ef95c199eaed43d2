import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseClickToDial, zohoCrmKind, type ZohoAdapter } from '../../adapters/crm/zoho/index.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { finishedCall, backendFor, rid, setupOrg, silentLogger, type TestStore } from '../jobs/helpers.js';
import type { Call } from '../../src/domain/types.js';

describe('Zoho PhoneBridge mode', () => {
  let fake: ZohoFake;
  let ts: TestStore;
  before(async () => {
    fake = await new ZohoFake().start();
    ts = await backendFor('memory');
  });
  after(async () => {
    await fake.close();
    await ts.close();
  });

  const adapter = (orgId: string): ZohoAdapter =>
    zohoCrmKind.create({
      orgId,
      config: fake.config({ mode: 'phonebridge', phonebridge: { authParamName: 'dgkey', authParamValue: 'pb-secret' } }),
      shared: ts.backend.shared,
      logger: silentLogger,
    }) as ZohoAdapter;

  const notifiesFor = (id: string) => fake.callnotifies.filter((n) => n.id === id);

  test('the call log is a callnotify with the outcome, never a Calls insert', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null, { crmUserId: 'zu-7', phone: '+14155559999' });
    const user = await ts.backend.directory.getUser(orgId, userId);
    const a = adapter(orgId);
    const missed = await finishedCall(ts.backend, orgId, userId, { direction: 'inbound', customer: '+14155550177', outcome: 'no-answer' });
    assert.deepEqual(await a.writeCallLog({ call: missed, user, record: null }), { skipped: true });
    const [n] = notifiesFor(missed.id);
    assert.equal(n.type, 'received');
    assert.equal(n.state, 'missed');
    assert.equal(n.from, '+14155550177', '"+" arrived encoded');
    assert.equal(n.to, '+14155559999');
    assert.equal(n.zohouser, 'zu-7');
    assert.match(n.start_time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.equal(n.start_time, missed.createdAt.slice(0, 19).replace('T', ' '), 'GMT');

    const busy = await finishedCall(ts.backend, orgId, userId, { customer: '+14155550178', outcome: 'busy' });
    await a.writeCallLog({ call: busy, user, record: null });
    assert.deepEqual(notifiesFor(busy.id).map((x) => [x.type, x.state, x.to]), [['dialed', 'busy', '+14155550178']]);

    const done = await finishedCall(ts.backend, orgId, userId, { customer: '+14155550179', durationSec: 30 });
    await a.writeCallLog({ call: done, user, record: null });
    assert.deepEqual(notifiesFor(done.id).map((x) => [x.type, x.state, x.duration]), [['dialed', 'ended', '30']]);

    assert.equal(fake.calls().length, 0, 'nothing inserted into Calls');
    assert.equal(fake.log.filter((l) => l.path.includes('/Calls')).length, 0);
  });

  test('live notify: ringing and answered for received calls; final states are left to the job', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null, { crmUserId: 'zu-8' });
    const user = await ts.backend.directory.getUser(orgId, userId);
    const a = adapter(orgId);
    const base: Call = {
      id: rid('call_'),
      orgId,
      userId,
      providerId: 'p',
      providerKind: 'sim',
      direction: 'inbound',
      from: '+14155550180',
      to: '+14155559999',
      status: 'ringing',
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      history: [],
    };
    await a.notify!(base, user);
    await a.notify!({ ...base, status: 'answered', answeredAt: new Date().toISOString() }, user);
    await a.notify!({ ...base, status: 'completed', answeredAt: base.createdAt, endedAt: new Date().toISOString(), durationSec: 3 }, user);
    // dialled calls have no ringing state in PhoneBridge
    await a.notify!({ ...base, id: rid('call_'), direction: 'outbound', status: 'ringing' }, user);
    assert.deepEqual(notifiesFor(base.id).map((n) => n.state), ['ringing', 'answered']);
    assert.equal(fake.calls().length, 0);
  });

  test('a refused callnotify is a permanent error naming Zoho\'s code', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null, { crmUserId: 'zu-9' });
    const user = await ts.backend.directory.getUser(orgId, userId);
    const missed = await finishedCall(ts.backend, orgId, userId, { direction: 'inbound', outcome: 'no-answer' });
    fake.knownUsers = new Set(['someone-else']);
    try {
      await assert.rejects(adapter(orgId).writeCallLog({ call: missed, user, record: null }), (e: any) => e.retryable === false && /INVALID_DATA/.test(e.message));
    } finally {
      fake.knownUsers = null;
    }
  });

  test('click-to-dial: the authorisation parameter is checked; zohouser and the callee are read', async () => {
    const auth = { authParamName: 'dgkey', authParamValue: 'pb-secret' };
    assert.deepEqual(parseClickToDial({ tonumber: '+14155550190', zohouser: 'zu-7', dgkey: 'pb-secret' }, auth), {
      zohoUser: 'zu-7',
      to: '+14155550190',
      authorized: true,
    });
    assert.equal(parseClickToDial({ tonumber: '1', zohouser: 'zu-7', dgkey: 'pb-secreT' }, auth).authorized, false);
    assert.equal(parseClickToDial({ tonumber: '1', zohouser: 'zu-7' }, auth).authorized, false);
    assert.equal(parseClickToDial({ tonumber: '1', dgkey: ['pb-secret'] }, auth).authorized, true, 'repeated query params');
    assert.equal(parseClickToDial({ tonumber: '1', authkey: '' }, {}).authorized, false, 'no configured value refuses all');

    const a = adapter(rid('org_'));
    await a.registerClickToDial('https://gw.example/zoho/clicktodial', 'zu-7');
    const reg = fake.clickToDial.at(-1)!;
    assert.equal(reg.clicktodialuri, 'https://gw.example/zoho/clicktodial');
    assert.deepEqual(JSON.parse(reg.authorizationparam), { name: 'dgkey', value: 'pb-secret' });
    assert.ok(zohoCrmKind.secretFields.includes('phonebridge.authParamValue'));
  });
});
