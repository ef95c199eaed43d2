// The RingCentral adapter against the fake platform: shared tokens, RingOut, session events,
// cancel, the webhook handshake and verification token, rate limits and error mapping.

import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ProviderError } from '../../src/providers/adapter.js';
import { ringcentralSpec } from '../fakes/openapi.js';
import { DEFAULT_RINGOUT_SCENARIO } from '../fakes/ringcentral/server.js';
import {
  AGENT_PHONE,
  CALLER_ID,
  CUSTOMER,
  DID,
  RecordingSink,
  SECRET,
  redisShared,
  startHarness,
  user,
  waitFor,
  type Harness,
} from './harness.js';

let h: Harness | null = null;
afterEach(async () => {
  if (h) {
    assert.deepEqual(h.fake.specViolations, [], 'the fake only sent spec-valid responses');
    await h.close();
  }
  h = null;
});

function dialReq(to = CUSTOMER, u: ReturnType<typeof user> | null = user()) {
  return { call: {} as never, user: u, to, idempotencyToken: randomBytes(8).toString('hex') };
}

async function rejects(p: Promise<unknown>, code: string): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected ProviderError, got ${err}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a ${code} rejection`);
}

describe('OAuth tokens', () => {
  test('two instances on one Redis share a single token: exactly one auth request', async () => {
    h = await startHarness();
    const prefix = `rcshare${randomBytes(4).toString('hex')}:`;
    const r1 = redisShared(prefix);
    const r2 = redisShared(prefix);
    try {
      const a = h.adapter({ shared: r1.shared });
      const b = h.adapter({ shared: r2.shared });
      const results = await Promise.all([a.dial(dialReq()), b.dial(dialReq()), a.dial(dialReq()), b.dial(dialReq())]);
      assert.equal(results.length, 4);
      assert.deepEqual(h.fake.authRequests, ['urn:ietf:params:oauth:grant-type:jwt-bearer']);
      const tokensUsed = new Set(h.fake.requestsFor('createRingOutCall').map((r) => r.authorization));
      assert.equal(tokensUsed.size, 1, 'both instances used the same bearer token');
    } finally {
      await r1.close();
      await r2.close();
    }
  });

  test('single flight: 10 concurrent dials on each of two instances make one auth request', async () => {
    h = await startHarness({ store: 'redis', fake: { limits: { Heavy: 100 } } });
    const a = h.adapter();
    const b = h.adapter();
    const dials = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).dial(dialReq()));
    const results = await Promise.all(dials);
    assert.equal(new Set(results.map((r) => r.providerCallId)).size, 20);
    assert.equal(h.fake.authRequests.length, 1);
  });

  test('refreshes proactively with the refresh token before expires_in runs out (no 401 seen)', async () => {
    h = await startHarness({ fake: { accessTokenTtlSec: 3 } });
    const a = h.adapter();
    await a.dial(dialReq());
    assert.deepEqual(h.fake.authRequests, ['urn:ietf:params:oauth:grant-type:jwt-bearer']);
    // margin is a fifth of the lifetime (600 ms): at 2.6 s the token is still valid but due
    await new Promise((r) => setTimeout(r, 2600));
    await a.dial(dialReq());
    assert.deepEqual(h.fake.authRequests, ['urn:ietf:params:oauth:grant-type:jwt-bearer', 'refresh_token']);
    assert.equal(h.fake.requests.filter((r) => r.status === 401).length, 0);
  });

  test('falls back to the JWT grant when the refresh token is refused', async () => {
    h = await startHarness({ fake: { accessTokenTtlSec: 3 } });
    const a = h.adapter();
    await a.dial(dialReq());
    h.fake.revokeRefreshTokens();
    await new Promise((r) => setTimeout(r, 2600));
    await a.dial(dialReq());
    assert.deepEqual(h.fake.authRequests, [
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ]);
  });

  test('on 401 the token is replaced once and the request retried; a second 401 is not retried', async () => {
    h = await startHarness();
    const a = h.adapter();
    await a.dial(dialReq());
    h.fake.expireAccessTokens();
    await a.dial(dialReq());
    assert.equal(h.fake.authRequests.length, 2);
    assert.equal(h.fake.requestsFor('createRingOutCall').filter((r) => r.status === 401).length, 1);

    h.fake.inject('createRingOutCall', { status: 401, body: { errorCode: 'TokenInvalid', message: 'OAuth token is invalid', errors: [{ errorCode: 'OAU-149', message: 'OAuth token is invalid' }] }, times: 5 });
    const before = h.fake.requestsFor('createRingOutCall').length;
    await rejects(a.dial(dialReq()), 'provider_auth_failed');
    assert.equal(h.fake.requestsFor('createRingOutCall').length - before, 2, 'exactly one retry, never a loop');
  });

  test('bad client credentials → provider_auth_failed, and instances stop asking for a while', async () => {
    h = await startHarness();
    const a = h.adapter({ config: { clientSecret: 'wrong-secret-value' } });
    await rejects(a.dial(dialReq()), 'provider_auth_failed');
    await rejects(a.dial(dialReq()), 'provider_auth_failed');
    assert.equal(h.fake.authRequests.length, 1, 'the failure is remembered instead of burning the 5/min auth quota');
    const health = await a.health();
    assert.equal(health.healthy, false);
  });

  test('the fake enforces the Auth group: a 6th token request within a minute gets 429 CMN-301', async () => {
    h = await startHarness();
    // six separate deployments (no shared state) must each authenticate
    const adapters = Array.from({ length: 6 }, () => h!.adapter({ shared: new (class {
      m = new Map<string, string>();
      async get(k: string) { return this.m.get(k) ?? null; }
      async set(k: string, v: string) { this.m.set(k, v); }
      async del(k: string) { this.m.delete(k); }
      async acquireLock(k: string) { if (this.m.has(k)) return null; this.m.set(k, 'x'); return 'x'; }
      async renewLock(k: string) { return this.m.has(k); }
      async releaseLock(k: string) { this.m.delete(k); }
    })() }));
    const outcomes = [];
    for (const a of adapters) outcomes.push(await a.health());
    assert.deepEqual(outcomes.map((o) => o.healthy), [true, true, true, true, true, false]);
    assert.match(outcomes[5].detail ?? '', /CMN-301/);
    const last = h.fake.requestsFor('token').at(-1)!;
    assert.equal(last.status, 429);
  });
});

describe('RingOut click-to-call', () => {
  test('the RingOut request is the documented one and validates against the spec', async () => {
    h = await startHarness();
    const a = h.adapter();
    const res = await a.dial(dialReq());
    const [rec] = h.fake.requestsFor('createRingOutCall');
    assert.equal(rec.path, '/restapi/v1.0/account/~/extension/~/ring-out');
    assert.deepEqual(rec.body, { from: { phoneNumber: AGENT_PHONE }, to: { phoneNumber: CUSTOMER }, playPrompt: false, callerId: { phoneNumber: CALLER_ID } });
    const spec = ringcentralSpec();
    const v = spec.validateRequest(spec.find('POST', rec.path)!, 'application/json', rec.body);
    assert.ok(v.ok, v.errors.join('; '));
    assert.equal(typeof res.providerCallId, 'string');
    assert.equal(res.status, 'dialing');
    assert.equal(res.from, CALLER_ID);
    assert.ok(h.metrics.some((m) => m.operation === 'createRingOut' && m.outcome === 'ok'));
    assert.ok(h.metrics.some((m) => m.operation === 'token' && m.outcome === 'ok'));
  });

  test('numeric RingOut ids (as in RingCentral samples) become strings', async () => {
    h = await startHarness({ fake: { numericRingOutIds: true } });
    const res = await h.adapter().dial(dialReq());
    assert.match(res.providerCallId, /^\d+$/);
  });

  test('trial calls (no user) ring the provider caller id first', async () => {
    h = await startHarness();
    await h.adapter().dial(dialReq(CUSTOMER, null));
    const [rec] = h.fake.requestsFor('createRingOutCall');
    assert.deepEqual((rec.body as any).from, { phoneNumber: CALLER_ID });
  });

  test('a user without a phone is refused before any request', async () => {
    h = await startHarness();
    await rejects(h.adapter().dial(dialReq(CUSTOMER, { ...user(), phone: undefined })), 'invalid_number');
    assert.equal(h.fake.requests.length, 0);
  });
});

async function installed(opts: Parameters<Harness['adapter']>[0] = {}) {
  const a = h!.adapter(opts);
  await a.install();
  return a;
}

describe('status from telephony session events', () => {
  test('answered call: ringing → answered → completed, correlated by numbers', async () => {
    h = await startHarness();
    const a = await installed();
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed');
    assert.deepEqual(sink.calls.get(providerCallId)!.history.map((x) => x.status), ['queued', 'dialing', 'ringing', 'answered', 'completed']);
    // the last notification (the agent leg's Disconnected) may still be in flight
    await waitFor(() => h!.fake.deliveries.length >= 6, 'all six notifications delivered');
    assert.deepEqual([...new Set(h.fake.deliveries.map((d) => d.statusCode))], [200]);
  });

  for (const [customer, expected] of [
    ['busy', 'busy'],
    ['no-answer', 'no-answer'],
  ] as const) {
    test(`customer ${customer} → ${expected}`, async () => {
      h = await startHarness();
      const a = await installed();
      h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, customer };
      const sink = h.sinks[0];
      const { providerCallId } = await a.dial(dialReq());
      sink.link(providerCallId);
      await waitFor(() => sink.finalStatus(providerCallId) === expected, expected);
      assert.ok(!sink.calls.get(providerCallId)!.history.some((x) => x.status === 'answered'));
    });
  }

  test('agent does not answer → no-answer', async () => {
    h = await startHarness();
    const a = await installed();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, agent: 'no-answer' };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'no-answer', 'no-answer');
  });

  test('shuffled and duplicated events still end completed with the answer recorded', async () => {
    h = await startHarness();
    // the production grace: a whole shuffled batch must land within it even on a loaded machine
    const a = await installed({ options: { sessions: { graceMs: 1500, retryMs: 50, retries: 20 } } });
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, order: 'shuffle', duplicate: true };
    const sink = h.sinks[0];
    for (let i = 0; i < 3; i++) {
      const { providerCallId } = await a.dial(dialReq());
      sink.link(providerCallId);
      await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed after shuffle');
      const hist = sink.calls.get(providerCallId)!.history.map((x) => x.status);
      assert.ok(hist.includes('answered'), hist.join(','));
      assert.equal(hist.filter((s) => s === 'completed').length, 1);
    }
    const seqs = h.fake.deliveries.map((d) => `${d.telephonySessionId}:${d.sequence}`);
    assert.ok(seqs.length > new Set(seqs).size, 'duplicates were delivered');
  });

  test('events landing on another instance are applied through the shared session map', async () => {
    h = await startHarness({ store: 'redis' });
    const sink = new RecordingSink(h.providerId);
    const dialer = h.adapter({ sink });
    await dialer.install();
    // the ingress now routes webhooks to a second instance sharing the same Redis
    h.adapter({ sink });
    const { providerCallId } = await dialer.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed via the other instance');
  });

  test('without notifications the RingOut poll reports the call', async () => {
    h = await startHarness();
    const a = h.adapter({ options: { poll: { intervalMs: 40 } } });
    // talk long enough for a poll to see the answered state
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, notify: false, talkMs: 400 };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed by polling');
    assert.ok(sink.calls.get(providerCallId)!.history.some((x) => x.status === 'answered'));
    const polls = h.fake.requestsFor('readRingOutCallStatus').length;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.fake.requestsFor('readRingOutCallStatus').length, polls, 'polling stops at a terminal status');
  });

  test('polling stops once a notification arrived', async () => {
    h = await startHarness();
    const a = h.adapter({ options: { poll: { intervalMs: 1000 } } });
    await a.install();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, talkMs: 'hold' };
    const sink = h.sinks[0];
    const started = Date.now();
    const { providerCallId } = await a.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'answered', 'answered');
    // past the first poll tick, which finds the notification flag and sends nothing
    await new Promise((r) => setTimeout(r, Math.max(0, 1500 - (Date.now() - started))));
    assert.equal(h.fake.requestsFor('readRingOutCallStatus').length, 0);
  });
});

describe('hang up and cancel', () => {
  test('cancel while the agent rings: DELETE ring-out (204) → canceled', async () => {
    h = await startHarness();
    const a = await installed();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, agent: 'ring' };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    const call = sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'ringing', 'ringing');
    await a.hangUp(call);
    assert.deepEqual(h.fake.requestsFor('deleteRingOutCall').map((r) => r.status), [204]);
    await waitFor(() => sink.finalStatus(providerCallId) === 'canceled', 'canceled');
  });

  test('once the agent picked up, hang-up drops the telephony session (RingOut DELETE would not stop it)', async () => {
    h = await startHarness();
    const a = await installed();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, customer: 'ring' };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    const call = sink.link(providerCallId);
    await waitFor(() => h!.fake.ringOuts.get(providerCallId)?.leg1Up && h!.fake.deliveries.length >= 3, 'agent leg up');
    await waitFor(async () => (await a.state.sessionOf(providerCallId)) !== null, 'session learned');
    await a.hangUp(call);
    assert.equal(h.fake.requestsFor('deleteRingOutCall').length, 0);
    assert.deepEqual(h.fake.requestsFor('deleteCallSession').map((r) => r.status), [204]);
    assert.equal(h.fake.requestsFor('deleteCallSession')[0].path, `/restapi/v1.0/account/~/telephony/sessions/${h.fake.ringOuts.get(providerCallId)!.telephonySessionId}`);
    await waitFor(() => sink.finalStatus(providerCallId) === 'canceled', 'canceled');
  });

  test('hang-up of an answered call ends the session → completed; a second hang-up (404) is fine', async () => {
    h = await startHarness();
    const a = await installed();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, talkMs: 'hold' };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    const call = sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'answered', 'answered');
    await a.hangUp(call);
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed');
    await a.hangUp(call);
    assert.deepEqual(h.fake.requestsFor('deleteCallSession').map((r) => r.status), [204, 404]);
  });
});

describe('webhook subscription and authentication', () => {
  test('install creates the subscription through a valid handshake (≤ 1024 bytes, token echoed)', async () => {
    h = await startHarness();
    const a = await installed();
    assert.equal(h.fake.handshakes.length, 1);
    const hs = h.fake.handshakes[0];
    assert.ok(hs.ok, hs.reason ?? "");
    assert.ok(hs.bytes <= 1024, `${hs.bytes} bytes`);
    assert.ok(hs.ms < 3000);
    const [sub] = [...h.fake.subscriptions.values()];
    assert.equal(sub.address, `${h.ingressUrl}/webhooks/ringcentral/${h.providerId}/events`);
    assert.deepEqual(sub.eventFilters, ['/restapi/v1.0/account/~/telephony/sessions']);
    assert.ok(sub.verificationToken && sub.verificationToken.length >= 32);
    assert.ok(!sub.verificationToken.includes(SECRET.clientSecret));
    const [req] = h.fake.requestsFor('createSubscription');
    const spec = ringcentralSpec();
    assert.ok(spec.validateRequest(spec.find('POST', req.path)!, 'application/json', req.body).ok);
    // installing again reuses the active subscription
    await a.install();
    assert.equal(h.fake.subscriptions.size, 1);
    assert.equal(h.fake.requestsFor('createSubscription').length, 1);
    await a.uninstall();
    assert.equal(h.fake.subscriptions.size, 0);
    assert.deepEqual(h.fake.requestsFor('deleteSubscription').map((r) => r.status), [204]);
  });

  test('a handshake the gateway cannot answer fails install with SUB-525', async () => {
    h = await startHarness();
    const a = h.adapter();
    // the ingress only knows this provider's id: a different base URL answers 404
    (a as any).subscription.address = `${h.ingressUrl}/webhooks/ringcentral/other/events`;
    const err = await rejects(a.install(), 'provider_error');
    assert.match(err.message, /SUB-525/);
    assert.equal(h.fake.handshakes[0].ok, false);
  });

  test('Verification-Token missing or forged → 403 and nothing reaches the sink', async () => {
    h = await startHarness();
    const a = await installed();
    const sink = h.sinks[0];
    sink.owners.set(DID, user());
    const address = [...h.fake.subscriptions.values()][0].address;
    const envelope = {
      uuid: '1',
      event: '/restapi/v1.0/account/1/telephony/sessions',
      timestamp: new Date().toISOString(),
      subscriptionId: 'x',
      ownerId: '1',
      body: {
        sequence: 2,
        telephonySessionId: 's-forged',
        eventTime: new Date().toISOString(),
        origin: { type: 'Call' },
        parties: [{ extensionId: '1', direction: 'Inbound', to: { phoneNumber: DID, extensionId: '1' }, from: { phoneNumber: CUSTOMER }, status: { code: 'Setup' } }],
      },
    };
    const missing = await h.fake.postRaw(address, envelope, {});
    const forged = await h.fake.postRaw(address, envelope, { 'verification-token': 'forged-token-forged-token-forged' });
    const real = [...h.fake.subscriptions.values()][0].verificationToken!;
    // one character off (never the same character: a token ending in "x" once made this pass as the real one)
    const almost = await h.fake.postRaw(address, envelope, { 'verification-token': real.slice(0, -1) + (real.endsWith('x') ? 'y' : 'x') });
    assert.deepEqual([missing.statusCode, forged.statusCode, almost.statusCode], [403, 403, 403]);
    assert.ok(!missing.body.includes(SECRET.clientSecret));
    assert.equal(sink.inboundEvents.length, 0);
    assert.equal(sink.statusEvents.length, 0);
    // the genuine token is accepted
    const ok = await h.fake.postRaw(address, envelope, { 'verification-token': [...h.fake.subscriptions.values()][0].verificationToken! });
    assert.equal(ok.statusCode, 200);
    assert.equal(sink.inboundEvents.length, 1);
    void a;
  });

  test('maintenance renews before expiry and recreates blacklisted or vanished subscriptions', async () => {
    h = await startHarness();
    // renewal is due in the last quarter of the lifetime: 3 s into a 4 s subscription
    const a = h.adapter({ options: { subscription: { ttlSec: 4, checkMs: 20 } } });
    await a.install();
    const first = (await a.subscription.record())!.id;
    await new Promise((r) => setTimeout(r, 3200));
    await a.subscription.check();
    assert.equal(h.fake.requestsFor('renewSubscription').length, 1);
    assert.equal((await a.subscription.record())!.id, first);

    await new Promise((r) => setTimeout(r, 30));
    h.fake.blacklist(first);
    await a.subscription.check();
    const second = (await a.subscription.record())!.id;
    assert.notEqual(second, first);
    assert.equal(h.fake.handshakes.length, 2);
    assert.equal(h.fake.subscriptions.get(second)!.status, 'Active');

    await new Promise((r) => setTimeout(r, 30));
    h.fake.forget(second);
    await a.subscription.check();
    const third = (await a.subscription.record())!.id;
    assert.ok(third !== second && h.fake.subscriptions.has(third));
  });
});

describe('inbound calls', () => {
  test('an inbound session pops once (duplicates and shuffling included) and ends completed', async () => {
    h = await startHarness();
    await installed();
    const sink = h.sinks[0];
    sink.owners.set(DID, user());
    const tsid = h.fake.placeInbound({ from: CUSTOMER, did: DID, answer: true, duplicate: true });
    await waitFor(() => sink.finalStatus(tsid) === 'completed', 'inbound completed');
    assert.deepEqual(sink.inboundEvents.map((e) => [e.providerCallId, e.from, e.to]), [[tsid, CUSTOMER, DID]]);
    assert.ok(sink.calls.get(tsid)!.history.some((x) => x.status === 'answered'));
  });

  test('an unanswered inbound call ends no-answer, also when shuffled', async () => {
    h = await startHarness();
    await installed();
    const sink = h.sinks[0];
    sink.owners.set(DID, user());
    const tsid = h.fake.placeInbound({ from: CUSTOMER, did: DID, answer: false, order: 'shuffle' });
    await waitFor(() => sink.finalStatus(tsid) === 'no-answer', 'missed call');
    assert.equal(sink.inboundEvents.length, 1);
  });

  test('a DID nobody owns is offered once and then ignored', async () => {
    h = await startHarness();
    await installed();
    const sink = h.sinks[0];
    h.fake.placeInbound({ from: CUSTOMER, did: '+16505550177', answer: true, talkMs: 10 });
    await waitFor(() => h!.fake.deliveries.length >= 7, 'all events delivered');
    assert.equal(sink.inboundEvents.length, 1);
    assert.equal(sink.statusEvents.length, 0);
  });
});

describe('rate limits and errors', () => {
  test('429 with Retry-After: no request to that group inside the penalty window, on any instance', async () => {
    h = await startHarness({ store: 'redis' });
    const a = h.adapter();
    const b = h.adapter();
    await a.dial(dialReq());
    h.fake.rateLimitNext('createRingOutCall', 30);
    const first = await rejects(a.dial(dialReq()), 'rate_limited');
    assert.equal(first.retryAfter, 30);
    const sent = h.fake.requestsFor('createRingOutCall').length;
    const second = await rejects(b.dial(dialReq()), 'rate_limited');
    assert.ok(second.retryAfter! > 0 && second.retryAfter! <= 30);
    // cancelling is in the same (Heavy) group: held back too
    const call = h.sinks[0].link('123');
    await rejects(a.hangUp(call), 'rate_limited');
    assert.equal(h.fake.requestsFor('createRingOutCall').length, sent, 'nothing was sent inside the window');
    assert.equal(h.fake.requestsFor('deleteRingOutCall').length, 0);
    // other groups are not affected
    const light = await a.api.call({ operation: 'readRingOut', method: 'GET', path: '/restapi/v1.0/account/~/extension/~/ring-out/1', accept: [404] });
    assert.equal(light.status, 404);
    assert.ok(h.metrics.some((m) => m.operation === 'createRingOut' && m.outcome === 'rate_limited'));
  });

  test('429 without Retry-After holds the group back for at least 30 s', async () => {
    h = await startHarness();
    const a = h.adapter();
    await a.dial(dialReq());
    h.fake.rateLimitNext('createRingOutCall', null);
    await rejects(a.dial(dialReq()), 'rate_limited');
    const again = await rejects(a.dial(dialReq()), 'rate_limited');
    assert.ok(again.retryAfter! >= 30, String(again.retryAfter));
  });

  test('errors map by errorCode: invalid number, permission, 5xx, timeout', async () => {
    h = await startHarness();
    const a = h.adapter();
    h.fake.invalidNumbers.add('+14155550000');
    const bad = await rejects(a.dial(dialReq('+14155550000')), 'invalid_number');
    assert.match(bad.message, /CMN-101/);
    h.fake.inject('createRingOutCall', { status: 403, body: { errorCode: 'CMN-401', message: 'In order to call this API endpoint, application needs to have [RingOut] permission', errors: [{ errorCode: 'CMN-401', message: 'needs [RingOut] permission' }] } });
    await rejects(a.dial(dialReq()), 'provider_auth_failed');
    h.fake.inject('createRingOutCall', { status: 503 });
    const down = await rejects(a.dial(dialReq()), 'provider_unavailable');
    assert.equal(down.notAccepted, true);
    h.fake.inject('createRingOutCall', { status: 500, body: { errorCode: 'CMN-203', message: 'Internal Server Error', errors: [{ errorCode: 'CMN-203', message: 'Internal Server Error' }] } });
    const half = await rejects(a.dial(dialReq()), 'provider_unavailable');
    assert.equal(half.notAccepted, false, 'a 500 may have started the call');
    h.fake.inject('createRingOutCall', { status: 200, delayMs: 4000 });
    const started = Date.now();
    const slow = await rejects(a.dial(dialReq()), 'provider_unavailable');
    assert.ok(Date.now() - started < 3500, 'bounded by timeoutMs');
    assert.equal(slow.notAccepted, false);
    assert.ok(h.metrics.some((m) => m.operation === 'createRingOut' && m.outcome === 'timeout'));
  });

  test('no secret or token ever appears in logs or error messages', async () => {
    h = await startHarness({ fake: { accessTokenTtlSec: 3 } });
    const a = await installed();
    const messages: string[] = [];
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed');
    h.fake.expireAccessTokens();
    await a.dial(dialReq());
    for (const inject of [
      () => h!.fake.inject('createRingOutCall', { status: 401, times: 2 }),
      () => h!.fake.inject('createRingOutCall', { status: 503 }),
      () => h!.fake.rateLimitNext('createRingOutCall', 30),
    ]) {
      inject();
      try {
        await a.dial(dialReq());
      } catch (err) {
        messages.push((err as Error).message, JSON.stringify(err));
      }
    }
    const bad = h.adapter({ config: { jwt: 'another-jwt-that-is-wrong' } });
    try {
      await bad.dial(dialReq());
    } catch (err) {
      messages.push((err as Error).message, JSON.stringify(err));
    }
    const tokens = new Set(h.fake.requests.map((r) => r.authorization?.replace(/^(Bearer|Basic) /, '')).filter(Boolean) as string[]);
    assert.ok(tokens.size >= 2);
    const everything = h.logs.text() + messages.join('\n');
    assert.ok(h.logs.lines.length > 5, 'the adapter did log');
    for (const secret of [SECRET.clientSecret, SECRET.jwt, 'another-jwt-that-is-wrong', ...tokens, [...h.fake.subscriptions.values()][0].verificationToken!]) {
      assert.ok(!everything.includes(secret), `leaked: ${secret.slice(0, 12)}…`);
    }
  });
});

describe('edge cases', () => {
  test('hanging up an answered inbound call drops its telephony session', async () => {
    h = await startHarness();
    const a = await installed();
    const sink = h.sinks[0];
    sink.owners.set(DID, user());
    const tsid = h.fake.placeInbound({ from: CUSTOMER, did: DID, answer: true, talkMs: 'hold' });
    await waitFor(() => sink.finalStatus(tsid) === 'answered', 'inbound answered');
    await a.hangUp(sink.calls.get(tsid)!);
    assert.deepEqual(h.fake.requestsFor('deleteCallSession').map((r) => [r.path.split('/').at(-1), r.status]), [[tsid, 204]]);
    await waitFor(() => sink.finalStatus(tsid) === 'completed', 'inbound completed');
  });

  test('trial calls hang up hangUpAfterMs after the answer', async () => {
    h = await startHarness();
    const a = await installed();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, talkMs: 'hold' };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial({ ...dialReq(CUSTOMER, null), hangUpAfterMs: 100 });
    sink.link(providerCallId, { trial: true });
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'trial call completed');
    assert.equal(h.fake.requestsFor('deleteCallSession').length, 1);
  });

  test('events that arrive before the core linked the RingOut id are retried, not lost', async () => {
    h = await startHarness();
    const a = await installed();
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    await waitFor(() => h!.fake.deliveries.length >= 2, 'first events delivered');
    sink.link(providerCallId);
    await waitFor(() => sink.finalStatus(providerCallId) === 'completed', 'completed after a late link');
    assert.ok(sink.calls.get(providerCallId)!.history.some((x) => x.status === 'ringing'));
  });

  test('close() decides a pending final status at once instead of dropping it', async () => {
    h = await startHarness();
    const a = h.adapter({ options: { sessions: { graceMs: 60_000, retryMs: 50, retries: 20 } } });
    await a.install();
    h.fake.scenario = { ...DEFAULT_RINGOUT_SCENARIO, customer: 'busy' };
    const sink = h.sinks[0];
    const { providerCallId } = await a.dial(dialReq());
    sink.link(providerCallId);
    await waitFor(() => h!.fake.ringOuts.get(providerCallId)?.ended && h!.fake.deliveries.length >= 5, 'call ended at the fake');
    assert.notEqual(sink.finalStatus(providerCallId), 'busy', 'still waiting for late events');
    await a.close();
    await waitFor(() => sink.finalStatus(providerCallId) === 'busy', 'busy decided on close');
  });
});

describe('fetchStatus and the health probe', () => {
  test("a RingOut's own status while it rings; gone from RingCentral: unknown (never answered) or completed (answered)", async () => {
    h = await startHarness();
    h.fake.scenario = { ...h.fake.scenario, agent: 'ring' };
    const a = h.adapter();
    const { providerCallId } = await a.dial(dialReq());
    const call = h.sinks[0].link(providerCallId);
    await waitFor(async () => {
      const r = await a.fetchStatus!(call);
      return r.state === 'known' && r.status === 'ringing';
    }, 'ringing at RingCentral');
    assert.ok(h.fake.requestsFor('readRingOutCallStatus').length > 0);
    const gone = { ...call, providerCallId: '999999' };
    assert.deepEqual(await a.fetchStatus!(gone), { state: 'unknown' });
    assert.deepEqual(await a.fetchStatus!({ ...gone, status: 'answered' }), { state: 'known', status: 'completed', cause: 'ringout:not-found' });
    assert.deepEqual(await a.fetchStatus!({ ...gone, direction: 'inbound', providerCallId: 's-nope' }), { state: 'unknown' });
    assert.ok(h.fake.requestsFor('readCallSessionStatus').length === 1, 'inbound calls: the telephony session');
    assert.deepEqual(h.fake.specViolations, []);
  });

  test('health() reads the JWT user\'s extension with a token', async () => {
    h = await startHarness();
    assert.deepEqual(await h.adapter().health(), { healthy: true });
    const [ext] = h.fake.requestsFor('readExtension');
    assert.equal(ext.path, '/restapi/v1.0/account/~/extension/~');
    assert.equal(ext.status, 200);
  });
});
