// Twilio API failures mapped to the gateway's errors: bad credentials, invalid numbers, 429 with
// twilio-node's backoff, 5xx, timeouts; metrics per request; health; no secret in any message or log.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { ProviderError } from '../../src/providers/adapter.js';
import { backoffMs, MAX_RETRIES } from '../../adapters/twilio/rest.js';
import { Harness, newUser } from './harness.js';

const CUSTOMER = '+14155550123';

async function dialError(h: Harness, phone = '+14155550100'): Promise<ProviderError> {
  const agent = h.addUser(newUser(`agent-${Math.random().toString(36).slice(2)}`, phone));
  try {
    await h.clickToCall(agent, CUSTOMER);
  } catch (e) {
    assert.ok(e instanceof ProviderError, `expected a ProviderError, got ${e}`);
    return e;
  }
  assert.fail('dial should have failed');
}

function assertNoSecret(h: Harness, text: string) {
  assert.ok(!text.includes(h.fake.authToken), 'auth token leaked');
  assert.ok(!text.includes(Buffer.from(`${h.fake.accountSid}:${h.fake.authToken}`).toString('base64')), 'basic auth leaked');
}

describe('Twilio API errors', () => {
  let h: Harness;
  const sleeps: number[] = [];
  before(async () => {
    h = await new Harness({ adapter: { sleep: async (ms) => void sleeps.push(ms), random: () => 0.999 } }).start();
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring' };
  });
  after(async () => {
    for (const c of h.sink.calls.values()) if (c.providerCallId) await h.adapter.hangUp(c).catch(() => undefined);
    await h.close();
  });

  test('wrong credentials: 401 / 20003 → provider_auth_failed, with no secret in the message; health turns unhealthy', async () => {
    h.build({ authToken: 'not-the-token-0123456789abcdef' });
    const e = await dialError(h);
    assert.equal(e.code, 'provider_auth_failed');
    assert.equal(e.notAccepted, true);
    assert.match(e.message, /20003/);
    assert.ok(!e.message.includes('not-the-token'));
    const last = h.fake.requests.at(-1)!;
    assert.equal(last.status, 401);
    assert.deepEqual((await h.adapter.health()).healthy, false);
    assert.ok(!h.logLines.join('').includes('not-the-token'));
    h.build();
    assert.deepEqual(await h.adapter.health(), { healthy: true });
  });

  test('an API key authenticates instead of the auth token', async () => {
    const key = { sid: 'SK' + 'ab'.repeat(16), secret: 'key-secret-value' };
    (h.fake as unknown as { apiKey: typeof key }).apiKey = key;
    h.build({ apiKeySid: key.sid, apiKeySecret: key.secret });
    const agent = h.addUser(newUser('agent-key', '+14155550111'));
    await h.clickToCall(agent, CUSTOMER);
    const req = h.fake.requests.at(-1)!;
    assert.equal(req.headers.authorization, 'Basic ' + Buffer.from(`${key.sid}:${key.secret}`).toString('base64'));
    assert.equal(req.status, 201);
    h.build({ apiKeySid: key.sid, apiKeySecret: 'wrong-key-secret' });
    const e = await dialError(h);
    assert.equal(e.code, 'provider_auth_failed');
    assert.ok(!e.message.includes('wrong-key-secret'));
    h.build();
  });

  test('invalid numbers (21211, 21214, 21217) → invalid_number', async () => {
    for (const code of [21211, 21214, 21217]) {
      const phone = `+1415555${String(code).slice(-4)}`;
      h.fake.refuseNumber(phone, code);
      const e = await dialError(h, phone);
      assert.equal(e.code, 'invalid_number', `code ${code}`);
      assert.match(e.message, new RegExp(String(code)));
      assert.equal(h.fake.requests.at(-1)!.status, 400);
    }
  });

  test('a number Twilio cannot parse is refused by the fake with 21211 too', async () => {
    const e = await dialError(h, '0800 not a number');
    assert.equal(e.code, 'invalid_number');
  });

  test('other 4xx (e.g. 21212 bad caller id) → provider_error', async () => {
    h.build({ callerId: '+15005550006' });
    const fakeAny = h.fake as unknown as { refusedNumbers: Map<string, number> };
    fakeAny.refusedNumbers.set('+14155550999', 21212);
    const e = await dialError(h, '+14155550999');
    assert.equal(e.code, 'provider_error');
    assert.match(e.message, /21212/);
  });

  test('a user without a phone cannot be rung (agentIdentity phone)', async () => {
    const agent = h.addUser(newUser('agent-nophone', undefined));
    await assert.rejects(h.clickToCall(agent, CUSTOMER), (e: unknown) => e instanceof ProviderError && e.code === 'invalid_number');
  });

  test('429 twice then success: retried with full-jitter backoff, one call created', async () => {
    sleeps.length = 0;
    const before = h.fake.calls.length;
    const metricsBefore = h.metrics.length;
    h.fake.rateLimit(2);
    const agent = h.addUser(newUser('agent-429', '+14155550112'));
    const call = await h.clickToCall(agent, CUSTOMER);
    assert.ok(h.call(call.id).providerCallId);
    assert.equal(h.fake.calls.length, before + 1);
    assert.deepEqual(sleeps, [99, 199]); // 0.999 × min(3000, 100·2^n)
    const m = h.metrics.slice(metricsBefore).map((x) => x.outcome);
    assert.deepEqual(m, ['rate_limited', 'rate_limited', 'ok']);
  });

  test('429 beyond the retries → rate_limited with retryAfter, after exactly 1 + 3 attempts', async () => {
    sleeps.length = 0;
    const n = h.fake.requests.length;
    h.fake.rateLimit(MAX_RETRIES + 1);
    const e = await dialError(h);
    assert.equal(e.code, 'rate_limited');
    assert.ok((e.retryAfter ?? 0) > 0);
    assert.equal(h.fake.requests.length - n, MAX_RETRIES + 1);
    assert.equal(sleeps.length, MAX_RETRIES);
  });

  test('backoff: never above min(3000, 100·2^n)', () => {
    for (let n = 0; n < 10; n++) {
      assert.equal(backoffMs(n, () => 0), 0);
      assert.ok(backoffMs(n, () => 0.9999999) < Math.min(3000, 100 * 2 ** n));
    }
    assert.equal(backoffMs(8, () => 0.5), 1500);
  });

  test('5xx → provider_unavailable (not retried, may have been accepted)', async () => {
    for (const status of [500, 503]) {
      const n = h.fake.requests.length;
      h.fake.serverError(1, status);
      const e = await dialError(h);
      assert.equal(e.code, 'provider_unavailable');
      assert.equal(e.notAccepted, false);
      assert.equal(h.fake.requests.length - n, 1);
    }
  });

  test('a request Twilio never answers is bounded by timeoutMs', async () => {
    h.build({ timeoutMs: 300 });
    const metricsBefore = h.metrics.length;
    h.fake.hang(1, 20_000);
    const started = Date.now();
    const e = await dialError(h);
    const took = Date.now() - started;
    assert.equal(e.code, 'provider_unavailable');
    assert.match(e.message, /timed out after 300 ms/);
    assert.ok(took < 5000, `took ${took} ms`);
    assert.equal(h.metrics.slice(metricsBefore)[0].outcome, 'timeout');
    h.build();
  });

  test('health() is an authenticated read of the account: a 5xx makes it unhealthy, the account readable again healthy', async () => {
    h.build();
    assert.deepEqual(await h.adapter.health(), { healthy: true });
    assert.equal(h.fake.requests.at(-1)!.method, 'GET');
    assert.match(h.fake.requests.at(-1)!.path, /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\.json$/);
    h.fake.serverError(1, 503);
    const bad = await h.adapter.health();
    assert.equal(bad.healthy, false);
    assert.match(bad.detail ?? '', /503/);
    assert.deepEqual(await h.adapter.health(), { healthy: true });
  });

  test('unreachable API → provider_unavailable, marked as never accepted', async () => {
    // a port nobody listens on
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    h.build({ apiBaseUrl: `http://127.0.0.1:${port}` });
    const e = await dialError(h);
    assert.equal(e.code, 'provider_unavailable');
    assert.equal(e.notAccepted, true);
    h.build();
  });

  test('every API request was reported to the metrics with its operation', () => {
    assert.ok(h.metrics.length > 0);
    for (const m of h.metrics) {
      assert.ok(['calls.create', 'calls.update', 'calls.fetch', 'accounts.fetch'].includes(m.op), m.op);
      assert.ok(m.seconds >= 0 && m.seconds < 30);
      assert.ok(['ok', 'error', 'timeout', 'rate_limited'].includes(m.outcome));
    }
  });

  test('no secret in any log line', () => {
    assertNoSecret(h, h.logLines.join('\n'));
  });
});
