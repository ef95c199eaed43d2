// Idempotency-Key on POST /v1/calls, on both stores: a retried click never dials twice, even when
// the retries arrive together; the key is bound to its body and scoped to one org. Dials are
// counted by wrapping the sim kind, so "one dial" is observed at the provider, not inferred.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { simKind } from '../../adapters/sim/index.js';
import type { ProviderKindDefinition } from '../../src/providers/adapter.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FROZEN, QUICK_BUSY, STORES, must, simOrg, uid, waitEnded } from './setup.js';

/** The sim kind, counting dials per provider id. */
function countingSim(): { kind: ProviderKindDefinition; dials: (providerId: string) => number } {
  const counts = new Map<string, number>();
  const kind: ProviderKindDefinition = {
    ...simKind,
    create(ctx) {
      const inner = simKind.create(ctx);
      return Object.assign(Object.create(Object.getPrototypeOf(inner)), inner, {
        dial: (req: Parameters<typeof inner.dial>[0]) => {
          counts.set(ctx.provider.id, (counts.get(ctx.provider.id) ?? 0) + 1);
          return inner.dial(req);
        },
      });
    },
  };
  return { kind, dials: (id) => counts.get(id) ?? 0 };
}

for (const store of STORES) {
  describe(`Idempotency-Key (${store} store)`, () => {
    let gw: TestGateway;
    const sim = countingSim();
    before(async () => {
      gw = await startGateway({ store, providerKinds: [sim.kind] });
    });
    after(async () => {
      await gw.close();
    });

    const post = (key: string, idem: string | undefined, body: unknown) =>
      gw.req('POST', '/v1/calls', { key, body, headers: idem ? { 'idempotency-key': idem } : {} });

    test('same key + same body: the first response again, one dial', async () => {
      const o = await simOrg(gw, FROZEN);
      const idem = uid('k');
      const first = await post(o.apiKey, idem, { userId: o.userId, to: '+14169671111', crmRecord: { module: 'Leads', id: '42' } });
      assert.equal(first.status, 201, first.text);
      // same body with its fields in another order is the same request
      const again = await post(o.apiKey, idem, { crmRecord: { id: '42', module: 'Leads' }, to: '+14169671111', userId: o.userId });
      assert.equal(again.status, 201, again.text);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(first.headers.get('idempotent-replayed'), null);
      assert.equal(sim.dials(o.providerId), 1);
      const list = must(await gw.req('GET', '/v1/calls?limit=100', { key: o.apiKey }), 200, 'list');
      assert.equal(list.body.items.length, 1);
    });

    test('20 concurrent identical requests: one dial, the same call for all', async () => {
      // API latency keeps the first request in flight while the others arrive
      const o = await simOrg(gw, { ...FROZEN, apiLatencyMs: 150 });
      const idem = uid('k');
      const body = { userId: o.userId, to: '+14169671111' };
      const all = await Promise.all(Array.from({ length: 20 }, () => post(o.apiKey, idem, body)));
      for (const r of all) assert.equal(r.status, 201, r.text);
      const ids = new Set(all.map((r) => r.body.id));
      assert.equal(ids.size, 1, 'every retry answered with the same call');
      assert.equal(all.filter((r) => r.headers.get('idempotent-replayed') !== 'true').length, 1, 'exactly one request did the work');
      assert.equal(sim.dials(o.providerId), 1);
      const list = must(await gw.req('GET', '/v1/calls?limit=100', { key: o.apiKey }), 200, 'list');
      assert.equal(list.body.items.length, 1);
    });

    test('same key + another body: 422 idempotency_mismatch, no dial', async () => {
      const o = await simOrg(gw, FROZEN);
      const idem = uid('k');
      must(await post(o.apiKey, idem, { userId: o.userId, to: '+14169671111' }), 201, 'first');
      for (const body of [
        { userId: o.userId, to: '+14169672222' },
        { userId: o.userId, to: '+14169671111', crmRecord: { module: 'Leads', id: '1' } },
      ]) {
        const r = await post(o.apiKey, idem, body);
        assert.equal(r.status, 422, r.text);
        assert.equal(r.body.error.code, 'idempotency_mismatch');
      }
      assert.equal(sim.dials(o.providerId), 1);
    });

    test('different keys, or no key: a new call each time', async () => {
      // calls that end at once: one user may have only one live click-to-call
      const o = await simOrg(gw, QUICK_BUSY);
      const body = { userId: o.userId, to: '+14169671111' };
      const ids: string[] = [];
      for (const key of [uid('k'), uid('k'), undefined, undefined]) {
        const r = must(await post(o.apiKey, key, body), 201, `key ${key}`);
        ids.push(r.body.id);
        await waitEnded(gw, o.apiKey, r.body.id);
      }
      assert.equal(new Set(ids).size, 4);
      assert.equal(sim.dials(o.providerId), 4);
    });

    test('keys are per org: the same key in two orgs makes two calls', async () => {
      const o1 = await simOrg(gw, FROZEN);
      const o2 = await simOrg(gw, FROZEN);
      const idem = uid('shared');
      const r1 = must(await post(o1.apiKey, idem, { userId: o1.userId, to: '+14169671111' }), 201, 'org 1');
      const r2 = must(await post(o2.apiKey, idem, { userId: o2.userId, to: '+14169671111' }), 201, 'org 2');
      assert.notEqual(r1.body.id, r2.body.id);
      assert.equal(r2.headers.get('idempotent-replayed'), null);
      assert.equal(sim.dials(o1.providerId), 1);
      assert.equal(sim.dials(o2.providerId), 1);
    });

    test('a refusal decided before any dial is decided again (no dial either time), and a 503 is not pinned: the retry dials once the provider is back', async () => {
      const o = await simOrg(gw, { ...FROZEN, failDial: true });
      const badKey = uid('k');
      const bad1 = await post(o.apiKey, badKey, { userId: o.userId, to: '12' });
      const bad2 = await post(o.apiKey, badKey, { userId: o.userId, to: '12' });
      assert.equal(bad1.status, 422);
      assert.equal(bad2.status, 422);
      // nothing was created, so nothing is replayed: the same input is refused the same way, and
      // a refusal the org has since lifted (its dial policy changed) would not stay pinned
      assert.equal(bad2.headers.get('idempotent-replayed'), null);
      assert.equal(sim.dials(o.providerId), 0);

      const idem = uid('k');
      const body = { userId: o.userId, to: '+14169671111' };
      const down = await post(o.apiKey, idem, body);
      assert.equal(down.status, 503, down.text);
      assert.equal(sim.dials(o.providerId), 1);
      must(await gw.req('PATCH', `/v1/providers/${o.providerId}`, { key: o.apiKey, body: { config: FROZEN } }), 200, 'provider back');
      const up = await post(o.apiKey, idem, body);
      assert.equal(up.status, 201, up.text);
      assert.equal(up.headers.get('idempotent-replayed'), null);
      assert.equal(sim.dials(o.providerId), 2);
      const replay = await post(o.apiKey, idem, body);
      assert.equal(replay.body.id, up.body.id);
      assert.equal(sim.dials(o.providerId), 2);
    });

    test('a malformed Idempotency-Key is refused with 400 and creates no call', async () => {
      const o = await simOrg(gw, FROZEN);
      for (const bad of ['x'.repeat(256), 'has space']) {
        const r = await post(o.apiKey, bad, { userId: o.userId, to: '+14169671111' });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.error.code, 'validation_failed');
      }
      assert.equal(sim.dials(o.providerId), 0);
    });
  });
}
