// Bad input through the HTTP API, on both stores: every refusal is a 4xx with the one error shape
// and a clear code, never a 500 or a stack trace, never a key or a secret, and it changes nothing
// (the org's users and providers are snapshotted before and after each one).

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Res, type TestGateway } from '../helpers/gateway.js';
import { assertError, orgClient, rid, STORES, twilioSid, walkPages, type OrgClient } from './helpers.js';

const JSON_CT = { 'content-type': 'application/json' };

// the two stores run side by side: each has its own gateway and orgs
describe('bad input over HTTP', { concurrency: true }, () => {
  for (const store of STORES) {
    // tests of one store share a gateway and run one after another
    describe(`${store} store`, { concurrency: 1 }, () => {
      let g: TestGateway;
      let a: OrgClient; // the org whose data must never change
      let b: OrgClient; // another org, used to try a's ids
      const secrets: string[] = [];
      const seen: Array<{ what: string; res: Res }> = [];
      let ua: string, ub: string, pa: any, pb: any, ca: any;

      /** Sends as org a (or with the given key) and remembers the answer for the secrets sweep. */
      const send = async (method: string, path: string, opts: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) => {
        const key = opts.key === null ? undefined : (opts.key ?? a.key);
        const res = await g.req(method, path, { key, body: opts.body, raw: opts.raw, headers: opts.headers });
        seen.push({ what: `${method} ${path.slice(0, 80)}`, res });
        return res;
      };

      // users carry their providerId and providers their userCount, so these two listings catch any
      // change an assignment makes; the providers' own member listings are compared once per group
      const snapshot = async (o: OrgClient) => {
        const [users, providers] = await Promise.all([walkPages(o, '/v1/users', 1000), o.ok('GET', '/v1/providers', undefined, 200)]);
        // a provider's live breaker state moves with the gateway's own health probes; its
        // settings are data and stay in the comparison
        const data = providers.items.map((p: { health: Record<string, unknown> }) => {
          const { state: _s, failures: _f, retryAfterSec: _r, successes: _c, openUntil: _o, trialUntil: _t, ...settings } = p.health;
          return { ...p, health: settings };
        });
        return { users, providers: data };
      };
      const members = async (o: OrgClient) => {
        const providers = (await o.ok('GET', '/v1/providers', undefined, 200)).items;
        const out: Record<string, string[]> = {};
        for (const p of providers) out[p.id] = (await walkPages(o, `/v1/providers/${p.id}/users`, 1000)).map((u) => u.id).sort();
        return out;
      };
      let baselineMembers: Record<string, string[]>;
      afterEach(async () => {
        if (baselineMembers) assert.deepEqual(await members(a), baselineMembers, "org a's provider member listings are unchanged");
      });

      // org a never changes after its set-up, so one baseline serves every refusal
      let baselineA: Awaited<ReturnType<typeof snapshot>>;
      const unchanged = async (what: string) => assert.deepEqual(await snapshot(a), baselineA, `${what} changed nothing in org a`);

      /**
       * Runs the request, checks the refusal, and checks org a (and, when b sent it, b) are exactly
       * as before. In the big matrices `deferCheck` leaves the snapshot to `unchanged()` after a
       * batch: a refusal that changed something would still show there.
       */
      const refused = async (
        status: number,
        code: string | undefined,
        method: string,
        path: string,
        opts: Parameters<typeof send>[2] & { deferCheck?: boolean } = {},
      ) => {
        const beforeB = opts.key === b.key ? await snapshot(b) : undefined;
        const r = await send(method, path, opts);
        const e = assertError(r, status, code);
        if (!opts.deferCheck) await unchanged(`${method} ${path.slice(0, 60)}`);
        if (beforeB) assert.deepEqual(await snapshot(b), beforeB, `${method} ${path.slice(0, 60)} changed nothing in org b`);
        return e;
      };

      before(async () => {
        g = await startGateway({ store });
        a = await orgClient(g, 'victim');
        b = await orgClient(g, 'other');
        secrets.push(a.key, b.key, g.adminToken);
        ua = rid('ua');
        ub = rid('ub');
        await a.putUser(ua, 'CA', { phone: '+14169671111', numbers: ['+14169672222'] });
        await a.putUser(rid('ua2'), 'FR');
        await b.putUser(ub, 'CA', { phone: '+14169673333' });
        const authToken = 'twilio-secret-' + rid('t');
        secrets.push(authToken);
        pa = await a.ok('POST', '/v1/providers', { kind: 'sim', name: 'a sim', config: { ringAfterMs: 0, answerAfterMs: 0, durationMs: 0 }, install: { scope: 'specific', userIds: [ua] } }, 201);
        await a.ok('POST', '/v1/providers?verify=false', { kind: 'twilio', name: 'a twilio', config: { accountSid: twilioSid(), authToken, callerId: '+14165550100' } }, 201);
        pb = await b.ok('POST', '/v1/providers', { kind: 'sim', name: 'b sim', config: { ringAfterMs: 0, answerAfterMs: 0, durationMs: 0 }, install: { scope: 'all' } }, 201);
        ca = await a.ok('POST', '/v1/calls', { userId: ua, to: '+14169674444' }, 201);
        baselineA = await snapshot(a);
        baselineMembers = await members(a);
      });

      after(async () => {
        await g?.close();
      });

      describe('bodies', () => {
        test('malformed JSON, empty JSON, missing body and non-object JSON answer 400', async () => {
          await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`, { raw: '{"region":', headers: JSON_CT });
          await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`, { raw: '{region: CA}', headers: JSON_CT });
          await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`, { raw: '', headers: JSON_CT });
          await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`);
          for (const raw of ['[]', 'null', '"CA"', '42', '[{"region":"CA"}]']) {
            await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`, { raw, headers: JSON_CT });
          }
          await refused(400, 'validation_failed', 'POST', '/v1/providers', { raw: '{"kind":"sim",', headers: JSON_CT });
          await refused(400, 'validation_failed', 'POST', `/v1/providers/${pa.id}/users`, { raw: '', headers: JSON_CT });
          await refused(400, 'validation_failed', 'POST', `/v1/users/${ua}/move`, { raw: 'not json', headers: JSON_CT });
          await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`, { raw: '{"region":"CA","__proto__":{"admin":true}}', headers: JSON_CT });
        });

        test('a wrong content type answers 415', async () => {
          for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
            await refused(415, 'unsupported_media_type', 'PUT', `/v1/users/${ua}`, { raw: 'region=CA', headers: { 'content-type': ct } });
            await refused(415, 'unsupported_media_type', 'POST', '/v1/providers', { raw: 'kind=sim', headers: { 'content-type': ct } });
          }
          // JSON with a charset is JSON
          const ok = await send('PUT', `/v1/users/${rid('cs')}`, { key: b.key, raw: '{"region":"CA"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
          assert.equal(ok.status, 201, ok.text);
          await b.ok('DELETE', `/v1/users/${ok.body.id}`, undefined, 204);
        });

        test('oversized headers answer 431 in the same error shape', async () => {
          await refused(431, 'headers_too_large', 'GET', '/v1/users', { headers: { 'x-padding': 'p'.repeat(20 * 1024) } });
          await refused(431, 'headers_too_large', 'PUT', `/v1/users/${ua}`, { body: { region: 'US' }, headers: { cookie: 'c'.repeat(20 * 1024) } });
        });

        test('a body over the limit answers 413', async () => {
          await refused(413, 'payload_too_large', 'PUT', `/v1/users/${ua}`, { body: { region: 'CA', name: 'x'.repeat(300 * 1024) } });
          await refused(413, 'payload_too_large', 'POST', `/v1/providers/${pa.id}/users`, { body: { userIds: Array.from({ length: 40_000 }, (_, i) => `user-${i}`) } });
        });

        test('unknown fields answer 400 naming the field', async () => {
          const cases: Array<[string, string, unknown, string]> = [
            ['PUT', `/v1/users/${ua}`, { region: 'CA', colour: 'red' }, 'colour'],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', providerId: pb.id }, 'providerId'],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, secretAdmin: true }, 'secretAdmin'],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, install: { scope: 'all', everyone: true } }, 'everyone'],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, regions: { allow: ['CA'], only: ['US'] } }, 'only'],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: { lateness: 3 } }, 'lateness'],
            ['PATCH', `/v1/providers/${pa.id}`, { name: 'x', scope: 'all' }, 'scope'],
            ['POST', `/v1/providers/${pa.id}/users`, { userIds: [ua], force: true }, 'force'],
            ['POST', `/v1/providers/${pa.id}/install-all`, { futureUsers: true, now: true }, 'now'],
            ['POST', `/v1/users/${ua}/move`, { providerId: pa.id, from: 'x' }, 'from'],
            ['POST', '/v1/calls', { userId: ua, to: '+14169674444', priority: 1 }, 'priority'],
          ];
          for (const [method, path, body, field] of cases) {
            const e = await refused(400, 'validation_failed', method, path, { body });
            assert.match(e.message, new RegExp(field), `${method} ${path}: the message names "${field}": ${e.message}`);
            assert.deepEqual(Object.keys(e).sort(), ['code', 'message']);
          }
          await refused(400, 'validation_failed', 'DELETE', `/v1/providers/${pa.id}?forced=true`);
          await refused(400, 'validation_failed', 'GET', '/v1/users?colour=red');
        });

        test('wrong types answer 400', async () => {
          const cases: Array<[string, string, unknown]> = [
            ['PUT', `/v1/users/${ua}`, {}],
            ['PUT', `/v1/users/${ua}`, { region: 5 }],
            ['PUT', `/v1/users/${ua}`, { region: ['CA'] }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', numbers: '+14169671111' }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', numbers: [14169671111] }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', name: 5 }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', phone: 14169671111 }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', email: 'not-an-email' }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', sipUri: 'http://example.com' }],
            ['PUT', `/v1/users/${ua}`, { region: 'CA', crmUserId: '' }],
            ['POST', '/v1/providers', { kind: 'sim' }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: '{}' }],
            ['POST', '/v1/providers', { kind: 'sim', name: '', config: {} }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x'.repeat(201), config: {} }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, priority: '1' }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, priority: 1.5 }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, install: { scope: 'some' } }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, install: { scope: 'specific', userIds: ua } }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, install: { scope: 'specific', userIds: ['a:b'] } }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, install: { scope: 'all', futureUsers: 'yes' } }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, install: { scope: 'all', userIds: [ua] } }],
            ['POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, regions: { allow: 'CA' } }],
            ['PATCH', `/v1/providers/${pa.id}`, { priority: null }],
            ['PATCH', `/v1/providers/${pa.id}`, { futureUsers: 'true' }],
            ['PATCH', `/v1/providers/${pa.id}`, { config: [] }],
            ['POST', `/v1/providers/${pa.id}/users`, {}],
            ['POST', `/v1/providers/${pa.id}/users`, { userIds: [] }],
            ['POST', `/v1/providers/${pa.id}/users`, { userIds: ua }],
            ['POST', `/v1/providers/${pa.id}/users`, { userIds: [5] }],
            ['POST', `/v1/providers/${pa.id}/install-all`, { futureUsers: 'yes' }],
            ['POST', `/v1/users/${ua}/move`, {}],
            ['POST', `/v1/users/${ua}/move`, { providerId: 5 }],
            ['POST', `/v1/users/${ua}/move`, { providerId: 'a:b' }],
            ['POST', '/v1/calls', { userId: ua }],
            ['POST', '/v1/calls', { userId: ua, to: 4169674444 }],
            ['POST', '/v1/calls', { userId: ua, to: '+14169674444', crmRecord: { module: 'Leads' } }],
          ];
          for (const [method, path, body] of cases) await refused(400, 'validation_failed', method, path, { body });
          for (const q of ['force=maybe', 'force=']) await refused(400, 'validation_failed', 'DELETE', `/v1/providers/${pa.id}?${q}`);
          for (const q of ['region=ca', 'unassigned=perhaps', 'providerId=a:b']) await refused(400, 'validation_failed', 'GET', `/v1/users?${q}`);
        });

        test('a bad region answers 400 naming the region; a bad phone answers 422 invalid_number', async () => {
          for (const region of ['XX', 'ca', 'CAN', 'C', '', 'ZZ', 'EU', 'UK']) {
            const e = await refused(400, 'validation_failed', 'PUT', `/v1/users/${ua}`, { body: { region } });
            assert.match(e.message, /region/);
            await refused(400, 'validation_failed', 'PUT', `/v1/users/${rid('new')}`, { body: { region } });
          }
          for (const phone of ['12', 'abc', '+999 123', '+1 416 967 111111111', '00000000']) {
            await refused(422, 'invalid_number', 'PUT', `/v1/users/${ua}`, { body: { region: 'CA', phone } });
            await refused(422, 'invalid_number', 'PUT', `/v1/users/${rid('new')}`, { body: { region: 'CA', numbers: [phone] } });
          }
          await refused(422, 'invalid_number', 'POST', '/v1/calls', { body: { userId: ua, to: 'not a number' } });
        });
      });

      describe('ids', () => {
        test('ids with : { } * / and other characters answer 400, never 500', async () => {
          for (const id of ['a:b', '{org:x}', 'a*', '*', 'a{b', 'b}', 'a%2Fb', 'a%00b', 'a%20b', '%E2%9C%93', 'a%3Ab', 'a"b', 'a%5Cb']) {
            const deferCheck = true;
            await refused(400, 'validation_failed', 'PUT', `/v1/users/${id}`, { body: { region: 'CA' }, deferCheck });
            await refused(400, 'validation_failed', 'GET', `/v1/users/${id}`, { deferCheck });
            await refused(400, 'validation_failed', 'DELETE', `/v1/users/${id}`, { deferCheck });
            await refused(400, 'validation_failed', 'POST', `/v1/users/${id}/move`, { body: { providerId: pa.id }, deferCheck });
            await refused(400, 'validation_failed', 'GET', `/v1/providers/${id}`, { deferCheck });
            await refused(400, 'validation_failed', 'DELETE', `/v1/providers/${id}?force=true`, { deferCheck });
            await refused(400, 'validation_failed', 'DELETE', `/v1/providers/${pa.id}/users/${id}`, { deferCheck });
            await refused(400, 'validation_failed', 'GET', `/v1/calls/${id}`, { deferCheck });
            await unchanged(`requests with id ${id}`);
          }
          await refused(400, 'validation_failed', 'POST', `/v1/providers/${pa.id}/users`, { body: { userIds: [ua, '{org:x}'] } });
          await refused(400, 'validation_failed', 'POST', '/v1/calls', { body: { userId: 'a:b', to: '+14169674444' } });
        });

        test('a 129-character id and a 10 KB id answer 400, never 500 (nor 404/414)', async () => {
          for (const id of ['a'.repeat(129), 'a'.repeat(300), 'a'.repeat(10 * 1024)]) {
            await refused(400, 'validation_failed', 'PUT', `/v1/users/${id}`, { body: { region: 'CA' } });
            await refused(400, 'validation_failed', 'GET', `/v1/users/${id}`);
            await refused(400, 'validation_failed', 'POST', `/v1/users/${id}/move`, { body: { providerId: pa.id } });
            await refused(400, 'validation_failed', 'PATCH', `/v1/providers/${id}`, { body: { name: 'x' } });
            await refused(400, 'validation_failed', 'GET', `/v1/providers/${id}/users`);
            await refused(400, 'validation_failed', 'DELETE', `/v1/providers/${pa.id}/users/${id}`);
            await refused(400, 'validation_failed', 'DELETE', `/v1/calls/${id}`);
            await refused(400, 'validation_failed', 'POST', `/v1/users/${ua}/move`, { body: { providerId: id } });
            await refused(400, 'validation_failed', 'POST', `/v1/providers/${pa.id}/users`, { body: { userIds: [id] } });
          }
          // 128 characters is a valid id
          const longest = 'L'.repeat(128);
          assertError(await send('GET', `/v1/users/${longest}`), 404, 'user_not_found');
        });
      });

      describe('keys', () => {
        const routes: Array<[string, () => string, unknown?]> = [
          ['GET', () => '/v1/users'],
          ['PUT', () => `/v1/users/${ua}`, { region: 'US' }],
          ['GET', () => `/v1/users/${ua}`],
          ['DELETE', () => `/v1/users/${ua}`],
          ['POST', () => `/v1/users/${ua}/move`, { providerId: 'x' }],
          ['POST', () => '/v1/providers', { kind: 'sim', name: 'x', config: {} }],
          ['GET', () => '/v1/providers'],
          ['GET', () => `/v1/providers/${pa.id}`],
          ['PATCH', () => `/v1/providers/${pa.id}`, { name: 'stolen' }],
          ['DELETE', () => `/v1/providers/${pa.id}?force=true`],
          ['GET', () => `/v1/providers/${pa.id}/users`],
          ['POST', () => `/v1/providers/${pa.id}/users`, { userIds: [ua] }],
          ['DELETE', () => `/v1/providers/${pa.id}/users/${ua}`],
          ['POST', () => `/v1/providers/${pa.id}/install-all`, { futureUsers: true }],
          ['POST', () => '/v1/calls', { userId: ua, to: '+14169674444' }],
          ['GET', () => `/v1/calls/${ca.id}`],
          ['DELETE', () => `/v1/calls/${ca.id}`],
        ];

        test('a missing, malformed or wrong key answers 401 on every /v1 route', async () => {
          const [, keyId, secret] = /^dgk_([0-9a-f]{16})_(.+)$/.exec(a.key)!;
          const wrongSecret = `dgk_${keyId}_${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
          const bad: Array<[string, Record<string, string>]> = [
            ['none', {}],
            ['empty bearer', { authorization: 'Bearer ' }],
            ['basic', { authorization: `Basic ${Buffer.from(`${a.key}:`).toString('base64')}` }],
            ['raw key, no scheme', { authorization: a.key }],
            ['wrong secret', { authorization: `Bearer ${wrongSecret}` }],
            ['unknown key id', { authorization: `Bearer dgk_0000000000000000_${secret}` }],
            ['operator token', { authorization: `Bearer ${g.adminToken}` }],
            ['garbage', { authorization: 'Bearer ' + 'x'.repeat(4000) }],
            ['two keys', { authorization: `Bearer ${a.key} ${b.key}` }],
          ];
          for (const [method, path, body] of routes) {
            for (const [what, headers] of bad) {
              const e = await refused(401, 'unauthorized', method, path(), { key: null, body, headers, deferCheck: true });
              assert.ok(!e.message.includes(secret), `${what}: the key is not echoed`);
            }
            await unchanged(`unauthenticated ${method} ${path()}`);
          }
        });

        test('an org key cannot create orgs; the operator token can', async () => {
          await refused(401, 'unauthorized', 'POST', '/v1/orgs', { body: { name: 'sneaky' } });
          await refused(401, 'unauthorized', 'POST', '/v1/orgs', { key: null, body: { name: 'anon' } });
          await refused(401, 'unauthorized', 'POST', '/v1/orgs', { key: g.adminToken.slice(0, -1), body: { name: 'almost' } });
          await refused(400, 'validation_failed', 'POST', '/v1/orgs', { key: g.adminToken, body: { name: '' } });
        });

        test("another org's ids answer 404 (not 403) on every route, with the same message as an unknown id", async () => {
          const ghostUser = rid('ghost');
          const ghostProvider = 'prv_' + rid('ghost');
          const ghostCall = 'call_' + rid('ghost');
          const as = (method: string, path: string, body?: unknown) => refused(404, undefined, method, path, { key: b.key, body });
          /** b asks about a's id and about an id nobody has: the answers must not tell them apart */
          const same = async (method: string, mk: (id: string) => string, real: string, ghost: string, body?: unknown) => {
            const e1 = await as(method, mk(real), body);
            const e2 = await as(method, mk(ghost), body);
            assert.equal(e1.code, e2.code, `${method} ${mk('{id}')}: same code`);
            assert.equal(e1.message.replaceAll(real, '<id>'), e2.message.replaceAll(ghost, '<id>'), `${method} ${mk('{id}')}: same message`);
          };
          await same('GET', (id) => `/v1/users/${id}`, ua, ghostUser);
          await same('DELETE', (id) => `/v1/users/${id}`, ua, ghostUser);
          await same('POST', (id) => `/v1/users/${id}/move`, ua, ghostUser, { providerId: pb.id });
          const m1 = await as('POST', `/v1/users/${ub}/move`, { providerId: pa.id });
          const m2 = await as('POST', `/v1/users/${ub}/move`, { providerId: ghostProvider });
          assert.equal(m1.code, 'provider_not_found');
          assert.equal(m1.message.replaceAll(pa.id, '<id>'), m2.message.replaceAll(ghostProvider, '<id>'));
          await same('GET', (id) => `/v1/providers/${id}`, pa.id, ghostProvider);
          await same('PATCH', (id) => `/v1/providers/${id}`, pa.id, ghostProvider, { name: 'stolen' });
          await same('PATCH', (id) => `/v1/providers/${id}`, pa.id, ghostProvider, { config: {} });
          await same('DELETE', (id) => `/v1/providers/${id}`, pa.id, ghostProvider);
          await same('DELETE', (id) => `/v1/providers/${id}?force=true`, pa.id, ghostProvider);
          await same('GET', (id) => `/v1/providers/${id}/users`, pa.id, ghostProvider);
          await same('POST', (id) => `/v1/providers/${id}/users`, pa.id, ghostProvider, { userIds: [ub] });
          await same('POST', (id) => `/v1/providers/${id}/install-all`, pa.id, ghostProvider, { futureUsers: true });
          await same('DELETE', (id) => `/v1/providers/${id}/users/${ua}`, pa.id, ghostProvider);
          await same('DELETE', (id) => `/v1/providers/${pb.id}/users/${id}`, ua, ghostUser);
          await same('GET', (id) => `/v1/calls/${id}`, ca.id, ghostCall);
          await same('DELETE', (id) => `/v1/calls/${id}`, ca.id, ghostCall);
          // a's user through b's own provider: unknown to b
          const e = await as('POST', `/v1/providers/${pb.id}/users`, { userIds: [ua] });
          assert.equal(e.code, 'user_not_found');
          const batch = await b.ok('POST', `/v1/providers/${pb.id}/users`, { userIds: [ua, ub] }, 200);
          assert.deepEqual(batch.conflicts, [{ userId: ua, reason: 'unknown_user' }]);
          const call = await as('POST', '/v1/calls', { userId: ua, to: '+14169674444' });
          assert.equal(call.code, 'user_not_found');
          const inst = await b.ok('POST', '/v1/providers', { kind: 'sim', name: 'try', config: {}, install: { scope: 'specific', userIds: [ua] } }, 201);
          assert.deepEqual(inst.install.conflicts, [{ userId: ua, reason: 'unknown_user' }]);
          await b.ok('DELETE', `/v1/providers/${inst.id}`, undefined, 204);
        });

        test("listings never show another org's data, and a PUT of the same id creates b's own user", async () => {
          const users = (await walkPages(b, '/v1/users', 1000)).map((u) => u.id);
          assert.ok(!users.includes(ua));
          const provs = (await b.ok('GET', '/v1/providers', undefined, 200)).items.map((p: any) => p.id);
          assert.deepEqual(provs, [pb.id]);
          const calls = await b.ok('GET', '/v1/calls', undefined, 200);
          assert.ok(!calls.items.some((c: any) => c.id === ca.id));
          const aBefore = await snapshot(a);
          const mine = await b.ok('PUT', `/v1/users/${ua}`, { region: 'US', numbers: ['+14169672222'] }, 201);
          assert.equal(mine.region, 'US');
          assert.equal(mine.providerId, null, "b's user does not inherit a's assignment");
          await b.ok('DELETE', `/v1/users/${ua}`, undefined, 204);
          assert.deepEqual(await snapshot(a), aBefore);
          assert.equal((await a.ok('GET', `/v1/users/${ua}`, undefined, 200)).providerId, pa.id);
        });
      });

      describe('the sweep', () => {
        test('no answer in this suite carried an API key, the operator token or a provider secret, nor a stack', async () => {
          assert.ok(seen.length > 300, `the sweep saw the suite's answers (${seen.length})`);
          for (const { what, res } of seen) {
            for (const s of secrets) assert.ok(!res.text.includes(s), `${what} → ${res.status} leaks a secret`);
            for (const [, v] of res.headers) for (const s of secrets) assert.ok(!v.includes(s), `${what}: a header leaks a secret`);
            assert.ok(res.status < 500, `${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
          }
          for (const path of ['/v1/providers', `/v1/providers/${pa.id}`, '/v1/users']) {
            const r = await send('GET', path);
            for (const s of secrets) assert.ok(!r.text.includes(s), `${path} leaks a secret`);
          }
        });
      });
    });
  }
});
