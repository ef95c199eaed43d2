// Inbound calls through the sim provider's webhook, on both stores: a DID owned by a user of this
// provider pops the screen at once (call.incoming), narrowed sockets see only their user, and the
// call then plays out; unknown DIDs, and DIDs of users on another provider, are refused and counted.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { FAST, FROZEN, STORES, getCall, installSim, must, putUser, randomDid, simOrg, uid } from './setup.js';

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

for (const store of STORES) {
  describe(`inbound calls (${store} store)`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ store });
    });
    after(async () => {
      await gw.close();
    });

    const inbound = (providerId: string, body: unknown) => gw.req('POST', `/webhooks/sim/${providerId}/inbound`, { body });

    test('a DID owned by a user of this provider: call.incoming at once, then answered and completed', async () => {
      const did = randomDid();
      const o = await simOrg(gw, FAST, { numbers: [did] });
      const sock = await gw.events(o.apiKey);
      try {
        const t0 = performance.now();
        const r = await inbound(o.providerId, { from: '+14169671111', to: did });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.userId, o.userId);
        const pop = await sock.next((m) => m.type === 'call.incoming' && m.call.id === r.body.callId);
        assert.ok(performance.now() - t0 < 2000, 'the screen pop is immediate');
        assert.equal(pop.call.direction, 'inbound');
        assert.equal(pop.call.from, '+14169671111');
        assert.equal(pop.call.to, did);
        assert.equal(pop.call.userId, o.userId);
        assert.equal(pop.call.providerId, o.providerId);
        assert.equal(pop.call.status, 'ringing');
        assert.equal(pop.call.orgId, undefined);

        await sock.next((m) => m.type === 'call.status' && m.call.id === r.body.callId && m.call.status === 'answered');
        await sock.next((m) => m.type === 'call.status' && m.call.id === r.body.callId && m.call.status === 'completed');
        const call = await getCall(gw, o.apiKey, r.body.callId);
        assert.deepEqual(
          call.history.map((h: any) => h.status),
          ['queued', 'ringing', 'answered', 'completed'],
        );
        const listed = must(await gw.req('GET', `/v1/calls?userId=${o.userId}`, { key: o.apiKey }), 200, 'list');
        assert.deepEqual(
          listed.body.items.map((c: any) => c.id),
          [r.body.callId],
        );
      } finally {
        sock.close();
      }
    });

    test('?userId= narrows the socket to that user: the other user sees nothing of it', async () => {
      const didA = randomDid();
      const didB = randomDid();
      const o = await simOrg(gw, FROZEN, { numbers: [didA] });
      const userB = uid();
      must(await putUser(gw, o.apiKey, userB, { numbers: [didB] }), 201, 'user B');
      must(await gw.req('POST', `/v1/providers/${o.providerId}/users`, { key: o.apiKey, body: { userIds: [userB] } }), 200, 'assign B');
      const sockA = await gw.events(o.apiKey, o.userId);
      const sockB = await gw.events(o.apiKey, userB);
      const all = await gw.events(o.apiKey);
      try {
        const a = must(await inbound(o.providerId, { from: '+14169671111', to: didA }), 200, 'inbound A');
        await sockA.next((m) => m.type === 'call.incoming' && m.call.id === a.body.callId);
        // B's own pop, sent after A's on the same connection order: once it is here, A's would be too
        const b = must(await inbound(o.providerId, { from: '+14169672222', to: didB }), 200, 'inbound B');
        await sockB.next((m) => m.type === 'call.incoming' && m.call.id === b.body.callId);
        await all.next((m) => m.type === 'call.incoming' && m.call.id === b.body.callId);
        assert.ok(all.messages.some((m) => m.call?.id === a.body.callId), 'the org-wide socket sees both');
        const seenByB = sockB.messages.filter((m) => m.type !== 'hello' && m.type !== 'calls.snapshot');
        assert.ok(seenByB.length >= 1);
        for (const m of seenByB) assert.equal(m.call.userId, userB, `B saw only its own calls: ${m.type}`);
        // A's socket: B's pop may still be in flight; it must never arrive
        await new Promise((r) => setTimeout(r, 100));
        assert.ok(!sockA.messages.some((m) => m.call?.userId === userB), 'A saw nothing of B');
      } finally {
        sockA.close();
        sockB.close();
        all.close();
      }
    });

    test('unknown DIDs and DIDs of users on another provider are refused (404) and counted', async () => {
      const mine = randomDid();
      const theirs = randomDid();
      const o = await simOrg(gw, FROZEN, { numbers: [mine] });
      // a second provider in the same org owns `theirs` through its user
      const other = uid();
      must(await putUser(gw, o.apiKey, other, { numbers: [theirs] }), 201, 'other user');
      const p2 = await installSim(gw, o.apiKey, FROZEN, [other]);
      // another org's user with a DID on its own provider
      const foreignDid = randomDid();
      await simOrg(gw, FROZEN, { numbers: [foreignDid] });
      const sock = await gw.events(o.apiKey);
      try {
        const before = (await gw.req('GET', '/metrics')).text;
        const unknownBefore = metricValue(before, 'dialgate_inbound_unknown_number_total', { provider_kind: 'sim' });
        const refusedBefore = metricValue(before, 'dialgate_webhooks_received_total', { provider_kind: 'sim', result: 'refused' });

        for (const to of [randomDid(), theirs, foreignDid]) {
          const r = await inbound(o.providerId, { from: '+14169671111', to });
          assert.equal(r.status, 404, `${to}: ${r.text}`);
          assert.equal(r.body.error.code, 'unknown_number');
        }
        // the right provider for `theirs` takes it
        const ok = await inbound(p2, { from: '+14169671111', to: theirs });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.body.userId, other);

        const afterText = (await gw.req('GET', '/metrics')).text;
        assert.equal(metricValue(afterText, 'dialgate_inbound_unknown_number_total', { provider_kind: 'sim' }) - unknownBefore, 3);
        assert.equal(metricValue(afterText, 'dialgate_webhooks_received_total', { provider_kind: 'sim', result: 'refused' }) - refusedBefore, 3);

        await sock.next((m) => m.type === 'call.incoming' && m.call.id === ok.body.callId);
        assert.equal(sock.messages.filter((m) => m.type === 'call.incoming').length, 1, 'no screen pop for refused calls');
        const calls = must(await gw.req('GET', '/v1/calls?limit=100', { key: o.apiKey }), 200, 'list');
        assert.equal(calls.body.items.length, 1, 'refused inbound calls create no call');
      } finally {
        sock.close();
      }
    });

    test('unknown provider, wrong kind and malformed bodies: clear 4xx', async () => {
      const did = randomDid();
      const o = await simOrg(gw, FROZEN, { numbers: [did] });
      const unknown = await inbound('prv_doesnotexist', { from: '+14169671111', to: did });
      assert.equal(unknown.status, 404, unknown.text);
      const wrongKind = await gw.req('POST', `/webhooks/twilio/${o.providerId}/voice`, { body: {} });
      assert.equal(wrongKind.status, 404, wrongKind.text);
      for (const body of [{}, { from: '+14169671111' }, { from: 1, to: did }, { from: '+1', to: 'x'.repeat(100) }]) {
        const r = await inbound(o.providerId, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      }
      const badJson = await gw.req('POST', `/webhooks/sim/${o.providerId}/inbound`, { raw: '{"from":', headers: { 'content-type': 'application/json' } });
      assert.equal(badJson.status, 400, badJson.text);
      // status reports are the simulator's own: refused from outside
      const forged = await gw.req('POST', `/webhooks/sim/${o.providerId}/status`, { body: { providerCallId: 'SIMx', status: 'completed' } });
      assert.equal(forged.status, 403, forged.text);
      const calls = must(await gw.req('GET', '/v1/calls?limit=100', { key: o.apiKey }), 200, 'list');
      assert.equal(calls.body.items.length, 0);
    });
  });
}
