// The fake Twilio itself refuses what Twilio refuses, so the adapter tests prove something.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { FakeTwilio } from '../fakes/twilio/server.js';
import { twilioSpec } from '../fakes/openapi.js';

describe('fake Twilio REST API', () => {
  let fake: FakeTwilio;
  let auth: string;
  before(async () => {
    fake = await new FakeTwilio({ scenario: { agent: 'ring' } }).start();
    auth = 'Basic ' + Buffer.from(`${fake.accountSid}:${fake.authToken}`).toString('base64');
  });
  after(async () => {
    await fake.close();
  });

  async function post(path: string, form: Record<string, string | string[]>, authorization = auth) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    const res = await request(fake.url + path, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }
  const calls = () => `/2010-04-01/Accounts/${fake.accountSid}/Calls.json`;
  const good = { To: '+14155550100', From: '+15005550006', Url: 'https://gw.example/connect' };

  test('wrong credentials → 401 with Twilio\'s 20003 body', async () => {
    const r = await post(calls(), good, 'Basic ' + Buffer.from(`${fake.accountSid}:nope`).toString('base64'));
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    assert.equal((await post(calls(), good, '')).status, 401);
  });

  test('another account in the path → 401', async () => {
    const r = await post(`/2010-04-01/Accounts/AC${'0'.repeat(32)}/Calls.json`, good);
    assert.equal(r.status, 401);
  });

  test('missing To / From / Url, bad numbers, bad events, bad Timeout → 400 with Twilio codes', async () => {
    const cases: Array<[Record<string, string | string[]>, number]> = [
      [{ From: good.From, Url: good.Url }, 21201],
      [{ To: good.To, Url: good.Url }, 21213],
      [{ To: good.To, From: good.From }, 21205],
      [{ ...good, To: '4155550100' }, 21211],
      [{ ...good, From: 'nope' }, 21212],
      [{ ...good, StatusCallbackEvent: ['initiated', 'exploded'] }, 20001],
      [{ ...good, Timeout: 'soon' }, 20001],
      [{ ...good, Url: 'not a url' }, 21205],
    ];
    const before = fake.calls.length;
    for (const [form, code] of cases) {
      const r = await post(calls(), form);
      assert.equal(r.status, 400, JSON.stringify(form));
      assert.equal(r.body.code, code, JSON.stringify(form));
      assert.equal(r.body.status, 400);
      assert.match(String(r.body.more_info), /^https:\/\/www\.twilio\.com\/docs\/errors\/\d+$/);
    }
    assert.equal(fake.calls.length, before, 'nothing was dialled');
  });

  test('a valid create → 201 with a Call resource that validates against the spec', async () => {
    const r = await post(calls(), { ...good, StatusCallbackEvent: ['initiated', 'completed'] });
    assert.equal(r.status, 201);
    assert.match(String(r.body.sid), /^CA[0-9a-f]{32}$/);
    assert.equal(r.body.status, 'queued');
    const spec = twilioSpec();
    assert.ok(spec.validateResponse(spec.find('POST', calls())!, 201, r.body).ok);
    // update: unknown status refused by the spec enum, unknown call → 404
    const upd = `/2010-04-01/Accounts/${fake.accountSid}/Calls/${r.body.sid}.json`;
    assert.equal((await post(upd, { Status: 'exploded' })).status, 400);
    const missing = await post(`/2010-04-01/Accounts/${fake.accountSid}/Calls/CA${'9'.repeat(32)}.json`, { Status: 'canceled' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 20404);
    const ok = await post(upd, { Status: 'canceled' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'canceled');
    assert.ok(spec.validateResponse(spec.find('POST', upd)!, 200, ok.body).ok);
    await fake.idle();
    assert.deepEqual(fake.problems, []);
  });

  test('429 and 5xx knobs answer Twilio\'s bodies', async () => {
    fake.rateLimit(1);
    const r = await post(calls(), good);
    assert.equal(r.status, 429);
    assert.equal(r.body.code, 20429);
    fake.serverError(1, 503);
    assert.equal((await post(calls(), good)).status, 503);
  });
});
