// Stuck calls (src/calls/reconciler.ts): a live call nobody reports on any more is asked about at
// its provider and ended when the provider does not know it; calls answered too long are hung
// up; POST /v1/calls/{id}/end ends one at once; DELETE ends a call whose instance lost it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Reconciler } from '../../src/calls/reconciler.js';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { WebhookCrmFake } from '../fakes/webhook-crm/server.js';
import { FROZEN, getCall, installSim, must, putUser, uid, waitEnded } from './setup.js';

/** an answered call that would talk for ten minutes */
const LONG = { ringAfterMs: 20, answerAfterMs: 40, durationMs: 600_000 };

async function org(gw: TestGateway, config = FROZEN) {
  // the production limits: one live call per user, so a call left live shows as a 429
  const o = await gw.createOrg('reconcile ' + uid('o'), { limits: 'default' });
  const userId = uid();
  must(await putUser(gw, o.apiKey, userId, { phone: '+14165550100' }), 201, 'user');
  const providerId = await installSim(gw, o.apiKey, LONG, [userId]);
  return { ...o, userId, providerId };
}

async function answeredCall(gw: TestGateway, key: string, userId: string): Promise<string> {
  const c = must(await gw.req('POST', '/v1/calls', { key, body: { userId, to: '+14165550199' } }), 201, 'click');
  await eventually(async () => (await getCall(gw, key, c.body.id)).status === 'answered', 5000, 'answered');
  return c.body.id as string;
}

function reconcilerOf(gw: TestGateway, o: { afterMs?: number; maxCallMs?: number } = {}): Reconciler {
  const p = gw.gw.parts;
  return new Reconciler({ calls: p.backend.calls, configs: p.configs, providers: p.providers, events: p.callEvents, logger: p.logger, metrics: p.metrics, afterMs: o.afterMs ?? 0, maxCallMs: o.maxCallMs ?? 3_600_000 });
}

describe('stuck calls: one gateway', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ store: 'redis' });
  });
  after(async () => {
    await gw.close();
  });

  test('POST /v1/calls/{id}/end ends a live call at once; its user can call again', async () => {
    const o = await org(gw);
    const id = await answeredCall(gw, o.apiKey, o.userId);
    const busy = await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14165550198' } });
    assert.equal(busy.status, 429, 'one live call per user');
    const ended = must(await gw.req('POST', `/v1/calls/${id}/end`, { key: o.apiKey }), 200, 'end');
    assert.equal(ended.body.status, 'completed');
    assert.equal(ended.body.history.at(-1).cause, 'ended_by_admin');
    assert.equal((await gw.req('POST', `/v1/calls/${id}/end`, { key: o.apiKey })).status, 409, 'already ended');
    assert.equal((await gw.req('POST', `/v1/calls/call_nope/end`, { key: o.apiKey })).status, 404);
    must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14165550198' } }), 201, 'the slot is free');
  });

  test('DELETE ends a call its provider lost (the adapter that held it is gone): no longer a 202 that changes nothing', async () => {
    const o = await org(gw);
    const id = await answeredCall(gw, o.apiKey, o.userId);
    // a config change replaces the simulator's adapter: the calls it was playing are lost
    must(await gw.req('PATCH', `/v1/providers/${o.providerId}`, { key: o.apiKey, body: { config: { ...LONG, ringAfterMs: 21 } } }), 200, 'patch');
    assert.equal((await gw.req('DELETE', `/v1/calls/${id}`, { key: o.apiKey })).status, 202);
    const c = await getCall(gw, o.apiKey, id);
    assert.deepEqual([c.status, c.history.at(-1).cause], ['completed', 'hung_up_by_api'], 'ended as the hang-up asked');
    must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14165550198' } }), 201, 'the slot is free');
  });

  test('the reconciler leaves calls its provider still plays, ends the ones it lost, and hangs up calls answered too long', async () => {
    const o = await org(gw);
    const playing = await answeredCall(gw, o.apiKey, o.userId);
    assert.equal(await reconcilerOf(gw).org(o.id), 0, 'the simulator still plays it');
    assert.equal((await getCall(gw, o.apiKey, playing)).status, 'answered');
    // too long: hung up at the provider (a completed call, cause max_duration)
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await reconcilerOf(gw, { maxCallMs: 10 }).org(o.id), 1);
    const c = await waitEnded(gw, o.apiKey, playing);
    assert.equal(c.status, 'completed');
    assert.equal(c.history.at(-1).cause, 'max_duration');

    const lost = await answeredCall(gw, o.apiKey, o.userId);
    must(await gw.req('PATCH', `/v1/providers/${o.providerId}`, { key: o.apiKey, body: { config: { ...LONG, ringAfterMs: 22 } } }), 200, 'patch');
    assert.equal(await reconcilerOf(gw, { afterMs: 60_000 }).org(o.id), 0, 'not before it had no news for afterMs');
    assert.equal(await reconcilerOf(gw).org(o.id), 1);
    const l = await getCall(gw, o.apiKey, lost);
    assert.deepEqual([l.status, l.history.at(-1).cause], ['failed', 'stale']);
  });
});

describe('stuck calls: two gateways on one Redis, in one process', () => {
  let a: TestGateway;
  let b: TestGateway;
  before(async () => {
    a = await startGateway({ store: 'redis' });
    b = await startGateway({ store: 'redis', keyPrefix: a.keyPrefix, env: { DIALGATE_QUEUE_PREFIX: `{tq${a.keyPrefix.replace(/[^A-Za-z0-9]/g, '')}}` } });
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  test("a call another live instance plays is left to it; once that instance is gone, it is ended", async () => {
    const o = await org(a);
    const id = await answeredCall(a, o.apiKey, o.userId);
    assert.equal(await reconcilerOf(b).org(o.id), 0, "A is alive: B leaves A's call alone");
    assert.equal((await getCall(b, o.apiKey, id)).status, 'answered');
    await a.close();
    assert.equal(await reconcilerOf(b).org(o.id), 1, "A is gone: its call is lost");
    const c = await getCall(b, o.apiKey, id);
    assert.deepEqual([c.status, c.history.at(-1).cause], ['failed', 'stale']);
  });
});

describe('stuck calls: a gateway process SIGKILLed mid-call', () => {
  const adminToken = 'reconcile-' + randomBytes(12).toString('hex');
  let a: GatewayProcess | undefined;
  let b: GatewayProcess | undefined;
  const crm = new WebhookCrmFake();
  before(async () => {
    await crm.start();
    [a, b] = await Promise.all([
      // A's housekeeping ran once at start and not again: B reconciles
      startGatewayProcess(adminToken, 'redis', { DIALGATE_RECONCILE_EVERY_SEC: '3600' }),
      startGatewayProcess(adminToken, 'redis', { DIALGATE_RECONCILE_EVERY_SEC: '1', DIALGATE_RECONCILE_AFTER_SEC: '2' }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await crm.close();
  });

  test('the other instance ends the call within 20 s, its user can call again, and the call is logged once', async () => {
    try {
      const orgRes = must(await a!.req('POST', '/v1/orgs', { key: adminToken, body: { name: 'reconcile processes' } }), 201, 'org');
      const key = orgRes.body.apiKey as string;
      const userId = uid();
      must(await a!.req('PUT', `/v1/users/${userId}`, { key, body: { region: 'CA', phone: '+14165550100' } }), 201, 'user');
      must(await a!.req('PUT', '/v1/crm', { key, body: crm.config() }), 200, 'crm');
      must(await a!.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'sim', config: LONG, install: { scope: 'specific', userIds: [userId] } } }), 201, 'provider');
      const call = must(await a!.req('POST', '/v1/calls', { key, body: { userId, to: '+14165550199' } }), 201, 'click');
      const id = call.body.id as string;
      await eventually(async () => (await a!.req('GET', `/v1/calls/${id}`, { key })).body?.status === 'answered', 10_000, 'answered');
      assert.equal((await b!.req('POST', '/v1/calls', { key, body: { userId, to: '+14165550198' } })).status, 429, 'the user has a live call');

      await a!.kill();
      const killedAt = Date.now();
      const ended = await eventually(async () => {
        const c = (await b!.req('GET', `/v1/calls/${id}`, { key })).body;
        return c?.status === 'failed' ? c : null;
      }, 20_000, 'B to end the call');
      const took = Date.now() - killedAt;
      assert.equal(ended.history.at(-1).cause, 'stale');
      assert.ok(took < 20_000, `ended ${took} ms after the SIGKILL`);

      const again = await b!.req('POST', '/v1/calls', { key, body: { userId, to: '+14165550198' } });
      assert.equal(again.status, 201, `the user can call again: ${again.text}`);

      await eventually(async () => crm.deliveries.has(id), 15_000, 'the call log at the CRM');
      await eventually(async () => (await b!.req('GET', `/v1/calls/${id}`, { key })).body?.crmLog?.status === 'logged', 10_000, 'crmLog logged');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal([...crm.deliveries.keys()].filter((k) => k === id).length, 1);
      assert.equal(crm.duplicates, 0, 'logged exactly once');
      process.stdout.write(`# B ended the orphaned call ${took} ms after A was SIGKILLed\n`);
    } catch (e) {
      (e as Error).message += `\n--- A:\n${a?.output()}\n--- B:\n${b?.output()}`;
      throw e;
    }
  });
});
