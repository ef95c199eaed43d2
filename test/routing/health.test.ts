// One provider health for every instance (src/store/health, src/providers/breaker.ts): settings per
// provider with documented defaults, a reset route, a config change that closes the breaker,
// Retry-After that is the real remaining wait, active probes feeding the same breaker, and two
// gateway processes on one Redis seeing the same breaker.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { must, putUser, uid } from '../calls/setup.js';

const DEFAULTS = { failureThreshold: 5, openSec: 30, closeAfter: 1 };
const DOWN = { failDial: true };
const UP = { ringAfterMs: 20, answerAfterMs: 40, durationMs: 60 };

for (const store of ['memory', 'redis'] as const) {
  describe(`provider health (${store} store)`, () => {
    let gw: TestGateway;
    before(async () => {
      // the tests drive the probes themselves: the gateway's own housekeeping round runs once,
      // a second after start, and not again during the suite
      gw = await startGateway({ store, env: { DIALGATE_RECONCILE_EVERY_SEC: '3600' } });
      await new Promise((r) => setTimeout(r, 1500));
    });
    after(async () => {
      await gw.close();
    });

    async function org(health?: Record<string, number>, config: Record<string, unknown> = DOWN) {
      const o = await gw.createOrg('health ' + uid('o'));
      const userId = uid();
      must(await putUser(gw, o.apiKey, userId, { phone: '+14165550100' }), 201, 'user');
      const p = must(
        await gw.req('POST', '/v1/providers', { key: o.apiKey, body: { kind: 'sim', name: 'sim', config, ...(health ? { health } : {}), install: { scope: 'specific', userIds: [userId] } } }),
        201,
        'provider',
      );
      const click = () => gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId, to: '+14165550199' } });
      const health_ = async () => must(await gw.req('GET', `/v1/providers/${p.body.id}`, { key: o.apiKey }), 200, 'get').body.health;
      return { ...o, userId, providerId: p.body.id as string, click, health: health_ };
    }

    test('settings: documented defaults, per-provider values, validated, null restores the defaults', async () => {
      const o = await org();
      assert.deepEqual(await o.health(), { state: 'closed', failures: 0, retryAfterSec: 0, ...DEFAULTS });
      const own = await org({ failureThreshold: 2, openSec: 60, closeAfter: 3 });
      assert.deepEqual(await own.health(), { state: 'closed', failures: 0, retryAfterSec: 0, failureThreshold: 2, openSec: 60, closeAfter: 3 });
      for (const bad of [{ failureThreshold: 0 }, { openSec: 'x' }, { closeAfter: 1.5 }, { other: 1 }]) {
        const r = await gw.req('PATCH', `/v1/providers/${own.providerId}`, { key: own.apiKey, body: { health: bad } });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
        assert.equal(r.body.error.code, 'validation_failed');
      }
      must(await gw.req('PATCH', `/v1/providers/${own.providerId}`, { key: own.apiKey, body: { health: { openSec: 5 } } }), 200, 'patch');
      assert.deepEqual(await own.health(), { state: 'closed', failures: 0, retryAfterSec: 0, ...DEFAULTS, openSec: 5 });
      must(await gw.req('PATCH', `/v1/providers/${own.providerId}`, { key: own.apiKey, body: { health: null } }), 200, 'patch null');
      assert.deepEqual(await own.health(), { state: 'closed', failures: 0, retryAfterSec: 0, ...DEFAULTS });
    });

    test('open after failureThreshold failed dials: 503 whose Retry-After is the real remaining wait; reset closes it', async () => {
      const o = await org({ failureThreshold: 2, openSec: 40 });
      for (let i = 0; i < 2; i++) assert.equal((await o.click()).status, 503);
      const open = await o.health();
      assert.equal(open.state, 'open');
      const refused = await o.click();
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'provider_unavailable');
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 38 && retryAfter <= 40, `Retry-After ${retryAfter}: the 40 s wait, not 1`);
      assert.ok(Math.abs(retryAfter - open.retryAfterSec) <= 1, `header ${retryAfter} vs view ${open.retryAfterSec}`);

      const reset = must(await gw.req('POST', `/v1/providers/${o.providerId}/health/reset`, { key: o.apiKey }), 200, 'reset');
      assert.deepEqual([reset.body.state, reset.body.failures], ['closed', 0]);
      assert.equal((await o.health()).state, 'closed');
      // dialled again: the simulator's own refusal, not the breaker's
      const again = await o.click();
      assert.equal(again.status, 503);
      assert.match(again.body.error.message, /failDial/);
      assert.equal((await gw.req('POST', `/v1/providers/prv_nope/health/reset`, { key: o.apiKey })).status, 404);
      const audit = must(await gw.req('GET', '/v1/audit?limit=50', { key: o.apiKey }), 200, 'audit').body.items;
      assert.ok(audit.some((e: any) => e.action === 'provider.health.reset' && e.target.id === o.providerId), 'the reset is audited');
    });

    test("a config change closes it: the fixed provider dials at once", async () => {
      const o = await org({ failureThreshold: 1, openSec: 600 });
      assert.equal((await o.click()).status, 503);
      assert.equal((await o.health()).state, 'open');
      must(await gw.req('PATCH', `/v1/providers/${o.providerId}`, { key: o.apiKey, body: { config: UP } }), 200, 'fix');
      assert.equal((await o.health()).state, 'closed');
      must(await o.click(), 201, 'dialled');
    });

    test('probes feed the same breaker (with its hysteresis) and the per-provider metrics', async () => {
      const o = await org({ failureThreshold: 2, openSec: 1, closeAfter: 2 });
      const { prober } = gw.gw.parts;
      await prober.org(o.id);
      assert.deepEqual([(await o.health()).state, (await o.health()).failures], ['closed', 1], 'one failed probe: not yet');
      await prober.org(o.id);
      assert.equal((await o.health()).state, 'open');
      must(await gw.req('PATCH', `/v1/providers/${o.providerId}?verify=false`, { key: o.apiKey, body: { config: UP, health: { failureThreshold: 2, openSec: 1, closeAfter: 2 } } }), 200, 'fix');
      // reopen it with failures recorded directly, then let good probes close it: closeAfter of them
      const policy = { threshold: 1, openMs: 50, closeAfter: 2 };
      await gw.gw.parts.backend.health.failure(o.id, o.providerId, policy);
      await new Promise((r) => setTimeout(r, 80));
      await prober.org(o.id);
      assert.equal((await o.health()).state, 'half-open', 'one good probe of two');
      await prober.org(o.id);
      assert.equal((await o.health()).state, 'closed');
      const m = (await gw.req('GET', '/metrics')).text;
      assert.match(m, new RegExp(`dialgate_provider_probes_total\\{provider_kind="sim",provider_id="${o.providerId}",result="failed"\\} 2`));
      assert.match(m, new RegExp(`dialgate_provider_probes_total\\{provider_kind="sim",provider_id="${o.providerId}",result="ok"\\} 2`));
      assert.match(m, new RegExp(`dialgate_provider_breaker_open\\{provider_kind="sim",provider_id="${o.providerId}"\\} 0`));
      // and in the provider's figures, beside its calls
      await eventually(async () => {
        const perf = must(await gw.req('GET', '/v1/providers/performance?window=5m', { key: o.apiKey }), 200, 'figures').body;
        const mine = perf.items.find((f: { providerId: string }) => f.providerId === o.providerId);
        return mine?.probes.ok === 2 && mine.probes.failed === 2;
      }, 5000, 'two good and two failed probes in the figures');
    });
  });
}

describe('provider health: two gateway processes on one Redis', () => {
  const adminToken = 'health-' + randomBytes(12).toString('hex');
  let a: GatewayProcess | undefined;
  let b: GatewayProcess | undefined;
  before(async () => {
    [a, b] = await Promise.all([startGatewayProcess(adminToken), startGatewayProcess(adminToken)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('a breaker opened through A is open on B within 1 s (Retry-After the real wait), and a PATCH through B closes it on A', async () => {
    try {
      const key = must(await a!.req('POST', '/v1/orgs', { key: adminToken, body: { name: 'health processes' } }), 201, 'org').body.apiKey as string;
      const userId = uid();
      must(await a!.req('PUT', `/v1/users/${userId}`, { key, body: { region: 'CA', phone: '+14165550100' } }), 201, 'user');
      const p = must(
        await a!.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'sim', config: DOWN, health: { failureThreshold: 2, openSec: 45 }, install: { scope: 'specific', userIds: [userId] } } }),
        201,
        'provider',
      );
      const click = (g: GatewayProcess) => g.req('POST', '/v1/calls', { key, body: { userId, to: '+14165550199' } });
      assert.equal((await click(a!)).status, 503);
      assert.equal((await click(a!)).status, 503);
      const openedAt = Date.now();
      const onB = await eventually(async () => {
        const r = await b!.req('GET', `/v1/providers/${p.body.id}`, { key });
        return r.body?.health?.state === 'open' ? r.body.health : null;
      }, 1000, 'B to see the breaker open');
      assert.ok(Date.now() - openedAt <= 1000);
      const refused = await click(b!);
      assert.equal(refused.status, 503);
      const retryAfter = Number(refused.headers.get('retry-after'));
      assert.ok(retryAfter >= 43 && retryAfter <= 45, `Retry-After ${retryAfter}`);
      assert.ok(Math.abs(retryAfter - onB.retryAfterSec) <= 1);

      must(await b!.req('PATCH', `/v1/providers/${p.body.id}`, { key, body: { config: UP } }), 200, 'fix through B');
      const onA = await eventually(async () => {
        const r = await a!.req('GET', `/v1/providers/${p.body.id}`, { key });
        return r.body?.health?.state === 'closed' ? r.body.health : null;
      }, 1000, 'A to see it closed');
      assert.equal(onA.failures, 0);
      // A's snapshot of the org follows within its cache time; the click is retried until it dials
      await eventually(async () => (await click(a!)).status === 201, 5000, 'A dials again');
    } catch (e) {
      (e as Error).message += `\n--- A:\n${a?.output()}\n--- B:\n${b?.output()}`;
      throw e;
    }
  });
});
