// DESIGN.md domain rules 1–7 through the HTTP API, exactly as the API contract states them, on
// both stores. Every test works in its own org, so tests never see each other's data.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { assertError, orgClient, rid, STORES, twilioSid, walkPages, type OrgClient } from './helpers.js';

const tick = () => new Promise((r) => setTimeout(r, 3));

// the two stores run side by side: each has its own gateway and orgs
describe('providers and users over HTTP', { concurrency: true }, () => {
  for (const store of STORES) {
    // tests of one store share a gateway and run one after another
    describe(`${store} store`, { concurrency: 1 }, () => {
      let g: TestGateway;
      let org: OrgClient;
      before(async () => {
        g = await startGateway({ store });
      });
      after(async () => {
        await g?.close();
      });

      const fresh = async () => (org = await orgClient(g, rid('org')));
      const userOf = async (uid: string) => (await org.ok('GET', `/v1/users/${uid}`, undefined, 200)) as { providerId: string | null };
      const count = async (pid: string) => (await org.ok('GET', `/v1/providers/${pid}`, undefined, 200)).userCount as number;

      describe('rule 1: any number of providers, the same kind more than once', () => {
        test('six providers, two kinds each installed several times, all listed', async () => {
          await fresh();
          const made = [];
          for (let i = 0; i < 4; i++) made.push(await org.sim(`sim ${i}`));
          for (let i = 0; i < 2; i++) {
            made.push(
              await org.ok('POST', '/v1/providers?verify=false', { kind: 'twilio', name: `twilio ${i}`, config: { accountSid: twilioSid(), authToken: 'tok-' + rid(), callerId: '+14165550100' } }, 201),
            );
          }
          assert.equal(new Set(made.map((p) => p.id)).size, 6, 'each install gets its own id');
          const list = await org.ok('GET', '/v1/providers', undefined, 200);
          assert.deepEqual(list.items.map((p: any) => p.id).sort(), made.map((p) => p.id).sort());
          assert.equal(list.items.filter((p: any) => p.kind === 'sim').length, 4);
          assert.equal(list.items.filter((p: any) => p.kind === 'twilio').length, 2);
        });

        test('a provider is created with the documented shape and defaults', async () => {
          await fresh();
          const p = await org.sim('plain');
          assert.equal(p.kind, 'sim');
          assert.equal(p.name, 'plain');
          assert.deepEqual(p.regions, {});
          assert.equal(p.priority, 0);
          assert.equal(p.scope, 'specific');
          assert.equal(p.futureUsers, false);
          assert.equal(p.userCount, 0);
          assert.deepEqual(p.config, {});
          assert.deepEqual(p.install, { assigned: [], conflicts: [] });
        });
      });

      describe('rule 2: install for all users, specific users, future users', () => {
        test('scope specific assigns exactly the listed users', async () => {
          await fresh();
          const [a, b, c] = [rid(), rid(), rid()];
          for (const u of [a, b, c]) await org.putUser(u, 'CA');
          const p = await org.sim('specific', { install: { scope: 'specific', userIds: [a, b] } });
          assert.equal(p.scope, 'specific');
          assert.deepEqual(p.install.assigned.sort(), [a, b].sort());
          assert.deepEqual(p.install.conflicts, []);
          assert.equal(p.userCount, 2);
          assert.equal((await userOf(a)).providerId, p.id);
          assert.equal((await userOf(b)).providerId, p.id);
          assert.equal((await userOf(c)).providerId, null);
        });

        test('scope all assigns every existing user it serves', async () => {
          await fresh();
          const users = [rid(), rid(), rid()];
          for (const u of users) await org.putUser(u, 'CA');
          const p = await org.sim('everyone', { install: { scope: 'all' } });
          assert.equal(p.scope, 'all');
          assert.equal(p.futureUsers, false);
          assert.deepEqual(p.install.assigned.sort(), [...users].sort());
          assert.equal(p.userCount, 3);
          // all users, not future users: somebody created later stays unassigned
          const late = rid();
          const u = await org.putUser(late, 'CA');
          assert.equal(u.providerId, null);
        });

        test('scope all with futureUsers: users created later join automatically', async () => {
          await fresh();
          const p = await org.sim('future', { install: { scope: 'all', futureUsers: true } });
          assert.equal(p.futureUsers, true);
          const late = rid();
          const u = await org.putUser(late, 'DE');
          assert.equal(u.providerId, p.id, 'the PUT answer already shows the assignment');
          assert.equal((await userOf(late)).providerId, p.id);
          assert.equal(await count(p.id), 1);
        });

        test('scope specific with futureUsers: only the listed users now, every new user later', async () => {
          await fresh();
          const [a, b] = [rid(), rid()];
          await org.putUser(a, 'CA');
          await org.putUser(b, 'CA');
          const p = await org.sim('specific+future', { install: { scope: 'specific', userIds: [a], futureUsers: true } });
          assert.equal(p.scope, 'specific');
          assert.equal(p.futureUsers, true);
          assert.equal((await userOf(b)).providerId, null, 'existing users not listed are left alone');
          assert.equal((await org.putUser(rid(), 'CA')).providerId, p.id);
        });

        test('future users are region-aware, then lowest priority, then oldest', async () => {
          await fresh();
          const fut = (name: string, priority: number, regions: object) =>
            org.sim(name, { priority, regions, install: { scope: 'specific', futureUsers: true } });
          const slowEu = await fut('prio 5, CA+FR', 5, { allow: ['CA', 'FR'] });
          await tick();
          const oldP1 = await fut('prio 1, older, not FR', 1, { deny: ['FR', 'CN'] });
          await tick();
          const newP1 = await fut('prio 1, newer, not FR', 1, { deny: ['FR'] });
          await tick();
          // a non-future provider with a better priority never takes anyone automatically
          await org.sim('prio -10, not future', { priority: -10 });

          assert.equal((await org.putUser(rid(), 'CA')).providerId, oldP1.id, 'lowest priority, then the oldest');
          assert.equal((await org.putUser(rid(), 'FR')).providerId, slowEu.id, 'the only one serving FR, despite its priority');
          assert.equal((await org.putUser(rid(), 'CN')).providerId, newP1.id, 'the older one denies CN');
          assert.equal((await org.putUser(rid(), 'JP')).providerId, oldP1.id);

          // priority changes are honoured for later users
          await org.ok('PATCH', `/v1/providers/${newP1.id}`, { priority: 0 }, 200);
          assert.equal((await org.putUser(rid(), 'CA')).providerId, newP1.id);

          // make every future provider refuse a region: a new user there stays unassigned. New
          // regions may not strand the provider's own users (rule 5), so its FR user leaves first.
          const frUser = (await org.ok('GET', `/v1/providers/${slowEu.id}/users`, undefined, 200)).items.find((u: any) => u.region === 'FR');
          const refused = await org.ok('PATCH', `/v1/providers/${slowEu.id}`, { regions: { allow: ['CA'] } }, 422);
          assert.equal(refused.error.code, 'region_unavailable');
          assert.deepEqual(refused.error.users, [{ userId: frUser.id, region: 'FR' }]);
          await org.ok('DELETE', `/v1/providers/${slowEu.id}/users/${frUser.id}`, undefined, 204);
          await org.ok('PATCH', `/v1/providers/${slowEu.id}`, { regions: { allow: ['CA'] } }, 200);
          await org.ok('PATCH', `/v1/providers/${newP1.id}`, { regions: { deny: ['FR'] } }, 200);
          assert.equal((await org.putUser(rid(), 'FR')).providerId, null);
        });

        test('turning futureUsers off stops automatic joins', async () => {
          await fresh();
          const p = await org.sim('f', { install: { scope: 'all', futureUsers: true } });
          assert.equal((await org.putUser(rid(), 'CA')).providerId, p.id);
          const patched = await org.ok('PATCH', `/v1/providers/${p.id}`, { futureUsers: false }, 200);
          assert.equal(patched.futureUsers, false);
          assert.equal((await org.putUser(rid(), 'CA')).providerId, null);
        });

        test('updating an existing user keeps their assignment', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const p = await org.sim('p', { install: { scope: 'specific', userIds: [u] } });
          const r = await org.ok('PUT', `/v1/users/${u}`, { region: 'CA', name: 'Renamed' }, 200);
          assert.equal(r.name, 'Renamed');
          assert.equal(r.providerId, p.id);
        });
      });

      describe('rule 3: one provider per user', () => {
        test('adding a user who is on A to B answers 409 naming A, and changes nothing', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: [u] } });
          const b = await org.sim('B');
          const r = await org.req('POST', `/v1/providers/${b.id}/users`, { userIds: [u] });
          const e = assertError(r, 409, 'assigned_elsewhere');
          assert.equal(e.providerId, a.id);
          assert.match(e.message, new RegExp(a.id));
          assert.equal((await userOf(u)).providerId, a.id);
          assert.equal(await count(a.id), 1);
          assert.equal(await count(b.id), 0);
        });

        test('adding a user to the provider they are already on is harmless', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: [u] } });
          const r = await org.req('POST', `/v1/providers/${a.id}/users`, { userIds: [u] });
          assert.ok(r.status === 200, `re-adding answers 200, got ${r.status} ${r.text}`);
          assert.equal((await userOf(u)).providerId, a.id);
          assert.equal(await count(a.id), 1, 'never counted twice');
        });

        test('a batch assigns what it can and reports each conflict with its reason', async () => {
          await fresh();
          const [free1, free2, onA, french, ghost] = [rid(), rid(), rid(), rid(), rid()];
          for (const u of [free1, free2, onA]) await org.putUser(u, 'CA');
          await org.putUser(french, 'FR');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: [onA] } });
          const b = await org.sim('B', { regions: { deny: ['FR'] } });
          const res = await org.ok('POST', `/v1/providers/${b.id}/users`, { userIds: [free1, onA, french, ghost, free2] }, 200);
          assert.deepEqual(res.assigned.sort(), [free1, free2].sort());
          const byUser = Object.fromEntries(res.conflicts.map((c: any) => [c.userId, c]));
          assert.equal(res.conflicts.length, 3);
          assert.deepEqual(byUser[onA], { userId: onA, providerId: a.id, reason: 'assigned_elsewhere' });
          assert.equal(byUser[french].reason, 'region_unavailable');
          assert.equal(byUser[ghost].reason, 'unknown_user');
          assert.equal((await userOf(onA)).providerId, a.id, 'the conflicting user was not moved');
          assert.equal(await count(b.id), 2);
        });

        test('install-all skips users on other providers, reports them, and never moves anybody', async () => {
          await fresh();
          const [onA, free, french] = [rid(), rid(), rid()];
          await org.putUser(onA, 'CA');
          await org.putUser(free, 'CA');
          await org.putUser(french, 'FR');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: [onA] } });
          const b = await org.sim('B', { regions: { deny: ['FR'] }, install: { scope: 'all' } });
          assert.deepEqual(b.install.assigned, [free]);
          const reasons = Object.fromEntries(b.install.conflicts.map((c: any) => [c.userId, c]));
          assert.deepEqual(reasons[onA], { userId: onA, providerId: a.id, reason: 'assigned_elsewhere' });
          assert.equal(reasons[french].reason, 'region_unavailable');
          assert.equal((await userOf(onA)).providerId, a.id);
          assert.equal((await userOf(french)).providerId, null);

          // the same through the install-all route on an existing provider
          const c = await org.sim('C');
          const res = await org.ok('POST', `/v1/providers/${c.id}/install-all`, { futureUsers: false }, 200);
          assert.deepEqual(res.assigned.sort(), [french].sort());
          const cr = Object.fromEntries(res.conflicts.map((x: any) => [x.userId, x]));
          assert.deepEqual(cr[onA], { userId: onA, providerId: a.id, reason: 'assigned_elsewhere' });
          assert.deepEqual(cr[free], { userId: free, providerId: b.id, reason: 'assigned_elsewhere' });
          assert.equal((await userOf(onA)).providerId, a.id);
          assert.equal((await userOf(free)).providerId, b.id);
          assert.equal(await count(a.id), 1);
          assert.equal(await count(b.id), 1);
          assert.equal(await count(c.id), 1);
        });

        test('a single unknown user answers 404; an unknown provider answers 404', async () => {
          await fresh();
          const b = await org.sim('B');
          assertError(await org.req('POST', `/v1/providers/${b.id}/users`, { userIds: [rid()] }), 404, 'user_not_found');
          await org.putUser('known', 'CA');
          assertError(await org.req('POST', `/v1/providers/prv_nope/users`, { userIds: ['known'] }), 404, 'provider_not_found');
        });
      });

      describe('rule 4: atomic move', () => {
        test('move takes a user from A to B in one step', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: [u] } });
          const b = await org.sim('B');
          const moved = await org.ok('POST', `/v1/users/${u}/move`, { providerId: b.id }, 200);
          assert.equal(moved.id, u);
          assert.equal(moved.providerId, b.id);
          assert.equal((await userOf(u)).providerId, b.id);
          assert.equal(await count(a.id), 0);
          assert.equal(await count(b.id), 1);
          const bUsers = await org.ok('GET', `/v1/providers/${b.id}/users`, undefined, 200);
          assert.deepEqual(bUsers.items.map((x: any) => x.id), [u]);
          const aUsers = await org.ok('GET', `/v1/providers/${a.id}/users`, undefined, 200);
          assert.deepEqual(aUsers.items, []);
        });

        test('move of an unassigned user assigns them; move to the same provider is a no-op', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const b = await org.sim('B');
          assert.equal((await org.ok('POST', `/v1/users/${u}/move`, { providerId: b.id }, 200)).providerId, b.id);
          assert.equal((await org.ok('POST', `/v1/users/${u}/move`, { providerId: b.id }, 200)).providerId, b.id);
          assert.equal(await count(b.id), 1);
        });

        test('move refuses a region the target does not serve (422) and an unknown provider or user (404), leaving the user where they were', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'FR');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: [u] } });
          const noFr = await org.sim('no FR', { regions: { deny: ['FR'] } });
          const e = assertError(await org.req('POST', `/v1/users/${u}/move`, { providerId: noFr.id }), 422, 'region_unavailable');
          assert.match(e.message, /\bFR\b/);
          assert.equal(e.region, 'FR');
          assertError(await org.req('POST', `/v1/users/${u}/move`, { providerId: 'prv_missing' }), 404, 'provider_not_found');
          assertError(await org.req('POST', `/v1/users/${rid()}/move`, { providerId: a.id }), 404, 'user_not_found');
          assert.equal((await userOf(u)).providerId, a.id);
          assert.equal(await count(a.id), 1);
          assert.equal(await count(noFr.id), 0);
        });

        test('concurrent moves and adds for the same users leave each on exactly one provider', async () => {
          await fresh();
          const users = [rid(), rid(), rid(), rid(), rid()];
          for (const u of users) await org.putUser(u, 'CA');
          const a = await org.sim('A', { install: { scope: 'all' } });
          const b = await org.sim('B');
          const reqs = [];
          for (let i = 0; i < 50; i++) {
            const u = users[i % users.length];
            const target = i % 2 ? a.id : b.id;
            reqs.push(i % 3 === 0 ? org.req('POST', `/v1/providers/${target}/users`, { userIds: [u] }) : org.req('POST', `/v1/users/${u}/move`, { providerId: target }));
          }
          const results = await Promise.all(reqs);
          for (const r of results) assert.ok([200, 409].includes(r.status), `${r.status} ${r.text}`);
          const ca = await walkPages(org, `/v1/providers/${a.id}/users`, 100);
          const cb = await walkPages(org, `/v1/providers/${b.id}/users`, 100);
          const onA = new Set(ca.map((x) => x.id));
          const onB = new Set(cb.map((x) => x.id));
          for (const u of users) {
            const pid = (await userOf(u)).providerId;
            assert.ok(pid === a.id || pid === b.id, `${u} is on a provider after moves`);
            assert.equal(onA.has(u), pid === a.id, `${u}: provider A's listing agrees with the user`);
            assert.equal(onB.has(u), pid === b.id, `${u}: provider B's listing agrees with the user`);
          }
          assert.equal((await count(a.id)) + (await count(b.id)), users.length);
        });
      });

      describe('rule 5: regional availability', () => {
        test('allow list: a user outside it is refused with 422 and the reason', async () => {
          await fresh();
          await org.putUser('ca', 'CA');
          await org.putUser('us', 'US');
          const p = await org.sim('North America but US', { regions: { allow: ['CA', 'US'], deny: ['US'] } });
          assert.deepEqual(p.regions, { allow: ['CA', 'US'], deny: ['US'] });
          await org.ok('POST', `/v1/providers/${p.id}/users`, { userIds: ['ca'] }, 200);
          const e = assertError(await org.req('POST', `/v1/providers/${p.id}/users`, { userIds: ['us'] }), 422, 'region_unavailable');
          assert.match(e.message, /\bUS\b/, 'the reason names the region');
          assert.equal(e.region, 'US');
          assert.equal(e.providerId, p.id);
          await org.putUser('de', 'DE');
          assertError(await org.req('POST', `/v1/providers/${p.id}/users`, { userIds: ['de'] }), 422, 'region_unavailable');
          assert.equal((await userOf('us')).providerId, null);
          assert.equal((await userOf('de')).providerId, null);
        });

        test('deny list alone serves everybody else', async () => {
          await fresh();
          await org.putUser('cn', 'CN');
          await org.putUser('jp', 'JP');
          const p = await org.sim('not CN', { regions: { deny: ['CN'] }, install: { scope: 'all' } });
          assert.deepEqual(p.install.assigned, ['jp']);
          assert.deepEqual(p.install.conflicts, [{ userId: 'cn', reason: 'region_unavailable' }]);
        });

        test('a user cannot change region to one their provider does not serve (422, assignment kept)', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const p = await org.sim('CA only', { regions: { allow: ['CA'] }, install: { scope: 'specific', userIds: [u] } });
          assertError(await org.req('PUT', `/v1/users/${u}`, { region: 'FR' }), 422, 'region_unavailable');
          const after = await org.ok('GET', `/v1/users/${u}`, undefined, 200);
          assert.equal(after.region, 'CA');
          assert.equal(after.providerId, p.id);
        });

        test('regions must be ISO 3166-1 alpha-2 codes', async () => {
          await fresh();
          assertError(await org.req('POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, regions: { allow: ['XX'] } }), 400, 'validation_failed');
          assertError(await org.req('POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, regions: { deny: ['ca'] } }), 400, 'validation_failed');
          assertError(await org.req('POST', '/v1/providers', { kind: 'sim', name: 'x', config: {}, regions: { only: ['CA'] } }), 400, 'validation_failed');
          assert.deepEqual((await org.ok('GET', '/v1/providers', undefined, 200)).items, []);
        });
      });

      describe('rule 6: uninstalling', () => {
        test('a provider with users is refused with 409 provider_has_users and the count; force unassigns them', async () => {
          await fresh();
          const users = [rid(), rid(), rid()];
          for (const u of users) await org.putUser(u, 'CA');
          const p = await org.sim('busy', { install: { scope: 'all' } });
          const e = assertError(await org.req('DELETE', `/v1/providers/${p.id}`), 409, 'provider_has_users');
          assert.equal(e.count, 3);
          assert.match(e.message, /3/);
          assert.equal((await org.ok('GET', `/v1/providers/${p.id}`, undefined, 200)).userCount, 3, 'still installed');
          assertError(await org.req('DELETE', `/v1/providers/${p.id}?force=false`), 409, 'provider_has_users');

          await org.ok('DELETE', `/v1/providers/${p.id}?force=true`, undefined, 204);
          assertError(await org.req('GET', `/v1/providers/${p.id}`), 404, 'provider_not_found');
          for (const u of users) assert.equal((await userOf(u)).providerId, null);
          assert.deepEqual((await org.ok('GET', '/v1/providers', undefined, 200)).items, []);
          // they can be added elsewhere now
          const q = await org.sim('next', { install: { scope: 'all' } });
          assert.equal(q.install.assigned.length, 3);
        });

        test('a provider without users is removed at once; a second delete answers 404', async () => {
          await fresh();
          const p = await org.sim('empty');
          await org.ok('DELETE', `/v1/providers/${p.id}`, undefined, 204);
          assertError(await org.req('DELETE', `/v1/providers/${p.id}`), 404, 'provider_not_found');
        });

        test('removing a user from a provider leaves them unassigned', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const p = await org.sim('p', { install: { scope: 'specific', userIds: [u] } });
          await org.ok('DELETE', `/v1/providers/${p.id}/users/${u}`, undefined, 204);
          assert.equal((await userOf(u)).providerId, null);
          assert.equal(await count(p.id), 0);
          assertError(await org.req('DELETE', `/v1/providers/${p.id}/users/${u}`), 404);
          // then the brief's flow: add to the new one
          const q = await org.sim('q');
          await org.ok('POST', `/v1/providers/${q.id}/users`, { userIds: [u] }, 200);
          assert.equal((await userOf(u)).providerId, q.id);
        });

        test('removing a user from a provider they are not on answers 404 and leaves them where they are', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA');
          const a = await org.sim('a', { install: { scope: 'specific', userIds: [u] } });
          const b = await org.sim('b');
          assertError(await org.req('DELETE', `/v1/providers/${b.id}/users/${u}`), 404);
          assert.equal((await userOf(u)).providerId, a.id);
        });

        test('deleting a user frees their slot and their numbers', async () => {
          await fresh();
          const u = rid();
          await org.putUser(u, 'CA', { numbers: ['+14169671111'] });
          const p = await org.sim('p', { install: { scope: 'specific', userIds: [u] } });
          await org.ok('DELETE', `/v1/users/${u}`, undefined, 204);
          assertError(await org.req('GET', `/v1/users/${u}`), 404, 'user_not_found');
          assert.equal(await count(p.id), 0);
          await org.ok('PUT', `/v1/users/${rid()}`, { region: 'CA', numbers: ['+14169671111'] }, 201);
          assertError(await org.req('DELETE', `/v1/users/${u}`), 404, 'user_not_found');
        });
      });

      describe('rule 7: admin views, secrets, updates, extension', () => {
        test('user counts in the list and in the details', async () => {
          await fresh();
          const us = [rid(), rid(), rid(), rid()];
          for (const u of us) await org.putUser(u, 'CA');
          const a = await org.sim('A', { install: { scope: 'specific', userIds: us.slice(0, 3) } });
          const b = await org.sim('B', { install: { scope: 'specific', userIds: [us[3]] } });
          const c = await org.sim('C');
          const list = await org.ok('GET', '/v1/providers', undefined, 200);
          const counts = Object.fromEntries(list.items.map((p: any) => [p.id, p.userCount]));
          assert.deepEqual(counts, { [a.id]: 3, [b.id]: 1, [c.id]: 0 });
          assert.equal(await count(a.id), 3);
          await org.ok('DELETE', `/v1/providers/${a.id}/users/${us[0]}`, undefined, 204);
          assert.equal(await count(a.id), 2);
        });

        test('secrets are never shown back: create, list, details, patch', async () => {
          await fresh();
          const token = 'authtok-' + rid('s');
          const config = { accountSid: twilioSid(), authToken: token, callerId: '+14165550100', apiBaseUrl: 'http://127.0.0.1:9' };
          const r = await org.req('POST', '/v1/providers?verify=false', { kind: 'twilio', name: 'EU Twilio', config, regions: { allow: ['GB', 'FR'] } });
          assert.equal(r.status, 201, r.text);
          assert.ok(!r.text.includes(token), 'no secret in the create answer');
          assert.equal(r.body.config.authToken, '********');
          assert.equal(r.body.config.accountSid, config.accountSid, 'non-secrets are shown');
          assert.equal(r.body.config.callerId, config.callerId);
          assert.match(JSON.stringify(r.body.details), /\/webhooks\/twilio\/.+\/voice/, 'the voice URL to set on the number is shown');
          const id = r.body.id;
          for (const path of ['/v1/providers', `/v1/providers/${id}`]) {
            const x = await org.req('GET', path);
            assert.equal(x.status, 200);
            assert.ok(!x.text.includes(token), `no secret in GET ${path}`);
            assert.match(x.text, /\*{8}/);
          }

          // config replaced whole; the redacted marker (or leaving the secret out) keeps the stored secret
          const stored = async () => (await g.gw.parts.backend.directory.getProvider(org.id, id))!.config;
          const p1 = await org.req('PATCH', `/v1/providers/${id}?verify=false`, { config: { ...config, authToken: '********', callerId: '+14165550199' } });
          assert.equal(p1.status, 200, p1.text);
          assert.ok(!p1.text.includes(token));
          assert.equal(p1.body.config.callerId, '+14165550199');
          assert.equal(p1.body.config.apiBaseUrl, 'http://127.0.0.1:9');
          assert.equal((await stored()).authToken, token);
          const { authToken: _drop, apiBaseUrl: _gone, ...noSecret } = config;
          const p2 = await org.req('PATCH', `/v1/providers/${id}?verify=false`, { config: noSecret });
          assert.equal(p2.status, 200, p2.text);
          assert.equal((await stored()).authToken, token);
          assert.equal((await stored()).apiBaseUrl, undefined, 'config is replaced whole');
          assert.equal(p2.body.config.apiBaseUrl, undefined);
          const newToken = 'authtok-' + rid('n');
          const p3 = await org.req('PATCH', `/v1/providers/${id}?verify=false`, { config: { ...noSecret, authToken: newToken } });
          assert.equal(p3.status, 200, p3.text);
          assert.ok(!p3.text.includes(newToken));
          assert.equal((await stored()).authToken, newToken);
          // a bad config for the kind is refused and changes nothing
          assertError(await org.req('PATCH', `/v1/providers/${id}?verify=false`, { config: { ...noSecret, accountSid: 'nope' } }), 400, 'validation_failed');
          assert.equal((await stored()).accountSid, config.accountSid);
        });

        test('a provider config is validated against its kind', async () => {
          await fresh();
          assertError(await org.req('POST', '/v1/providers', { kind: 'twilio', name: 't', config: { accountSid: twilioSid() } }), 400, 'validation_failed');
          const e = assertError(await org.req('POST', '/v1/providers', { kind: 'sim', name: 's', config: { bogus: 1 } }), 400, 'validation_failed');
          assert.match(e.message, /bogus/);
          assertError(await org.req('POST', '/v1/providers', { kind: 'sim', name: 's', config: { apiLatencyMs: 'slow' } }), 400, 'validation_failed');
          assertError(await org.req('POST', '/v1/providers', { kind: 'carrier-pigeon', name: 's', config: {} }), 400, 'validation_failed');
          assert.deepEqual((await org.ok('GET', '/v1/providers', undefined, 200)).items, []);
        });

        test('PATCH name, regions, priority, futureUsers; unknown or empty patches refused', async () => {
          await fresh();
          const p = await org.sim('old name');
          const r = await org.ok('PATCH', `/v1/providers/${p.id}`, { name: 'new name', regions: { allow: ['CA'] }, priority: 7, futureUsers: true }, 200);
          assert.equal(r.name, 'new name');
          assert.deepEqual(r.regions, { allow: ['CA'] });
          assert.equal(r.priority, 7);
          assert.equal(r.futureUsers, true);
          assert.equal(r.kind, 'sim');
          const got = await org.ok('GET', `/v1/providers/${p.id}`, undefined, 200);
          assert.equal(got.name, 'new name');
          assert.equal(got.priority, 7);
          assert.equal((await org.putUser(rid(), 'CA')).providerId, p.id);
          assert.equal((await org.putUser(rid(), 'FR')).providerId, null);
          assertError(await org.req('PATCH', `/v1/providers/${p.id}`, { kind: 'twilio' }), 400, 'validation_failed');
          assertError(await org.req('PATCH', `/v1/providers/${p.id}`, {}), 400, 'validation_failed');
          assertError(await org.req('PATCH', `/v1/providers/${p.id}`, { regions: { allow: ['XX'] } }), 400, 'validation_failed');
          assertError(await org.req('PATCH', `/v1/providers/prv_none`, { name: 'x' }), 404, 'provider_not_found');
          assert.equal((await org.ok('GET', `/v1/providers/${p.id}`, undefined, 200)).name, 'new name');
        });

        test('extend from specific users to all users, then to future users too', async () => {
          await fresh();
          const [a, b, c] = [rid(), rid(), rid()];
          for (const u of [a, b, c]) await org.putUser(u, 'CA');
          const p = await org.sim('grows', { install: { scope: 'specific', userIds: [a] } });
          const r = await org.ok('POST', `/v1/providers/${p.id}/install-all`, { futureUsers: false }, 200);
          assert.deepEqual(r.assigned.sort(), [b, c].sort());
          assert.deepEqual(r.conflicts, []);
          let got = await org.ok('GET', `/v1/providers/${p.id}`, undefined, 200);
          assert.equal(got.scope, 'all');
          assert.equal(got.futureUsers, false);
          assert.equal(got.userCount, 3);
          assert.equal((await org.putUser(rid(), 'CA')).providerId, null);

          const r2 = await org.ok('POST', `/v1/providers/${p.id}/install-all`, { futureUsers: true }, 200);
          assert.equal(r2.assigned.length, 1, 'the user created in between joins now');
          got = await org.ok('GET', `/v1/providers/${p.id}`, undefined, 200);
          assert.equal(got.futureUsers, true);
          assert.equal((await org.putUser(rid(), 'CA')).providerId, p.id);
          assertError(await org.req('POST', `/v1/providers/prv_none/install-all`, { futureUsers: true }), 404, 'provider_not_found');
          // the body is optional: no body means futureUsers false, and it is idempotent
          const q = await org.sim('q');
          const bare = await g.req('POST', `/v1/providers/${q.id}/install-all`, { key: org.key });
          assert.equal(bare.status, 200, bare.text);
          const qv = await org.ok('GET', `/v1/providers/${q.id}`, undefined, 200);
          assert.equal(qv.scope, 'all');
          assert.equal(qv.futureUsers, false);
        });
      });

      describe('pagination', () => {
        test("a provider's users and the org's users are walked page by page without duplicates or misses", async () => {
          await fresh();
          const ids = Array.from({ length: 23 }, (_, i) => `pg${String(i).padStart(2, '0')}-${rid('x')}`);
          await Promise.all(ids.map((u) => org.putUser(u, 'CA')));
          const p = await org.sim('p', { install: { scope: 'specific', userIds: ids.slice(0, 17) } });
          for (const limit of [1, 5, 17, 50]) {
            const items = await walkPages(org, `/v1/providers/${p.id}/users`, limit);
            const got = items.map((x) => x.id);
            assert.equal(new Set(got).size, got.length, `no duplicates at limit ${limit}`);
            assert.deepEqual([...got].sort(), ids.slice(0, 17).sort(), `every user exactly once at limit ${limit}`);
            for (const x of items) assert.equal(x.providerId, p.id);
          }
          for (const limit of [4, 23, 1000]) {
            const got = (await walkPages(org, '/v1/users', limit)).map((x) => x.id);
            assert.equal(new Set(got).size, got.length);
            assert.deepEqual([...got].sort(), [...ids].sort());
          }
          const first = await org.ok('GET', '/v1/users', undefined, 200);
          assert.equal(first.items.length, 23, 'default limit (50) holds them all');
          assert.equal(first.nextCursor, null);
        });

        test('limit bounds and bad cursors are refused with 400', async () => {
          await fresh();
          const p = await org.sim('p');
          for (const path of ['/v1/users', `/v1/providers/${p.id}/users`]) {
            assertError(await org.req('GET', `${path}?limit=0`), 400, 'validation_failed');
            assertError(await org.req('GET', `${path}?limit=1001`), 400, 'validation_failed');
            assertError(await org.req('GET', `${path}?limit=ten`), 400, 'validation_failed');
            assertError(await org.req('GET', `${path}?cursor=${'c'.repeat(600)}`), 400, 'validation_failed');
            const r = await org.req('GET', `${path}?cursor=not-a-real-cursor`);
            assert.ok(r.status === 200 || r.status === 400, `a garbage cursor answers 200 or 400, got ${r.status} ${r.text}`);
            if (r.status === 400) assertError(r, 400);
          }
          assertError(await org.req('GET', '/v1/providers/prv_none/users'), 404, 'provider_not_found');
        });
      });

      describe('users: numbers and phones', () => {
        test('phone and numbers are normalised to E.164 with the user region as default country', async () => {
          await fresh();
          const ca = await org.putUser(rid(), 'CA', { phone: '(416) 967-1111', numbers: ['613-555-0123', '+1 604 555 0199'] });
          assert.equal(ca.phone, '+14169671111');
          assert.deepEqual([...ca.numbers].sort(), ['+16045550199', '+16135550123']);
          const gb = await org.putUser(rid(), 'GB', { phone: '020 7946 0018' });
          assert.equal(gb.phone, '+442079460018');
          const fr = await org.putUser(rid(), 'FR', { phone: '06 12 34 56 78' });
          assert.equal(fr.phone, '+33612345678');
          const abroad = await org.putUser(rid(), 'CA', { phone: '+33 1 42 68 53 00' });
          assert.equal(abroad.phone, '+33142685300', 'an international number keeps its own country');
          const u = rid();
          await org.putUser(u, 'CA', { name: 'Ada', email: 'ada@example.com', sipUri: 'sip:ada@pbx.example.com', crmUserId: 'zoho-42' });
          const got = await org.ok('GET', `/v1/users/${u}`, undefined, 200);
          assert.equal(got.name, 'Ada');
          assert.equal(got.email, 'ada@example.com');
          assert.equal(got.sipUri, 'sip:ada@pbx.example.com');
          assert.equal(got.crmUserId, 'zoho-42');
          assert.equal(got.region, 'CA');
          assert.deepEqual(got.numbers, []);
          assert.equal(got.providerId, null);
        });

        test('an invalid phone or number answers 422 invalid_number and stores nothing', async () => {
          await fresh();
          const u = rid();
          assertError(await org.req('PUT', `/v1/users/${u}`, { region: 'CA', phone: '12' }), 422, 'invalid_number');
          assertError(await org.req('PUT', `/v1/users/${u}`, { region: 'CA', numbers: ['+14169671111', 'not a number'] }), 422, 'invalid_number');
          assertError(await org.req('GET', `/v1/users/${u}`), 404);
        });

        test('DIDs are unique per org (409 number_taken) but another org may use the same one', async () => {
          await fresh();
          const first = org;
          const owner = rid();
          await first.putUser(owner, 'CA', { numbers: ['+14169671111'] });
          const e = assertError(await first.req('PUT', `/v1/users/${rid()}`, { region: 'CA', numbers: ['(416) 967-1111'] }), 409, 'number_taken');
          assert.match(e.message, /\+14169671111/);
          // nor may an existing user take it
          const other = rid();
          await first.putUser(other, 'CA');
          assertError(await first.req('PUT', `/v1/users/${other}`, { region: 'CA', numbers: ['+14169671111'] }), 409, 'number_taken');
          assert.deepEqual((await first.ok('GET', `/v1/users/${other}`, undefined, 200)).numbers, []);
          // the owner may re-put their own number, and release it
          await first.ok('PUT', `/v1/users/${owner}`, { region: 'CA', numbers: ['+14169671111'] }, 200);
          await first.ok('PUT', `/v1/users/${owner}`, { region: 'CA', numbers: [] }, 200);
          await first.ok('PUT', `/v1/users/${other}`, { region: 'CA', numbers: ['+14169671111'] }, 200);

          const second = await orgClient(g, 'second');
          const same = await second.putUser(owner, 'CA', { numbers: ['+14169671111'] });
          assert.deepEqual(same.numbers, ['+14169671111'], 'the same DID (and user id) in another org is fine');
        });
      });
    });
  }
});
