import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { zohoCrmKind, type ZohoAdapter } from '../../adapters/crm/zoho/index.js';
import { accountsServer, ACCOUNTS_BY_DC } from '../../adapters/crm/zoho/oauth.js';
import { escapeCriteriaValue, formatDuration, phoneForms } from '../../adapters/crm/zoho/format.js';
import { CrmError } from '../../src/crm/adapter.js';
import type { Backend } from '../../src/store/backend.js';
import { ZohoFake } from '../fakes/zoho/server.js';
import { backendFor, finishedCall, rid, setupOrg, silentLogger, type TestStore } from '../jobs/helpers.js';

describe('Zoho REST mode', () => {
  let fake: ZohoFake;
  let ts: TestStore;
  let ts2: TestStore;
  before(async () => {
    fake = await new ZohoFake({ apiBasePath: '/dc-api' }).start();
    const prefix = `dgt-${rid()}:`;
    ts = await backendFor('redis', prefix);
    // a second backend on the same keys: a second gateway/worker instance
    ts2 = await backendFor('redis', prefix);
  });
  after(async () => {
    await fake.close();
    await ts.close();
    await ts2.close();
  });

  const adapter = (orgId: string, extra: Record<string, unknown> = {}, backend: Backend = ts.backend): ZohoAdapter =>
    zohoCrmKind.create({ orgId, config: fake.config(extra), shared: backend.shared, logger: silentLogger }) as ZohoAdapter;

  test('data centres map to their accounts servers; accountsUrl overrides; unknown DC is refused', () => {
    const base = { clientId: 'a', clientSecret: 'b', refreshToken: 'c' };
    assert.equal(accountsServer({ ...base, dataCenter: 'com' }), 'https://accounts.zoho.com');
    assert.equal(accountsServer({ ...base, dataCenter: 'eu' }), 'https://accounts.zoho.eu');
    assert.equal(accountsServer({ ...base, dataCenter: 'in' }), 'https://accounts.zoho.in');
    assert.equal(accountsServer({ ...base, dataCenter: 'com.au' }), 'https://accounts.zoho.com.au');
    assert.equal(accountsServer({ ...base, dataCenter: 'com.cn' }), 'https://accounts.zoho.com.cn');
    assert.equal(accountsServer({ ...base, dataCenter: 'jp' }), 'https://accounts.zoho.jp');
    assert.equal(accountsServer({ ...base, dataCenter: 'ca' }), 'https://accounts.zohocloud.ca');
    assert.equal(Object.keys(ACCOUNTS_BY_DC).length, 7);
    assert.equal(accountsServer({ ...base, dataCenter: 'eu', accountsUrl: 'http://127.0.0.1:9/' }), 'http://127.0.0.1:9');
    assert.throws(() => zohoCrmKind.create({ orgId: 'o', config: { ...base, dataCenter: 'mars' }, shared: ts.backend.shared, logger: silentLogger }), CrmError);
  });

  test('refreshes a token and uses the api_domain it came with', async () => {
    const grants = fake.tokenGrants;
    const n = fake.log.length;
    await adapter(rid('org_')).findByPhone('+19995550000');
    assert.equal(fake.tokenGrants, grants + 1);
    const calls = fake.log.slice(n);
    assert.ok(calls.length > 0 && calls.every((c) => c.status !== 404), 'API calls went to api_domain (served under /dc-api only)');
  });

  test('search order Contacts → Leads → Accounts, E.164 and national forms, Accounts without Mobile', async () => {
    const orgId = rid('org_');
    const a = adapter(orgId);
    fake.addRecord('Leads', { Last_Name: 'Lead', Phone: '+14155550111' });
    const contact = fake.addRecord('Contacts', { First_Name: 'Ada', Last_Name: 'Contact', Mobile: '+14155550111' });
    const m1 = await a.findByPhone('+14155550111');
    assert.deepEqual(m1, { module: 'Contacts', id: contact.id, name: 'Ada Contact' }, 'Contacts win over Leads');

    const lead = fake.addRecord('Leads', { Last_Name: 'Nat', Phone: '(415) 555-0122' });
    assert.equal((await a.findByPhone('+14155550122'))?.id, lead.id, 'national formatted form with escaped parentheses');

    const acct = fake.addRecord('Accounts', { Account_Name: 'Acme Ltd', Phone: '020 7946 0958' });
    assert.deepEqual(await a.findByPhone('+442079460958'), { module: 'Accounts', id: acct.id, name: 'Acme Ltd' }, 'UK national form with trunk 0');

    const digits = fake.addRecord('Contacts', { Last_Name: 'Digits', Phone: '4155550133' });
    assert.equal((await a.findByPhone('+14155550133'))?.id, digits.id);

    assert.equal(await a.findByPhone('+14155550999'), null, '204 everywhere = no match');
    const badQueries = fake.log.filter((l) => l.path.endsWith('/search') && l.status === 400);
    assert.equal(badQueries.length, 0, 'every criteria was valid (escaping, fields per module, ≤ 10 conditions)');
  });

  test('criteria escaping and phone forms', () => {
    assert.equal(escapeCriteriaValue('(415) 555,0100\\'), '\\(415\\) 555\\,0100\\\\');
    assert.deepEqual(phoneForms('+14155550100'), ['+14155550100', '+1 415 555 0100', '(415) 555-0100', '4155550100']);
    assert.equal(formatDuration(125), '02:05');
    assert.equal(formatDuration(4503), '75:03');
    assert.equal(formatDuration(125, 'hh:mm'), '00:03');
  });

  test('a change after the log updates the same Calls record (PUT), never inserts a second one', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null);
    const call = await finishedCall(ts.backend, orgId, userId, { customer: '+14155550155', durationSec: 30 });
    const a = adapter(orgId);
    const { recordId } = await a.writeCallLog({ call, user: null, record: null });
    const count = fake.calls().length;
    const noted = { ...call, notes: 'Asked for a callback', disposition: 'callback', subject: 'Callback' };
    const base = { user: null, recordId: recordId!, n: 1, idempotencyKey: `${call.id}:notes:1`, fields: {} };
    await a.updateCallLog!({ ...base, call: noted, record: null, group: 'notes' });
    const deal = fake.addRecord('Deals', { Deal_Name: 'Big one' });
    await a.updateCallLog!({ ...base, call: noted, record: { module: 'Deals', id: deal.id }, group: 'record' });
    const withRec = { ...noted, recording: { status: 'available' as const, url: 'https://gw.example/v1/recordings/c?token=t' } };
    await a.updateCallLog!({ ...base, call: withRec, record: null, group: 'recording' });
    assert.equal(fake.calls().length, count, 'no second record');
    const rec = fake.calls().find((c) => c.id === recordId)!;
    assert.match(String(rec.Description), /Asked for a callback/);
    assert.match(String(rec.Description), new RegExp(`^dialgate-call-id: ${call.id}$`, 'm'), 'the marker survives');
    assert.deepEqual([rec.Subject, rec.Call_Result], ['Callback', 'callback']);
    assert.deepEqual([rec.What_Id, rec.$se_module], [{ id: deal.id }, 'Deals']);
    assert.equal(rec.Voice_Recording__s, withRec.recording.url);
    assert.deepEqual(fake.callUpdates.filter((u) => u.id === recordId).length, 3);
  });

  test('inserts one Calls record with the documented fields, linked to a contact, owned by the user', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null, { crmUserId: 'zu-1' });
    const contact = fake.addRecord('Contacts', { Last_Name: 'Link', Phone: '+14155550144' });
    const call = await finishedCall(ts.backend, orgId, userId, { customer: '+14155550144', durationSec: 125 });
    const user = await ts.backend.directory.getUser(orgId, userId);
    const res = await adapter(orgId).writeCallLog({ call, user, record: { module: 'Contacts', id: contact.id } });
    const rec = fake.calls().find((c) => c.id === res.recordId);
    assert.ok(rec);
    assert.equal(rec.Subject, 'Outbound call to +14155550144');
    assert.equal(rec.Call_Type, 'Outbound');
    assert.equal(rec.Call_Start_Time, `${call.answeredAt!.slice(0, 19)}+00:00`);
    assert.equal(rec.Call_Duration, '02:05');
    assert.deepEqual(rec.Who_Id, { id: contact.id });
    assert.equal(rec.What_Id, undefined);
    assert.deepEqual(rec.Owner, { id: 'zu-1' });
    assert.match(String(rec.Description), new RegExp(`^dialgate-call-id: ${call.id}$`, 'm'));
  });

  test('inbound unanswered = Missed (no duration); inbound answered = Inbound; Accounts and Leads go to What_Id + $se_module', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null);
    const acct = fake.addRecord('Accounts', { Account_Name: 'Acct', Phone: '+14155550155' });
    const lead = fake.addRecord('Leads', { Last_Name: 'L', Phone: '+14155550166' });
    const a = adapter(orgId);
    const missed = await finishedCall(ts.backend, orgId, userId, { direction: 'inbound', customer: '+14155550155', outcome: 'no-answer' });
    const r1 = await a.writeCallLog({ call: missed, user: null, record: { module: 'Accounts', id: acct.id } });
    const rec1 = fake.calls().find((c) => c.id === r1.recordId)!;
    assert.equal(rec1.Call_Type, 'Missed');
    assert.equal(rec1.Call_Duration, undefined);
    assert.equal(rec1.Subject, 'Missed call from +14155550155');
    assert.deepEqual(rec1.What_Id, { id: acct.id });
    assert.equal(rec1.$se_module, 'Accounts');

    const answered = await finishedCall(ts.backend, orgId, userId, { direction: 'inbound', customer: '+14155550166', durationSec: 9 });
    const r2 = await a.writeCallLog({ call: answered, user: null, record: { module: 'Leads', id: lead.id } });
    const rec2 = fake.calls().find((c) => c.id === r2.recordId)!;
    assert.equal(rec2.Call_Type, 'Inbound');
    assert.equal(rec2.Call_Duration, '00:09');
    assert.equal(rec2.$se_module, 'Leads');

    const hhmm = adapter(orgId, { callDurationFormat: 'hh:mm' });
    const r3 = await hhmm.writeCallLog({ call: answered, user: null, record: null });
    assert.equal(fake.calls().find((c) => c.id === r3.recordId)!.Call_Duration, '00:01');
  });

  test('a retry looks for the record an earlier attempt committed and does not insert again', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null);
    const call = await finishedCall(ts.backend, orgId, userId);
    const a = adapter(orgId);
    fake.dropNextCommits = 1;
    await assert.rejects(a.writeCallLog({ call, user: null, record: null, attempt: 1 }), (e: unknown) => e instanceof CrmError && e.retryable);
    const mine = () => fake.calls().filter((c) => String(c.Description).includes(call.id));
    assert.equal(mine().length, 1, 'Zoho committed the first attempt');
    const r = await a.writeCallLog({ call, user: null, record: null, attempt: 2 });
    assert.equal(r.alreadyLogged, true);
    assert.equal(r.recordId, mine()[0].id);
    assert.equal(mine().length, 1);
    // a first attempt does not spend a search
    const call2 = await finishedCall(ts.backend, orgId, userId);
    const n = fake.log.length;
    await a.writeCallLog({ call: call2, user: null, record: null, attempt: 1 });
    assert.deepEqual(fake.log.slice(n).map((l) => l.path), ['/crm/v8/Calls']);
  });

  test('INVALID_TOKEN refreshes once and retries once', async () => {
    const orgId = rid('org_');
    const a = adapter(orgId);
    await a.findByPhone('+19995550001');
    const grants = fake.tokenGrants;
    fake.expireTokens();
    await a.findByPhone('+19995550001');
    assert.equal(fake.tokenGrants, grants + 1);
  });

  test('the token is shared by two instances: one refresh for both, also after INVALID_TOKEN', async () => {
    const orgId = rid('org_');
    const a = adapter(orgId, {}, ts.backend);
    const b = adapter(orgId, {}, ts2.backend);
    const grants = fake.tokenGrants;
    await Promise.all([...Array(8)].map((_, i) => (i % 2 ? a : b).findByPhone('+19995550002')));
    assert.equal(fake.tokenGrants, grants + 1);
    fake.expireTokens();
    await Promise.all([...Array(8)].map((_, i) => (i % 2 ? a : b).findByPhone('+19995550002')));
    assert.equal(fake.tokenGrants, grants + 2);
    assert.equal(fake.log.filter((l) => l.status === 401).length > 0, true);
  });

  test('429 carries Retry-After and 5xx is retryable; INVALID_DATA / MANDATORY_NOT_FOUND are permanent with the reason', async () => {
    const { orgId, userId } = await setupOrg(ts.backend, null, { crmUserId: 'zu-unknown' });
    const call = await finishedCall(ts.backend, orgId, userId);
    const user = await ts.backend.directory.getUser(orgId, userId);
    const a = adapter(orgId);
    await a.findByPhone('+19995550003'); // token first, so failNext hits the insert
    fake.failNext.push({ status: 429, retryAfterSec: 3 });
    await assert.rejects(a.writeCallLog({ call, user, record: null }), (e: unknown) => e instanceof CrmError && e.retryable && e.retryAfterMs === 3000 && e.code === 'TOO_MANY_REQUESTS');
    fake.failNext.push({ status: 503 });
    await assert.rejects(a.writeCallLog({ call, user, record: null }), (e: unknown) => e instanceof CrmError && e.retryable);
    fake.knownUsers = new Set(['zu-1']);
    try {
      await assert.rejects(
        a.writeCallLog({ call, user, record: null }),
        (e: unknown) => e instanceof CrmError && !e.retryable && e.code === 'INVALID_DATA' && /Owner/.test(e.message),
      );
    } finally {
      fake.knownUsers = null;
    }
    await assert.rejects(
      a.writeCallLog({ call, user, record: { module: 'Contacts', id: 'no-such-contact' } }),
      (e: unknown) => e instanceof CrmError && !e.retryable && /INVALID_DATA \(Who_Id\)/.test(e.message),
    );
    assert.equal(fake.calls().filter((c) => String(c.Description).includes(call.id)).length, 0);
  });

  test('wrong client secret: a permanent error that never shows the secret or refresh token', async () => {
    const a = adapter(rid('org_'), { clientSecret: 'wrong-secret-value' });
    await assert.rejects(a.findByPhone('+19995550004'), (e: unknown) => {
      assert.ok(e instanceof CrmError);
      assert.equal(e.retryable, false);
      assert.match(e.message, /invalid_client/);
      assert.ok(!e.message.includes('wrong-secret-value') && !e.message.includes(fake.refreshToken));
      return true;
    });
    assert.ok(zohoCrmKind.secretFields.includes('clientSecret') && zohoCrmKind.secretFields.includes('refreshToken'));
  });
});
