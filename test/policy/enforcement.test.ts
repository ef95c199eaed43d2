// The dial policy enforced on every outbound path, through the HTTP API of a real gateway (Redis
// store) against the fake Twilio: click-to-call, trials, failover and Zoho PhoneBridge
// click-to-dial. A refusal answers 403 destination_not_allowed with the rule, creates no call,
// is counted in /metrics and written to GET /v1/audit — and leaves NO request at the provider:
// the fake records every request it gets, so an empty record is the proof. The last tests place
// allowed calls through the same set-up, so the fake demonstrably would have seen a leak.
// GET /v1/routing/explain is checked against the real calls.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeTwilio } from '../fakes/twilio/server.js';
import { RELAXED_LIMITS, eventually, startGateway, type Res, type TestGateway } from '../helpers/gateway.js';
import { DomainError } from '../../src/domain/errors.js';

/** The requests that could place or change a call (POSTs): the GET of the account (credentials check, health probe) asks nothing of a call. */
const posts = (f: FakeTwilio) => f.requests.filter((x) => x.method === 'POST');

const AGENT = 'agent-us';
const NARROW = 'agent-narrow';
const AGENT_PHONE = '+14155550100';
const ALLOWED = '+14155550123';
const US_PREMIUM = '+19002345678';
const US_TOLL_FREE = '+18002345678';
const GB_MOBILE = '+447400123456';
const JM_MOBILE = '+18762345678';

async function refusedTotal(tg: TestGateway, reason: string): Promise<number> {
  const r = await tg.req('GET', '/metrics');
  assert.equal(r.status, 200);
  const m = new RegExp(`^dialgate_calls_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : 0;
}

async function callCount(tg: TestGateway, key: string): Promise<number> {
  const r = await tg.req('GET', '/v1/calls?limit=100', { key });
  assert.equal(r.status, 200, r.text);
  return r.body.items.length;
}

async function refusals(tg: TestGateway, key: string): Promise<any[]> {
  const r = await tg.req('GET', '/v1/audit?limit=100', { key });
  assert.equal(r.status, 200, r.text);
  return r.body.items.filter((e: any) => e.action === 'call.refused');
}

function ruleMatches(rule: string, expected: string): boolean {
  return expected.endsWith(':') ? rule.startsWith(expected) : rule === expected;
}

describe('dial policy enforcement (HTTP, fake Twilio, Redis)', () => {
  let tg: TestGateway;
  let fake: FakeTwilio;
  let key: string;
  let orgId: string;
  let twilioId: string;

  before(async () => {
    fake = await new FakeTwilio().start();
    tg = await startGateway({ store: 'redis' });
    ({ id: orgId, apiKey: key } = await tg.createOrg('policy enforcement'));
    for (const [id, phone, extra] of [
      [AGENT, AGENT_PHONE, {}],
      [NARROW, '+14155550101', { dialPolicy: { numberTypes: { deny: ['TOLL_FREE'] } } }],
    ] as const) {
      const r = await tg.req('PUT', `/v1/users/${id}`, { key, body: { region: 'US', name: id, phone, ...extra } });
      assert.equal(r.status, 201, r.text);
    }
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: {
        kind: 'twilio',
        name: 'Twilio',
        config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: '+15005550006', apiBaseUrl: fake.url, timeoutMs: 3000 },
        install: { scope: 'all' },
      },
    });
    assert.equal(r.status, 201, r.text);
    twilioId = r.body.id;
    const crm = await tg.req('PUT', '/v1/crm', {
      key,
      body: { kind: 'zoho', mode: 'phonebridge', clientId: 'cid', clientSecret: 'csecret', refreshToken: 'rtoken', phonebridge: { authParamName: 'authkey', authParamValue: 'pb-secret' } },
    });
    assert.equal(crm.status, 200, crm.text);
  });

  after(async () => {
    await fake.close();
    await tg.close();
  });

  /**
   * Runs one attempt and checks everything a refusal must be: 403 with the rule, no call, counted
   * once under `reason`, one audit entry with the rule and the path, nothing at the provider.
   */
  async function expectRefused(
    attempt: () => Promise<Res>,
    rule: string,
    o: { path: string; reason?: string; actor?: string; providerId?: string | null },
  ): Promise<Res> {
    const reason = o.reason ?? (rule === 'emergency' ? 'emergency' : 'destination_not_allowed');
    const [calls0, counted0, audited0] = await Promise.all([callCount(tg, key), refusedTotal(tg, reason), refusals(tg, key)]);
    const r = await attempt();
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'destination_not_allowed');
    assert.ok(ruleMatches(r.body.error.rule, rule), `rule "${r.body.error.rule}", expected ${rule}`);
    assert.ok(r.body.error.message.includes(r.body.error.rule) || rule === 'emergency', 'the message names the rule');
    assert.equal(await callCount(tg, key), calls0, 'no call was created');
    assert.equal(await refusedTotal(tg, reason), counted0 + 1, `dialgate_calls_refused_total{reason="${reason}"} +1`);
    const audited = await refusals(tg, key);
    assert.equal(audited.length, audited0.length + 1, 'one call.refused audit entry');
    const entry = audited[0];
    assert.equal(entry.detail.rule, r.body.error.rule);
    assert.equal(entry.detail.path, o.path);
    if (o.actor) assert.equal(entry.actor, o.actor);
    if (o.providerId !== undefined) assert.equal(entry.detail.providerId, o.providerId);
    assert.deepEqual(posts(fake), [], 'the provider was never asked');
    assert.deepEqual(fake.calls, []);
    return r;
  }

  const click = (to: string, userId = AGENT, headers?: Record<string, string>) => () => tg.req('POST', '/v1/calls', { key, body: { userId, to }, headers });
  const trial = (to: string) => () => tg.req('POST', '/v1/trials', { key, body: { providerIds: [twilioId], to, calls: 1, hangUpAfterMs: 100 } });
  const phonebridge = (to: string, userId = AGENT) => () =>
    tg.req('POST', `/webhooks/crm/zoho/${orgId}/clicktodial/${userId}`, {
      raw: new URLSearchParams({ tonumber: to, authkey: 'pb-secret' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  const explain = async (to: string, userId = AGENT) => {
    const r = await tg.req('GET', `/v1/routing/explain?userId=${userId}&to=${encodeURIComponent(to)}`, { key });
    assert.equal(r.status, 200, r.text);
    return r.body;
  };

  describe('click-to-call', () => {
    test('a new org refuses premium-rate and countries none of its users are in', async () => {
      await expectRefused(click(US_PREMIUM), 'default.numberTypes:', { path: 'click-to-call', providerId: twilioId });
      await expectRefused(click(GB_MOBILE), "default.countries: GB is not a region of this org's users", { path: 'click-to-call' });
      await expectRefused(click(JM_MOBILE), "default.countries: JM is not a region of this org's users", { path: 'click-to-call' });
    });

    test('emergency numbers: refused, told to dial from a phone', async () => {
      for (const to of ['911', '+1 911', '112']) {
        const r = await expectRefused(click(to), 'emergency', { path: 'click-to-call' });
        assert.match(r.body.error.message, /from a phone/);
      }
    });

    test('the org policy (countries deny)', async () => {
      const cur = (await tg.req('GET', '/v1/dial-policy', { key })).body.policy;
      assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: { ...cur, countries: { deny: ['US'] } } })).status, 200);
      try {
        await expectRefused(click(ALLOWED), 'org.countries.deny: US', { path: 'click-to-call' });
      } finally {
        assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: cur })).status, 200);
      }
    });

    test("the provider's own dialPolicy narrows it (PATCH /v1/providers)", async () => {
      assert.equal((await tg.req('PATCH', `/v1/providers/${twilioId}`, { key, body: { dialPolicy: { prefixes: { deny: ['+1415'] } } } })).status, 200);
      try {
        const r = await expectRefused(click(ALLOWED), 'provider.prefixes.deny: +1415', { path: 'click-to-call', providerId: twilioId });
        // explain agrees with the real call
        const ex = await explain(ALLOWED);
        assert.deepEqual([ex.wouldDial, ex.providerId, ex.policy.allowed, ex.policy.rule], [false, null, false, r.body.error.rule]);
      } finally {
        assert.equal((await tg.req('PATCH', `/v1/providers/${twilioId}`, { key, body: { dialPolicy: null } })).status, 200);
      }
    });

    test("the user's own dialPolicy narrows it (PUT /v1/users)", async () => {
      await expectRefused(click(US_TOLL_FREE, NARROW), 'user.numberTypes.deny: TOLL_FREE', { path: 'click-to-call' });
    });

    test("the agent's own leg: a phone set to a premium-rate number is refused before any dial", async () => {
      // the provider rings the agent's phone first: with a premium-rate "phone", every click
      // would be a premium-rate call whatever the destination
      const id = 'agent-premium-phone';
      const put = await tg.req('PUT', `/v1/users/${id}`, { key, body: { region: 'US', phone: US_PREMIUM } });
      assert.equal(put.status, 201, put.text);
      const assign = await tg.req('POST', `/v1/providers/${twilioId}/users`, { key, body: { userIds: [id] } });
      assert.equal(assign.status, 200, assign.text);
      try {
        const r = await expectRefused(click(ALLOWED, id), 'agent_phone:', { path: 'click-to-call' });
        assert.match(r.body.error.rule, /PREMIUM_RATE/);
        assert.match(r.body.error.message, /agent's phone/);
        const ex = await explain(ALLOWED, id);
        assert.deepEqual([ex.wouldDial, ex.policy.allowed, ex.policy.rule], [false, false, r.body.error.rule]);
        const pb = await expectRefused(phonebridge(ALLOWED, id), 'agent_phone:', { path: 'click-to-call', actor: 'zoho-phonebridge' });
        assert.equal(pb.body.error.rule, r.body.error.rule);
      } finally {
        assert.equal((await tg.req('DELETE', `/v1/users/${id}`, { key })).status, 204);
      }
    });

    test("the agent's own leg: explicit denials apply, destination allow-lists do not", async () => {
      const cur = (await tg.req('GET', '/v1/dial-policy', { key })).body.policy;
      // an org that calls only GB still rings its US agents
      assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: { ...cur, countries: { allow: ['GB'] }, prefixes: { deny: ['+1415555010'] } } })).status, 200);
      try {
        await expectRefused(click(GB_MOBILE), 'agent_phone: org.prefixes.deny: +1415555010', { path: 'click-to-call' });
      } finally {
        assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: cur })).status, 200);
      }
    });

    test('a refusal under an Idempotency-Key is replayed, not re-evaluated into a dial', async () => {
      const headers = { 'idempotency-key': 'idem-premium-1' };
      const first = await expectRefused(click(US_PREMIUM, AGENT, headers), 'default.numberTypes:', { path: 'click-to-call' });
      const again = await click(US_PREMIUM, AGENT, headers)();
      assert.equal(again.status, 403);
      assert.deepEqual(again.body, first.body);
      assert.deepEqual(posts(fake), []);
    });
  });

  describe('trials', () => {
    test('POST /v1/trials to a refused destination: 403, no trial, no call, nothing at the provider', async () => {
      await expectRefused(trial(US_PREMIUM), 'default.numberTypes:', { path: 'trial', providerId: twilioId });
      await expectRefused(trial(GB_MOBILE), 'default.countries:', { path: 'trial' });
      await expectRefused(trial('911'), 'emergency', { path: 'trial' });
    });

    test("a trial respects each provider's own narrowing", async () => {
      assert.equal((await tg.req('PATCH', `/v1/providers/${twilioId}`, { key, body: { dialPolicy: { countries: { deny: ['US'] } } } })).status, 200);
      try {
        await expectRefused(trial(ALLOWED), 'provider.countries.deny: US', { path: 'trial', providerId: twilioId });
      } finally {
        assert.equal((await tg.req('PATCH', `/v1/providers/${twilioId}`, { key, body: { dialPolicy: null } })).status, 200);
      }
    });

    test('placeTrialCall (each call of a running trial) re-checks the policy', async () => {
      const { dispatcher: calls, backend } = tg.gw.parts;
      const provider = (await backend.directory.getProvider(orgId, twilioId))!;
      await expectRefused(
        async () => {
          try {
            await calls.placeTrialCall(orgId, provider, US_PREMIUM, { trialId: 'trl-x', hangUpAfterMs: 100, actor: 'test' });
            return { status: 201, body: {}, text: 'placed', headers: new Headers() };
          } catch (e) {
            assert.ok(e instanceof DomainError);
            return { status: e.status, body: { error: { code: e.code, message: e.message, ...e.details } }, text: e.message, headers: new Headers() };
          }
        },
        'default.numberTypes:',
        { path: 'trial', actor: 'test' },
      );
    });
    test('placeTrialCall: a malformed number is invalid_number (422), not a refused destination', async () => {
      const { dispatcher: calls, backend } = tg.gw.parts;
      const provider = (await backend.directory.getProvider(orgId, twilioId))!;
      const [counted0, audited0] = await Promise.all([refusedTotal(tg, 'destination_not_allowed'), refusals(tg, key)]);
      const err = await calls.placeTrialCall(orgId, provider, '12345', { trialId: 'trl-x', hangUpAfterMs: 100, actor: 'test' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof DomainError);
      assert.deepEqual([err.status, err.code], [422, 'invalid_number']);
      assert.equal(await refusedTotal(tg, 'destination_not_allowed'), counted0);
      assert.equal((await refusals(tg, key)).length, audited0.length);
      assert.deepEqual(posts(fake), []);
    });
  });

  describe('Zoho PhoneBridge click-to-dial', () => {
    test('refused like POST /v1/calls', async () => {
      await expectRefused(phonebridge(US_PREMIUM), 'default.numberTypes:', { path: 'click-to-call', actor: 'zoho-phonebridge' });
      const r = await expectRefused(phonebridge('911'), 'emergency', { path: 'click-to-call', actor: 'zoho-phonebridge' });
      assert.match(r.body.error.message, /from a phone/);
    });
  });

  describe('GET /v1/routing/explain', () => {
    test('shows the rule a real call is refused by', async () => {
      for (const to of [US_PREMIUM, GB_MOBILE, '911']) {
        const ex = await explain(to);
        assert.equal(ex.wouldDial, false);
        assert.equal(ex.providerId, null);
        assert.equal(ex.policy.allowed, false);
        assert.ok(ex.reasons.some((s: string) => s.includes(ex.policy.rule)), `a reason names ${ex.policy.rule}: ${ex.reasons}`);
        const real = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to } });
        assert.equal(real.status, 403);
        assert.equal(real.body.error.rule, ex.policy.rule);
      }
      assert.deepEqual(posts(fake), []);
    });
  });

  describe('GET|PUT /v1/dial-policy', () => {
    test('a new org: no policy, the default limits, and the defaults explained', async () => {
      const fresh = await tg.createOrg('policy defaults', { limits: 'default' });
      const r = await tg.req('GET', '/v1/dial-policy', { key: fresh.apiKey });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.policy, {});
      assert.deepEqual(r.body.effectiveLimits, { perUserPerMinute: 10, perOrgPerMinute: 600, perDestinationPerHour: 20, liveCallsPerUser: 1 });
      assert.deepEqual(r.body.defaults.deniedNumberTypes, ['PREMIUM_RATE', 'SHARED_COST', 'UNKNOWN']);
    });

    test('bad policies are refused with 400 and change nothing; a good one is audited', async () => {
      const cur = (await tg.req('GET', '/v1/dial-policy', { key })).body.policy;
      for (const body of [
        { countries: { allow: ['gb'] } },
        { countries: { deny: ['GBR'] } },
        { numberTypes: { deny: ['EXPENSIVE'] } },
        { prefixes: { allow: ['+44 909'] } },
        { limits: { perUserPerMinute: 0 } },
        { limits: { perOrgPerMinute: 1.5 } },
        { unknown: true },
      ]) {
        const r = await tg.req('PUT', '/v1/dial-policy', { key, body });
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.body.error.code, 'validation_failed');
      }
      assert.deepEqual((await tg.req('GET', '/v1/dial-policy', { key })).body.policy, cur);
      const next = { ...cur, countries: { deny: ['CU'] } };
      assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: next })).status, 200);
      const entry = (await tg.req('GET', '/v1/audit?limit=5', { key })).body.items.find((e: any) => e.action === 'dial_policy.update');
      assert.deepEqual(entry.after, next);
      assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: cur })).status, 200);
    });
  });

  // ---- from here on the provider is asked: the same set-up, allowed destinations ------------

  describe('allowed destinations reach the provider (the fake would have seen a leak)', () => {
    test('click-to-call: explain and the real call agree; Twilio gets exactly one create', async () => {
      const ex = await explain(ALLOWED);
      assert.deepEqual([ex.wouldDial, ex.providerId, ex.policy.allowed, ex.policy.rule], [true, twilioId, true, 'allowed']);
      const r = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to: ALLOWED } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.providerId, ex.providerId);
      const creates = posts(fake).filter((x) => x.path.endsWith('/Calls.json'));
      assert.equal(creates.length, 1);
      assert.equal(creates[0].headers['i-twilio-idempotency-token'], r.body.id);
      await fake.idle();
      await eventually(async () => (await tg.req('GET', `/v1/calls/${r.body.id}`, { key })).body?.status === 'completed', 15_000, 'completed');
    });

    test('an org prefix allow opens exactly that premium-rate range', async () => {
      const cur = (await tg.req('GET', '/v1/dial-policy', { key })).body.policy;
      assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: { ...cur, prefixes: { allow: ['+1415', '+1900234'] } } })).status, 200);
      try {
        const ex = await explain(US_PREMIUM);
        assert.deepEqual([ex.wouldDial, ex.policy.rule, ex.policy.numberType], [true, 'org.prefixes.allow: +1900234', 'PREMIUM_RATE']);
        const before = posts(fake).length;
        const r = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to: US_PREMIUM } });
        assert.equal(r.status, 201, r.text);
        assert.equal(posts(fake).length, before + 1);
        await fake.idle();
        // another premium-rate number of the same country stays refused
        const other = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to: '+19005550100' } });
        assert.equal(other.status, 403, other.text);
        assert.equal(other.body.error.rule, 'org.prefixes.allow: no prefix matches');
        assert.equal(posts(fake).length, before + 1);
      } finally {
        assert.equal((await tg.req('PUT', '/v1/dial-policy', { key, body: cur })).status, 200);
      }
    });

    test('PhoneBridge click-to-dial to an allowed number is placed', async () => {
      const before = posts(fake).length;
      const r = await phonebridge(ALLOWED)();
      assert.equal(r.status, 201, r.text);
      assert.equal(posts(fake).length, before + 1);
      await fake.idle();
    });
  });
});

describe('failover never goes to a route the policy forbids (HTTP, fake Twilio, Redis)', () => {
  let tg: TestGateway;
  let fake: FakeTwilio;
  let key: string;
  let primary: string;
  let secondary: string;
  const USER = 'agent-f';

  before(async () => {
    fake = await new FakeTwilio().start();
    tg = await startGateway({ store: 'redis' });
    key = (await tg.createOrg('policy failover')).apiKey;
    assert.equal((await tg.req('PUT', `/v1/users/${USER}`, { key, body: { region: 'US', phone: AGENT_PHONE } })).status, 201);
    // the user's own provider refuses every dial (its API is "down"; the call was never accepted)
    const a = await tg.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'primary (down)', config: { failDial: true }, install: { scope: 'specific', userIds: [USER] } } });
    assert.equal(a.status, 201, a.text);
    primary = a.body.id;
    // the failover route may not call the US at all
    const b = await tg.req('POST', '/v1/providers', {
      key,
      body: {
        kind: 'twilio',
        name: 'Twilio (no US)',
        config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: '+15005550006', apiBaseUrl: fake.url, timeoutMs: 3000 },
        dialPolicy: { countries: { deny: ['US'] } },
        install: { scope: 'specific', userIds: [] },
      },
    });
    assert.equal(b.status, 201, b.text);
    secondary = b.body.id;
    assert.deepEqual(b.body.dialPolicy, { countries: { deny: ['US'] } });
    assert.equal((await tg.req('PUT', '/v1/routing/policy', { key, body: { failover: { enabled: true, order: [primary, secondary] } } })).status, 200);
  });

  after(async () => {
    await fake.close();
    await tg.close();
  });

  test('primary fails, the failover provider may not call the destination → the call fails; nothing reaches it', async () => {
    const counted0 = await refusedTotal(tg, 'destination_not_allowed');
    const ex = await tg.req('GET', `/v1/routing/explain?userId=${USER}&to=${encodeURIComponent(ALLOWED)}`, { key });
    assert.deepEqual(ex.body.candidates, [primary, secondary]);
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: USER, to: ALLOWED } });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.error.providerId, primary, "the primary's own failure is reported");
    assert.deepEqual(posts(fake), [], 'the forbidden route was never asked');
    // the call exists (the primary was asked) and failed; it was not moved to the forbidden route
    const calls = (await tg.req('GET', `/v1/calls?userId=${USER}&limit=10`, { key })).body.items;
    assert.equal(calls.length, 1);
    assert.equal(calls[0].status, 'failed');
    assert.equal(calls[0].providerId, primary);
    assert.equal(calls[0].failedOverFrom, undefined);
    assert.equal(await refusedTotal(tg, 'destination_not_allowed'), counted0 + 1);
    const audit = await refusals(tg, key);
    assert.equal(audit.length, 1);
    assert.equal(audit[0].detail.path, 'failover');
    assert.equal(audit[0].detail.providerId, secondary);
    assert.equal(audit[0].detail.rule, 'provider.countries.deny: US');
  });

  test('control: without that narrowing the same call fails over to it', async () => {
    assert.equal((await tg.req('PATCH', `/v1/providers/${secondary}`, { key, body: { dialPolicy: null } })).status, 200);
    const r = await tg.req('POST', '/v1/calls', { key, body: { userId: USER, to: ALLOWED } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.providerId, secondary);
    assert.equal(r.body.failedOverFrom, primary);
    assert.equal(posts(fake).filter((x) => x.path.endsWith('/Calls.json')).length, 1);
    await fake.idle();
  });
});

describe('a refused call does not use up the half-open circuit breaker trial', () => {
  let tg: TestGateway;
  let fake: FakeTwilio;
  let key: string;
  let providerId: string;

  before(async () => {
    fake = await new FakeTwilio().start();
    tg = await startGateway({ store: 'redis' });
    key = (await tg.createOrg('policy breaker')).apiKey;
    assert.equal((await tg.req('PUT', `/v1/users/${AGENT}`, { key, body: { region: 'US', phone: AGENT_PHONE } })).status, 201);
    const r = await tg.req('POST', '/v1/providers', {
      key,
      body: { kind: 'twilio', name: 'Twilio', config: { accountSid: fake.accountSid, authToken: fake.authToken, callerId: '+15005550006', apiBaseUrl: fake.url, timeoutMs: 3000 }, install: { scope: 'all' } },
    });
    assert.equal(r.status, 201, r.text);
    providerId = r.body.id;
  });

  after(async () => {
    await fake.close();
    await tg.close();
  });

  /** Opens the provider's breaker in the backend with a 1 ms open period: half-open at once. */
  async function halfOpen(): Promise<void> {
    const { backend } = tg.gw.parts;
    const orgId = (await backend.directory.getProviderOrg(providerId))!;
    for (let i = 0; i < 5; i++) await backend.health.failure(orgId, providerId, { threshold: 5, openMs: 1, closeAfter: 1 });
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await backend.health.get(orgId, providerId)).state, 'half-open');
  }

  async function breakerState(): Promise<string> {
    const { backend } = tg.gw.parts;
    return (await backend.health.get((await backend.directory.getProviderOrg(providerId))!, providerId)).state;
  }

  test('premium-rate refused while half-open; the next allowed call is the trial and closes the breaker', async () => {
    await halfOpen();
    const refused = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to: US_PREMIUM } });
    assert.equal(refused.status, 403, refused.text);
    const invalid = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to: '12' } });
    assert.equal(invalid.status, 422, invalid.text);
    const ok = await tg.req('POST', '/v1/calls', { key, body: { userId: AGENT, to: ALLOWED } });
    assert.equal(ok.status, 201, `the half-open trial was still free: ${ok.text}`);
    assert.equal(await breakerState(), 'closed');
    await fake.idle();
  });

  test('a click refused by its limits (429) while half-open leaves the trial for the next call', async () => {
    const busy = 'agent-busy';
    const other = 'agent-other';
    for (const [id, phone] of [[busy, '+14155550111'], [other, '+14155550112']]) {
      assert.equal((await tg.req('PUT', `/v1/users/${id}`, { key, body: { region: 'US', phone } })).status, 201);
    }
    const assigned = await tg.req('POST', `/v1/providers/${providerId}/users`, { key, body: { userIds: [busy, other] } });
    assert.equal(assigned.status, 200, assigned.text);
    const limits = await tg.req('PUT', '/v1/dial-policy', { key, body: { limits: { ...RELAXED_LIMITS, liveCallsPerUser: 1 } } });
    assert.equal(limits.status, 200, limits.text);
    // the busy agent's first call stays live (the fake sends no status callbacks): one live call each
    const first = await tg.req('POST', '/v1/calls', { key, body: { userId: busy, to: ALLOWED } });
    assert.equal(first.status, 201, first.text);
    await halfOpen();
    const limited = await tg.req('POST', '/v1/calls', { key, body: { userId: busy, to: '+14155550177' } });
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.body.error.limit, 'concurrentCallsPerUser');
    const ok = await tg.req('POST', '/v1/calls', { key, body: { userId: other, to: '+14155550178' } });
    assert.equal(ok.status, 201, `the half-open trial was still free: ${ok.text}`);
    assert.equal(await breakerState(), 'closed');
    await fake.idle();
  });
});
