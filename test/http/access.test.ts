// Credentials and access (issue 15): scoped API keys, agent tokens and what each may do, their
// revocation (explicit, by expiry, by deleting or moving the user), bad credentials, the audit
// trail of every credential change, and the strictness rules (cursors, CRM fields). One
// in-process gateway per store.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FROZEN } from '../calls/setup.js';
import { assertError, orgClient, rid, STORES, type OrgClient } from './helpers.js';

for (const store of STORES) {
  describe(`credentials and access (${store} store)`, () => {
    let gw: TestGateway;
    let org: OrgClient;
    let provId: string;
    const alice = rid('alice');
    const bob = rid('bob');
    const as = (key: string) => (method: string, path: string, body?: unknown) => gw.req(method, path, { key, body });

    before(async () => {
      gw = await startGateway({ store });
      org = await orgClient(gw, 'Access org');
      await org.putUser(alice, 'CA', { phone: '+14165550101' });
      await org.putUser(bob, 'CA', { phone: '+14165550102' });
      provId = (await org.sim('frozen', { config: FROZEN, install: { scope: 'all' } })).id;
    });
    after(() => gw?.close());

    const mintToken = async (userId: string, ttlSec?: number) => org.ok('POST', '/v1/agent-tokens', { userId, ...(ttlSec ? { ttlSec } : {}) }, 201);

    test('API keys: the first key is listed as admin; a new key is shown once and listed without its secret', async () => {
      const first = await org.ok('GET', '/v1/api-keys', undefined, 200);
      assert.deepEqual(first.items.map((k: any) => [k.id, k.scope]), [[org.key.split('_')[1], 'admin']]);
      const made = await org.ok('POST', '/v1/api-keys', { name: 'reporting', scope: 'read' }, 201);
      assert.match(made.apiKey, /^dgk_[0-9a-f]{16}_[0-9a-f]{64}$/);
      assert.equal(made.apiKey.split('_')[1], made.id);
      assert.deepEqual(Object.keys(made).sort(), ['apiKey', 'createdAt', 'id', 'name', 'scope']);
      const list = await org.ok('GET', '/v1/api-keys', undefined, 200);
      const listed = list.items.find((k: any) => k.id === made.id);
      assert.deepEqual(listed, { id: made.id, name: 'reporting', scope: 'read', createdAt: made.createdAt });
      assert.ok(!JSON.stringify(list).includes(made.apiKey.split('_')[2]), 'no secret in the listing');
      assertError(await org.req('POST', '/v1/api-keys', { name: 'x', scope: 'agent' }), 400, 'validation_failed');
      assertError(await org.req('POST', '/v1/api-keys', { name: 'x', scope: 'read', extra: 1 }), 400, 'validation_failed');
    });

    test('a read key reads everything an admin key reads and changes nothing (403)', async () => {
      const { apiKey } = await org.ok('POST', '/v1/api-keys', { name: 'ro', scope: 'read' }, 201);
      const read = as(apiKey);
      for (const path of ['/v1/users', `/v1/users/${alice}`, '/v1/providers', `/v1/providers/${provId}`, `/v1/providers/${provId}/users`, '/v1/calls', '/v1/audit', '/v1/api-keys', '/v1/dial-policy', '/v1/routing/policy', '/v1/providers/performance']) {
        const r = await read('GET', path);
        assert.equal(r.status, 200, `GET ${path} with a read key: ${r.status} ${r.text}`);
      }
      const writes: Array<[string, string, unknown]> = [
        ['PUT', `/v1/users/${rid()}`, { region: 'CA' }],
        ['DELETE', `/v1/users/${bob}`, undefined],
        ['POST', `/v1/users/${bob}/move`, { providerId: provId }],
        ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {} }],
        ['PATCH', `/v1/providers/${provId}`, { name: 'renamed' }],
        ['DELETE', `/v1/providers/${provId}?force=true`, undefined],
        ['POST', '/v1/calls', { userId: alice, to: '+14165550199' }],
        ['PUT', '/v1/dial-policy', {}],
        ['PUT', '/v1/routing/policy', { failover: { enabled: false } }],
        ['PUT', '/v1/crm', { kind: 'webhook', url: 'http://127.0.0.1:9/x' }],
        ['POST', '/v1/api-keys', { name: 'escalate', scope: 'admin' }],
        ['DELETE', `/v1/api-keys/${org.key.split('_')[1]}`, undefined],
        ['POST', '/v1/agent-tokens', { userId: alice }],
        ['POST', '/v1/trials', { providerIds: [provId], to: '+14165550199' }],
      ];
      for (const [m, p, b] of writes) assertError(await read(m, p, b), 403, 'forbidden');
      // nothing changed
      assert.equal((await org.ok('GET', `/v1/providers/${provId}`, undefined, 200)).name, 'frozen');
      assert.equal((await org.ok('GET', `/v1/users/${bob}`, undefined, 200)).id, bob);
    });

    test('revoking a key: refused within a second; the last admin key is kept (409); unknown ids 404', async () => {
      const ro = await org.ok('POST', '/v1/api-keys', { name: 'short-lived', scope: 'read' }, 201);
      assert.equal((await as(ro.apiKey)('GET', '/v1/users')).status, 200);
      await org.ok('DELETE', `/v1/api-keys/${ro.id}`, undefined, 204);
      const t0 = Date.now();
      await eventually(async () => (await as(ro.apiKey)('GET', '/v1/users')).status === 401, 1500, 'the revoked key refused');
      assert.ok(Date.now() - t0 < 1200, `refused after ${Date.now() - t0} ms`);
      assertError(await org.req('DELETE', `/v1/api-keys/${ro.id}`), 404, 'not_found');
      assertError(await org.req('DELETE', '/v1/api-keys/0000000000000000'), 404, 'not_found');

      // a separate org: rotating its only admin key
      const solo = await orgClient(gw, 'Solo');
      const firstId = solo.key.split('_')[1];
      assertError(await solo.req('DELETE', `/v1/api-keys/${firstId}`), 409, 'last_admin_key');
      const next = await solo.ok('POST', '/v1/api-keys', { name: 'rotated', scope: 'admin' }, 201);
      await as(next.apiKey)('DELETE', `/v1/api-keys/${firstId}`).then((r) => assert.equal(r.status, 204, r.text));
      await eventually(async () => (await solo.req('GET', '/v1/users')).status === 401, 1500, 'the rotated-out key refused');
      assert.equal((await as(next.apiKey)('GET', '/v1/users')).status, 200);
      // another org's key id is not this org's
      assertError(await org.req('DELETE', `/v1/api-keys/${next.id}`), 404, 'not_found');
    });

    test('agent tokens: minted for a known user with a bounded ttl; listed nowhere; shown once', async () => {
      const t = await mintToken(alice);
      assert.deepEqual(Object.keys(t).sort(), ['expiresAt', 'id', 'token', 'userId']);
      assert.match(t.token, /^dga_[0-9a-f]{16}_[0-9a-f]{64}$/);
      assert.equal(t.token.split('_')[1], t.id);
      assert.equal(t.userId, alice);
      const ttl = Date.parse(t.expiresAt) - Date.now();
      assert.ok(ttl > 3590_000 && ttl <= 3600_000, `default ttl 3600 s, got ${ttl} ms`);
      const day = await mintToken(alice, 86_400);
      assert.ok(Date.parse(day.expiresAt) - Date.now() > 86_390_000);
      assertError(await org.req('POST', '/v1/agent-tokens', { userId: alice, ttlSec: 86_401 }), 400, 'validation_failed');
      assertError(await org.req('POST', '/v1/agent-tokens', { userId: alice, ttlSec: 0 }), 400, 'validation_failed');
      assertError(await org.req('POST', '/v1/agent-tokens', { userId: rid('ghost') }), 404, 'user_not_found');
      assertError(await org.req('POST', '/v1/agent-tokens', {}), 400, 'validation_failed');
      const keys = await org.ok('GET', '/v1/api-keys', undefined, 200);
      assert.ok(!keys.items.some((k: any) => k.id === t.id), 'tokens are not API keys');
      // a token id is not a key id and the reverse
      assertError(await org.req('DELETE', `/v1/api-keys/${t.id}`), 404, 'not_found');
      assertError(await org.req('DELETE', `/v1/agent-tokens/${org.key.split('_')[1]}`), 404, 'not_found');
    });

    test("an agent token places, reads and hangs up its own user's calls; other users' are 403/404; nothing else", async () => {
      const { token } = await mintToken(alice);
      const agent = as(token);
      const own = await agent('POST', '/v1/calls', { to: '+14165550188' });
      assert.equal(own.status, 201, own.text);
      assert.equal(own.body.userId, alice, 'userId left out: the token user');
      const explicit = await agent('POST', '/v1/calls', { userId: alice, to: '+14165550187' });
      assert.equal(explicit.status, 201, explicit.text);
      assertError(await agent('POST', '/v1/calls', { userId: bob, to: '+14165550186' }), 403, 'forbidden');

      const bobs = await org.ok('POST', '/v1/calls', { userId: bob, to: '+14165550185' }, 201);
      assert.equal((await agent('GET', `/v1/calls/${own.body.id}`)).status, 200);
      const other = assertError(await agent('GET', `/v1/calls/${bobs.id}`), 404, 'call_not_found');
      const missing = assertError(await agent('GET', '/v1/calls/no-such-call'), 404, 'call_not_found');
      assert.equal(other.message.replace(bobs.id, 'X'), missing.message.replace('no-such-call', 'X'), "another user's call looks like no call");
      assertError(await agent('DELETE', `/v1/calls/${bobs.id}`), 404, 'call_not_found');
      assert.equal((await org.ok('GET', `/v1/calls/${bobs.id}`, undefined, 200)).status === 'ended', false, "bob's call was left alone");
      const hung = await agent('DELETE', `/v1/calls/${own.body.id}`);
      assert.equal(hung.status, 202, hung.text);

      for (const [m, p, b] of [
        ['GET', '/v1/calls', undefined],
        ['GET', `/v1/calls?userId=${alice}`, undefined],
        ['GET', '/v1/users', undefined],
        ['GET', `/v1/users/${alice}`, undefined],
        ['PUT', `/v1/users/${alice}`, { region: 'CA' }],
        ['GET', '/v1/providers', undefined],
        ['DELETE', `/v1/providers/${provId}`, undefined],
        ['GET', '/v1/audit', undefined],
        ['GET', '/v1/api-keys', undefined],
        ['POST', '/v1/api-keys', { name: 'x', scope: 'admin' }],
        ['POST', '/v1/agent-tokens', { userId: alice }],
        ['GET', '/v1/crm', undefined],
        ['GET', '/v1/dial-policy', undefined],
        ['POST', '/v1/orgs', { name: 'x' }],
      ] as Array<[string, string, unknown]>) {
        const r = await agent(m, p, b);
        assert.equal(r.status, p === '/v1/orgs' ? 401 : 403, `${m} ${p} with an agent token: ${r.status} ${r.text}`);
      }
      await org.ok('DELETE', `/v1/calls/${bobs.id}`, undefined, 202);
      await org.ok('DELETE', `/v1/calls/${explicit.body.id}`, undefined, 202);
    });

    test("events: an agent token hears its own user only; another user's userId is refused with 403; a plain GET answers 426", async () => {
      const { token } = await mintToken(alice);
      await assert.rejects(gw.events(token, bob), /refused: 403/);
      const mine = await gw.events(token);
      const mineExplicit = await gw.events(token, alice);
      const all = await gw.events(org.key);
      try {
        const bobs = await org.ok('POST', '/v1/calls', { userId: bob, to: '+14165550184' }, 201);
        const alices = await org.ok('POST', '/v1/calls', { userId: alice, to: '+14165550183' }, 201);
        await all.next((m) => m.type === 'call.created' && m.call.id === bobs.id);
        await mine.next((m) => m.type === 'call.created' && m.call.id === alices.id);
        await mineExplicit.next((m) => m.type === 'call.created' && m.call.id === alices.id);
        assert.equal(mine.messages[0].type, 'calls.snapshot', 'the live-calls snapshot comes first');
        assert.ok(mine.messages[0].calls.every((c: { userId: string }) => c.userId === alice), "the snapshot holds the agent's own calls only");
        assert.equal(mine.messages[1].userId, alice, 'the hello names the user');
        assert.ok(!mine.messages.some((m) => m.call?.userId === bob), "nothing of bob's");
        await org.ok('DELETE', `/v1/calls/${bobs.id}`, undefined, 202);
        await org.ok('DELETE', `/v1/calls/${alices.id}`, undefined, 202);
      } finally {
        mine.close();
        mineExplicit.close();
        all.close();
      }
      assertError(await gw.req('GET', '/v1/events', { key: token }), 426, 'upgrade_required');
      assertError(await gw.req('GET', `/v1/events?userId=${bob}`, { key: token }), 403, 'forbidden');
    });

    test('a token is revoked by DELETE, by expiry, and by deleting, moving or unassigning its user; its open socket is closed', async () => {
      const check = (token: string) => as(token)('POST', '/v1/calls', { to: 'x' }).then((r) => r.status);
      const refusedSoon = async (token: string, what: string) => {
        const t0 = Date.now();
        await eventually(async () => (await check(token)) === 401, 1500, what);
        assert.ok(Date.now() - t0 < 1200, `${what} after ${Date.now() - t0} ms`);
      };
      // a working token gets past authentication (the bad number, or a user without a provider, is refused after it)
      const works = async (token: string, what = 'works') => assert.notEqual(await check(token), 401, what);
      const t1 = await mintToken(alice);
      await works(t1.token);
      const sock = await gw.events(t1.token);
      const closed = new Promise<number>((r) => sock.ws.once('close', (code) => r(code)));
      await org.ok('DELETE', `/v1/agent-tokens/${t1.id}`, undefined, 204);
      await refusedSoon(t1.token, 'a deleted token');
      assert.equal(await closed, 1008, 'its socket closed as revoked');
      assertError(await org.req('DELETE', `/v1/agent-tokens/${t1.id}`), 404, 'not_found');

      const short = await mintToken(alice, 1);
      await works(short.token);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(await check(short.token), 401, 'expired');

      const carol = rid('carol');
      await org.putUser(carol, 'CA', { phone: '+14165550103' });
      const p2 = (await org.sim('other', { config: FROZEN })).id;
      const moved = await mintToken(carol);
      const keep = await mintToken(alice);
      await works(moved.token);
      await org.ok('PUT', `/v1/users/${carol}`, { region: 'CA', phone: '+14165550104' }, 200);
      await works(moved.token, 'a profile update keeps the token');
      await org.ok('POST', `/v1/users/${carol}/move`, { providerId: p2 }, 200);
      await refusedSoon(moved.token, 'the token of a moved user');

      const unassigned = await mintToken(carol);
      await works(unassigned.token);
      await org.ok('DELETE', `/v1/providers/${p2}/users/${carol}`, undefined, 204);
      await refusedSoon(unassigned.token, 'the token of an unassigned user');

      const deleted = await mintToken(carol);
      await org.ok('DELETE', `/v1/users/${carol}`, undefined, 204);
      await refusedSoon(deleted.token, 'the token of a deleted user');
      await org.putUser(carol, 'CA', { phone: '+14165550105' });
      assert.equal(await check(deleted.token), 401, 'a user made again under the id does not revive it');
      await works(keep.token, "another user's token is untouched");
    });

    test('bad credentials answer 401, never 500', async () => {
      const { token } = await mintToken(alice);
      const [, id, secret] = token.split('_');
      const bad = [
        '',
        'garbage',
        'dga_',
        `dga_${id}_${'0'.repeat(64)}`,
        `dga_${id}_${secret}x`,
        `dga_${id.toUpperCase()}_${secret}`,
        `dgk_${id}_${secret}`,
        `dga_${org.key.split('_')[1]}_${org.key.split('_')[2]}`,
        `dga_${'f'.repeat(16)}_${secret}`,
        'dga_' + 'a'.repeat(5000),
        `${token}%00`,
        gw.adminToken,
      ];
      for (const b of bad) {
        for (const [m, p] of [['GET', '/v1/users'], ['POST', '/v1/calls'], ['GET', '/v1/calls/x']]) {
          const r = await gw.req(m, p, { headers: { authorization: `Bearer ${b}` }, body: m === 'POST' ? { to: 'x' } : undefined });
          assertError(r, 401, 'unauthorized');
        }
      }
      for (const h of ['Basic abc', 'Bearer', 'Bearer a b', token]) assertError(await gw.req('GET', '/v1/users', { headers: { authorization: h } }), 401, 'unauthorized');
      await assert.rejects(gw.events('dga_nope'), /refused: 401/);
    });

    test('every credential change is audited with the id of the credential that made it, never a secret', async () => {
      const made = await org.ok('POST', '/v1/api-keys', { name: 'audited', scope: 'read' }, 201);
      await org.ok('DELETE', `/v1/api-keys/${made.id}`, undefined, 204);
      const t = await mintToken(bob);
      await org.ok('DELETE', `/v1/agent-tokens/${t.id}`, undefined, 204);
      const { items } = await org.ok('GET', '/v1/audit?limit=50', undefined, 200);
      const text = JSON.stringify(items);
      assert.ok(!text.includes(made.apiKey.split('_')[2]) && !text.includes(t.token.split('_')[2]) && !text.includes(org.key.split('_')[2]), 'no secret in the audit log');
      const me = org.key.split('_')[1];
      const find = (action: string, id: string) => items.find((e: any) => e.action === action && e.target.id === id);
      for (const [action, id] of [['api_key.create', made.id], ['api_key.revoke', made.id], ['agent_token.create', t.id], ['agent_token.revoke', t.id]]) {
        const e = find(action, id);
        assert.ok(e, `${action} ${id} is audited`);
        assert.equal(e.actor, me, `${action}: the actor is the key id`);
      }
      assert.equal(find('agent_token.create', t.id).after.userId, bob);
      assert.equal(find('api_key.create', made.id).after.scope, 'read');
    });

    test('a malformed cursor answers 400 invalid_cursor on every paged route', async () => {
      for (const path of ['/v1/users', '/v1/calls', `/v1/providers/${provId}/users`, '/v1/audit']) {
        for (const cursor of ['%%%', '%25%25%25', 'not-base64!', Buffer.from('\u0001\u0002').toString('base64url'), '@@@@', 'AAAA']) {
          assertError(await org.req('GET', `${path}?cursor=${cursor}`), 400, 'invalid_cursor');
        }
      }
    });

    test('PUT /v1/crm refuses unknown fields (400) and stores nothing', async () => {
      assertError(await org.req('PUT', '/v1/crm', { kind: 'webhook', url: 'http://127.0.0.1:9/hook', colour: 'red' }), 400, 'validation_failed');
      assertError(await org.req('GET', '/v1/crm'), 404, 'not_found');
    });
  });
}
