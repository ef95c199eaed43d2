// The audit log end to end, on both stores: every admin change — provider install / update /
// uninstall, user assignment, move, CRM settings, routing and dial policy — is recorded newest
// first with the acting key id, a time and before/after, and no secret (a Twilio auth token, a
// CRM webhook secret, the API key) ever appears in it. Pagination and org isolation.

import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { STORES, must, putUser, uid } from '../calls/setup.js';

const hex = (n: number) => randomBytes(n).toString('hex');

for (const store of STORES) {
  describe(`audit log (${store} store)`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ store });
    });
    after(async () => {
      await gw.close();
    });

    test('every admin change, with actor = key id, before/after, and secrets redacted', async () => {
      const { apiKey: key } = await gw.createOrg('audit ' + uid('o'));
      const keyId = key.split('_')[1];
      const token1 = 'tok1' + hex(14);
      const token2 = 'tok2' + hex(14);
      const crmSecret = 'crmsecret' + hex(12);
      const u1 = uid();
      const u2 = uid();
      must(await putUser(gw, key, u1, { phone: '+14165550110' }), 201, 'u1');
      must(await putUser(gw, key, u2), 201, 'u2');

      const twilio = must(
        await gw.req('POST', '/v1/providers?verify=false', {
          key,
          body: {
            kind: 'twilio',
            name: 'Twilio EU',
            config: { accountSid: 'AC' + hex(16), authToken: token1, callerId: '+14165550199', apiBaseUrl: 'http://127.0.0.1:9' },
            install: { scope: 'specific', userIds: [] },
          },
        }),
        201,
        'install twilio',
      ).body;
      assert.ok(!JSON.stringify(twilio).includes(token1), 'the install response hides the token');
      const sim = must(await gw.req('POST', '/v1/providers', { key, body: { kind: 'sim', name: 'sim', config: {}, install: { scope: 'specific', userIds: [] } } }), 201, 'install sim').body;

      must(await gw.req('PATCH', `/v1/providers/${twilio.id}?verify=false`, { key, body: { name: 'Twilio CA', config: { ...twilio.config, authToken: token2 } } }), 200, 'update twilio');
      must(await gw.req('POST', `/v1/providers/${twilio.id}/users`, { key, body: { userIds: [u1] } }), 200, 'assign u1');
      must(await gw.req('POST', `/v1/users/${u1}/move`, { key, body: { providerId: sim.id } }), 200, 'move u1');
      must(await gw.req('PUT', '/v1/crm', { key, body: { kind: 'webhook', url: 'http://127.0.0.1:9/crm', secret: crmSecret } }), 200, 'crm settings');
      must(await gw.req('PUT', '/v1/routing/policy', { key, body: { failover: { enabled: true, order: [sim.id] } } }), 200, 'routing policy');
      must(await gw.req('PUT', '/v1/dial-policy', { key, body: { countries: { allow: ['CA', 'US'] } } }), 200, 'dial policy');
      must(await gw.req('DELETE', `/v1/providers/${twilio.id}?force=true`, { key }), 204, 'uninstall twilio');

      const all: any[] = must(await gw.req('GET', '/v1/audit?limit=100', { key }), 200, 'audit').body.items;
      const json = JSON.stringify(all);
      for (const secret of [token1, token2, crmSecret, key, key.split('_')[2]]) assert.ok(!json.includes(secret), 'a secret leaked into the audit log');

      const find = (action: string, targetId?: string) => {
        const e = all.find((x) => x.action === action && (targetId === undefined || x.target.id === targetId));
        assert.ok(e, `no ${action} entry in ${all.map((x) => x.action).join(', ')}`);
        assert.equal(e.actor, keyId, `${action} actor`);
        assert.ok(Date.parse(e.at) > Date.now() - 120_000, `${action} time`);
        return e;
      };
      const install = find('provider.install', twilio.id);
      assert.equal(install.after.kind, 'twilio');
      const update = find('provider.update', twilio.id);
      assert.equal(update.before.name, 'Twilio EU');
      assert.equal(update.after.name, 'Twilio CA');
      // the redacted token is shown as such, on both sides
      assert.ok(update.before.config.authToken !== token1 && update.after.config.authToken !== token2);
      assert.ok(update.after.config.accountSid, 'non-secret config is kept');
      const assign = find('provider.users.add', twilio.id);
      assert.deepEqual(assign.after.assigned, [u1]);
      const move = find('user.move', u1);
      assert.deepEqual([move.before.providerId, move.after.providerId], [twilio.id, sim.id]);
      const crm = find('crm.update');
      assert.equal(crm.after.url, 'http://127.0.0.1:9/crm');
      const routing = find('routing_policy.update');
      assert.deepEqual(routing.before, { failover: { enabled: false } });
      assert.deepEqual(routing.after, { failover: { enabled: true, order: [sim.id] } });
      find('dial_policy.update');
      const uninstall = find('provider.uninstall', twilio.id);
      assert.deepEqual(uninstall.after, { force: true });

      // newest first: the uninstall was the last change
      const actions = all.map((x) => x.action);
      assert.equal(actions[0], 'provider.uninstall');
      assert.ok(actions.indexOf('provider.update') < actions.indexOf('provider.install', actions.indexOf('provider.update')));

      // pages of 2 walk the same entries in the same order
      const paged: any[] = [];
      let cursor: string | null = null;
      do {
        const r = must(await gw.req('GET', `/v1/audit?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key }), 200, 'audit page');
        assert.ok(r.body.items.length <= 2);
        paged.push(...r.body.items);
        cursor = r.body.nextCursor;
      } while (cursor);
      assert.deepEqual(paged.map((x) => x.id), all.map((x) => x.id));
    });

    test("an org sees only its own entries; the audit log needs a key", async () => {
      const a = await gw.createOrg('a ' + uid('o'));
      const b = await gw.createOrg('b ' + uid('o'));
      must(await gw.req('PUT', '/v1/routing/policy', { key: a.apiKey, body: { failover: { enabled: true } } }), 200, 'routing a');
      const seen: any[] = must(await gw.req('GET', '/v1/audit?limit=100', { key: b.apiKey }), 200, 'audit b').body.items;
      assert.deepEqual(seen.filter((e) => e.action === 'routing_policy.update'), []);
      assert.deepEqual(seen.filter((e) => e.action === 'org.create').map((e) => e.actor), ['operator'], 'the operator made the org');
      assert.ok(seen.filter((e) => e.action !== 'org.create').every((e) => e.actor === b.apiKey.split('_')[1]), 'only b acted on b');
      const own: any[] = must(await gw.req('GET', '/v1/audit?limit=100', { key: a.apiKey }), 200, 'audit a').body.items;
      assert.equal(own.filter((e) => e.action === 'routing_policy.update').length, 1);
      assert.equal((await gw.req('GET', '/v1/audit')).status, 401);
    });
  });
}
