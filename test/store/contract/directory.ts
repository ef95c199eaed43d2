// DirectoryStore (src/store/directory/port.ts): users, DIDs, providers and their assignments under
// the DESIGN rules 1–7, pagination, the org config snapshot and its version. Every case works in
// its own random org.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { DirectoryStore } from '../../../src/store/directory/port.js';
import type { BackendFactory } from './backends.js';
import { allPages, ids, pids, providerInput, rejectsWith, rid, seeded, t, userInput } from './helpers.js';

export function runDirectoryContract(f: BackendFactory): void {
  describe('directory', () => {
    let b: Backend;
    let s: DirectoryStore;
    before(async () => {
      b = await f.create();
      s = b.directory;
    });

    describe('users', () => {
      test('put creates then replaces; createdAt kept, updatedAt moves, profile replaced whole', async () => {
        const org = rid('org');
        const r1 = await s.putUser(org, 'alice', userInput('CA', { name: 'Alice', email: 'a@x.io', phone: '+15145550100', numbers: ['+15145550101'] }), t(1));
        assert.equal(r1.created, true);
        assert.deepEqual(r1.user, {
          id: 'alice',
          region: 'CA',
          name: 'Alice',
          email: 'a@x.io',
          phone: '+15145550100',
          numbers: ['+15145550101'],
          providerId: null,
          createdAt: t(1),
          updatedAt: t(1),
        });
        assert.deepEqual(await s.getUser(org, 'alice'), r1.user);
        const r2 = await s.putUser(org, 'alice', userInput('US', { crmUserId: 'z1' }), t(2));
        assert.equal(r2.created, false);
        assert.deepEqual(r2.user, { id: 'alice', region: 'US', crmUserId: 'z1', numbers: [], providerId: null, createdAt: t(1), updatedAt: t(2) });
        assert.deepEqual(await s.getUser(org, 'alice'), r2.user);
        assert.equal(await s.getUser(org, 'bob'), null);
      });

      test('duplicate numbers in one request are kept once', async () => {
        const org = rid('org');
        const { user } = await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101', '+15145550101', '+15145550102'] }), t(1));
        assert.deepEqual(user.numbers, ['+15145550101', '+15145550102']);
        assert.deepEqual((await s.getUser(org, 'u1'))?.numbers, ['+15145550101', '+15145550102']);
      });

      test('returned objects are copies: mutating them changes nothing stored', async () => {
        const org = rid('org');
        const P = pids('p');
        const input = userInput('CA', { numbers: ['+15145550101'] });
        const { user } = await s.putUser(org, 'u1', input, t(1));
        user.numbers.push('+1999');
        user.region = 'FR';
        input.numbers.push('+1888');
        const again = await s.getUser(org, 'u1');
        assert.equal(again?.region, 'CA');
        assert.deepEqual(again?.numbers, ['+15145550101']);
        again!.numbers.push('+1777');
        assert.deepEqual((await s.getUserVersioned(org, 'u1'))?.user.numbers, ['+15145550101']);
        const config = { secret: 's1' };
        const p = await s.createProvider(org, P.p, providerInput({ config }), t(0));
        config.secret = 'changed';
        p.config.secret = 'changed too';
        (await s.listProviders(org))[0].regions.allow = ['XX'];
        const stored = await s.getProvider(org, P.p);
        assert.deepEqual(stored?.config, { secret: 's1' });
        assert.deepEqual(stored?.regions, {});
        const cfg = await s.orgConfig(org);
        cfg.providers[0].name = 'mutated';
        assert.equal((await s.orgConfig(org)).providers[0].name, 'sim');
      });

      test('DIDs are unique per org: a taken number is refused with the number, and nothing changes', async () => {
        const org = rid('org');
        await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101', '+15145550102'] }), t(1));
        await rejectsWith(s.putUser(org, 'u2', userInput('CA', { numbers: ['+15145550199', '+15145550102'] }), t(2)), 'number_taken', {
          number: '+15145550102',
        });
        assert.equal(await s.getUser(org, 'u2'), null, 'the refused user was not created');
        assert.equal(await s.findUserByNumber(org, '+15145550199'), null, 'no DID of the refused request was kept');
        assert.deepEqual(await s.orgRegions(org), ['CA']);
        // an update that steals a number is refused too and keeps the old profile
        await s.putUser(org, 'u3', userInput('US', { numbers: ['+15145550103'] }), t(3));
        await rejectsWith(s.putUser(org, 'u3', userInput('FR', { numbers: ['+15145550101'] }), t(4)), 'number_taken');
        const u3 = await s.getUser(org, 'u3');
        assert.deepEqual([u3?.numbers, u3?.region, u3?.updatedAt], [['+15145550103'], 'US', t(3)]);
        assert.equal((await s.findUserByNumber(org, '+15145550103'))?.id, 'u3');
        assert.deepEqual(await s.orgRegions(org), ['CA', 'US'], 'the refused region change was not counted');
        // the same number in another org is fine
        await s.putUser(rid('org'), 'u2', userInput('CA', { numbers: ['+15145550102'] }), t(5));
      });

      test('a user may keep their own numbers on update; dropped numbers are freed', async () => {
        const org = rid('org');
        await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101', '+15145550102'] }), t(1));
        await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550102'] }), t(2));
        assert.equal((await s.findUserByNumber(org, '+15145550102'))?.id, 'u1');
        assert.equal(await s.findUserByNumber(org, '+15145550101'), null);
        await s.putUser(org, 'u2', userInput('CA', { numbers: ['+15145550101'] }), t(3));
        assert.equal((await s.findUserByNumber(org, '+15145550101'))?.id, 'u2');
      });

      test('delete removes the user, their DIDs, their region and their assignment', async () => {
        const org = rid('org');
        const P = pids('p1');
        await s.createProvider(org, P.p1, providerInput(), t(0));
        await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101'] }), t(1));
        await s.assignUsers(org, P.p1, ['u1']);
        assert.equal(await s.userCount(org, P.p1), 1);
        assert.equal(await s.deleteUser(org, 'u1'), true);
        assert.equal(await s.getUser(org, 'u1'), null);
        assert.equal(await s.getUserVersioned(org, 'u1'), null);
        assert.equal(await s.findUserByNumber(org, '+15145550101'), null);
        assert.equal(await s.userCount(org, P.p1), 0);
        assert.deepEqual(await s.orgRegions(org), []);
        assert.deepEqual((await s.listProviderUsers(org, P.p1, { limit: 10 })).items, []);
        assert.deepEqual((await s.listUsers(org, { limit: 10 })).items, []);
        assert.equal(await s.deleteUser(org, 'u1'), false);
        await s.putUser(org, 'u2', userInput('CA', { numbers: ['+15145550101'] }), t(2));
        assert.equal((await s.findUserByNumber(org, '+15145550101'))?.id, 'u2', 'the DID is free again');
        // the provider can now be removed without force
        assert.equal(await s.deleteProvider(org, P.p1, false), true);
      });

      test('orgs are isolated: the same ids in two orgs never meet', async () => {
        const a = rid('org');
        const c = rid('org');
        await s.createProvider(a, rid('p'), providerInput(), t(0));
        await s.putUser(a, 'u1', userInput('CA', { numbers: ['+15145550101'] }), t(1));
        assert.equal(await s.getUser(c, 'u1'), null);
        assert.equal(await s.findUserByNumber(c, '+15145550101'), null);
        assert.deepEqual(await s.listProviders(c), []);
        assert.deepEqual((await s.listUsers(c, { limit: 10 })).items, []);
        assert.deepEqual(await s.orgRegions(c), []);
        const cfg = await s.orgConfig(c);
        assert.deepEqual([cfg.providers, cfg.settings, cfg.regions], [[], {}, []]);
      });

      test("getUserVersioned: the version moves on every put, and only that user's", async () => {
        const org = rid('org');
        await s.putUser(org, 'u1', userInput('CA'), t(1));
        await s.putUser(org, 'u2', userInput('CA'), t(1));
        const v1 = (await s.getUserVersioned(org, 'u1'))!;
        const v2 = (await s.getUserVersioned(org, 'u2'))!;
        assert.equal(v1.user.id, 'u1');
        assert.ok(v1.version > 0);
        await s.putUser(org, 'u1', userInput('CA'), t(2)); // the same profile: still a put
        const v1b = (await s.getUserVersioned(org, 'u1'))!;
        assert.ok(v1b.version > v1.version, 'an identical put moves it too');
        await s.putUser(org, 'u1', userInput('US', { name: 'x' }), t(3));
        assert.ok((await s.getUserVersioned(org, 'u1'))!.version > v1b.version);
        assert.equal((await s.getUserVersioned(org, 'u2'))!.version, v2.version, "another user's put leaves it alone");
        assert.equal(await s.getUserVersioned(org, 'ghost'), null);
        // deleted and created again: the version goes on from the deleted user's
        const last = (await s.getUserVersioned(org, 'u2'))!.version;
        await s.deleteUser(org, 'u2');
        await s.putUser(org, 'u2', userInput('CA'), t(4));
        assert.ok((await s.getUserVersioned(org, 'u2'))!.version > last, 'a snapshot of the deleted user never matches the new one');
      });

      test('orgRegions: the distinct regions of the users, sorted', async () => {
        const org = rid('org');
        for (const [id, r] of [['a', 'US'], ['b', 'CA'], ['c', 'US'], ['d', 'FR']]) await s.putUser(org, id, userInput(r), t(1));
        assert.deepEqual(await s.orgRegions(org), ['CA', 'FR', 'US']);
        await s.putUser(org, 'd', userInput('US'), t(2));
        assert.deepEqual(await s.orgRegions(org), ['CA', 'US']);
        await s.deleteUser(org, 'a');
        assert.deepEqual(await s.orgRegions(org), ['CA', 'US'], 'c still lives in US');
        await s.deleteUser(org, 'c');
        await s.deleteUser(org, 'd');
        assert.deepEqual(await s.orgRegions(org), ['CA']);
      });
    });

    describe('user listing', () => {
      test('pages in id order through every user exactly once, whatever the page size', async () => {
        const org = rid('org');
        const all = Array.from({ length: 23 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
        for (const id of [...all].reverse()) await s.putUser(org, id, userInput('CA'), t(1));
        for (const limit of [1, 5, 7, 23, 50]) {
          const got = await allPages((cursor) => s.listUsers(org, { limit, cursor }), limit);
          assert.deepEqual(ids(got), all, `limit ${limit}`);
        }
        const p = await s.listUsers(org, { limit: 23 });
        assert.equal(p.nextCursor, null, 'an exactly full last page has no next cursor');
        assert.equal((await s.listUsers(org, { limit: 0 })).items.length, 1, 'a limit below 1 is 1');
      });

      test('filters: region, unassigned, providerId, combined, paged', async () => {
        const org = rid('org');
        const P = pids('pa', 'pb');
        await s.createProvider(org, P.pa, providerInput(), t(0));
        await s.createProvider(org, P.pb, providerInput(), t(0));
        const expect = { caOnA: [] as string[], ca: [] as string[], unassigned: [] as string[], onA: [] as string[] };
        for (let i = 0; i < 30; i++) {
          const id = `u${String(i).padStart(2, '0')}`;
          const region = i % 3 === 0 ? 'CA' : 'FR';
          await s.putUser(org, id, userInput(region), t(i));
          if (region === 'CA') expect.ca.push(id);
          if (i % 5 === 0) {
            await s.assignUsers(org, P.pa, [id]);
            expect.onA.push(id);
            if (region === 'CA') expect.caOnA.push(id);
          } else if (i % 5 === 1) {
            await s.assignUsers(org, P.pb, [id]);
          } else {
            expect.unassigned.push(id);
          }
        }
        assert.deepEqual(ids(await allPages((cursor) => s.listUsers(org, { limit: 2, cursor, region: 'CA' }), 2)), expect.ca);
        assert.deepEqual(ids(await allPages((cursor) => s.listUsers(org, { limit: 3, cursor, unassigned: true }), 3)), expect.unassigned);
        assert.deepEqual(ids(await allPages((cursor) => s.listUsers(org, { limit: 2, cursor, providerId: P.pa }), 2)), expect.onA);
        assert.deepEqual(ids(await allPages((cursor) => s.listProviderUsers(org, P.pa, { limit: 4, cursor }), 4)), expect.onA);
        assert.deepEqual(ids(await allPages((cursor) => s.listUsers(org, { limit: 1, cursor, providerId: P.pa, region: 'CA' }), 1)), expect.caOnA);
        assert.deepEqual((await s.listUsers(org, { limit: 5, providerId: P.pa, unassigned: true })).items, []);
        assert.deepEqual(await s.listUsers(org, { limit: 5, region: 'JP' }), { items: [], nextCursor: null });
        assert.deepEqual(await s.listProviderUsers(org, 'nope', { limit: 5 }), { items: [], nextCursor: null });
      });

      test('a cursor the listing did not give out is refused with invalid_cursor', async () => {
        const org = rid('org');
        await s.putUser(org, 'u1', userInput('CA'), t(1));
        for (const cursor of ['not a cursor!', '%%%', Buffer.from('\u0001\u0002').toString('base64url'), 'AAAA=']) {
          await rejectsWith(s.listUsers(org, { limit: 5, cursor }), 'invalid_cursor');
          await rejectsWith(s.listProviderUsers(org, 'p', { limit: 5, cursor }), 'invalid_cursor');
        }
        assert.equal((await s.listUsers(org, { limit: 5, cursor: '' })).items.length, 1, "'' starts from the beginning");
      });
    });

    describe('providers', () => {
      test('create, get, org lookup, list (oldest first), update, duplicate id refused', async () => {
        const org = rid('org');
        const p1 = rid('p');
        const p2 = rid('p');
        const input = providerInput({ kind: 'twilio', name: 'EU', config: { accountSid: 'AC1', authToken: 'secret' }, regions: { allow: ['FR', 'DE'] }, priority: 3 });
        const created = await s.createProvider(org, p2, input, t(2));
        await s.createProvider(org, p1, providerInput({ name: 'first' }), t(1));
        assert.deepEqual(created, {
          id: p2,
          orgId: org,
          kind: 'twilio',
          name: 'EU',
          config: { accountSid: 'AC1', authToken: 'secret' },
          regions: { allow: ['FR', 'DE'] },
          priority: 3,
          scope: 'specific',
          futureUsers: false,
          createdAt: t(2),
          updatedAt: t(2),
        });
        assert.deepEqual(await s.getProvider(org, p2), created);
        assert.equal(await s.getProvider(rid('org'), p2), null, 'another org does not see it');
        assert.equal(await s.getProviderOrg(p2), org);
        assert.equal(await s.getProviderOrg(rid('p')), null);
        assert.deepEqual(ids(await s.listProviders(org)), [p1, p2]);
        await rejectsWith(s.createProvider(org, p2, input, t(3)), 'validation_failed', { providerId: p2 });
        await rejectsWith(s.createProvider(rid('org'), p2, input, t(3)), 'validation_failed');
        assert.equal(await s.getProviderOrg(p2), org, 'another org cannot take a provider id');
        assert.equal((await s.getProvider(org, p2))?.name, 'EU', 'the refused duplicate changed nothing');

        const upd = await s.updateProvider(org, p2, { name: 'EU2', regions: { deny: ['CN'] }, priority: 1, futureUsers: true }, t(4));
        assert.deepEqual(upd, { ...created, name: 'EU2', regions: { deny: ['CN'] }, priority: 1, futureUsers: true, updatedAt: t(4) });
        assert.deepEqual(await s.getProvider(org, p2), upd);
        const upd2 = await s.updateProvider(org, p2, { config: { accountSid: 'AC2' } }, t(5));
        assert.deepEqual(upd2.config, { accountSid: 'AC2' }, 'config is replaced whole');
        assert.equal(upd2.name, 'EU2');
        await rejectsWith(s.updateProvider(org, rid('p'), { name: 'x' }, t(6)), 'provider_not_found');

        // breaker settings: kept, replaced, and removed with null (back to the defaults)
        const h = await s.updateProvider(org, p2, { health: { failureThreshold: 2, openSec: 9 } }, t(7));
        assert.deepEqual(h.health, { failureThreshold: 2, openSec: 9 });
        assert.deepEqual((await s.getProvider(org, p2))?.health, { failureThreshold: 2, openSec: 9 });
        assert.deepEqual((await s.updateProvider(org, p2, { name: 'EU3' }, t(8))).health, { failureThreshold: 2, openSec: 9 }, 'other patches keep it');
        assert.deepEqual((await s.updateProvider(org, p2, { health: { closeAfter: 3 } }, t(9))).health, { closeAfter: 3 }, 'replaced whole');
        const cleared = await s.updateProvider(org, p2, { health: null }, t(10));
        assert.equal('health' in cleared, false);
        assert.equal('health' in (await s.getProvider(org, p2))!, false);
        const p3 = rid('p');
        assert.deepEqual((await s.createProvider(org, p3, { ...input, health: { openSec: 5 } }, t(11))).health, { openSec: 5 });
        assert.deepEqual((await s.getProvider(org, p3))?.health, { openSec: 5 });
      });

      test('concurrent updates of one provider lose none of the patches', async () => {
        const org = rid('org');
        const p = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        await Promise.all([
          s.updateProvider(org, p, { name: 'renamed' }, t(1)),
          s.updateProvider(org, p, { priority: 7 }, t(1)),
          s.updateProvider(org, p, { config: { k: 'v' } }, t(1)),
          s.updateProvider(org, p, { futureUsers: true }, t(1)),
        ]);
        const got = await s.getProvider(org, p);
        assert.deepEqual([got?.name, got?.priority, got?.config, got?.futureUsers], ['renamed', 7, { k: 'v' }, true]);
      });

      test('new regions that would strand assigned users are refused; nothing changes (rule 5)', async () => {
        const org = rid('org');
        const p = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        await s.putUser(org, 'ca', userInput('CA'), t(1));
        await s.putUser(org, 'gb', userInput('GB'), t(1));
        await s.putUser(org, 'fr', userInput('FR'), t(1));
        await s.assignUsers(org, p, ['ca', 'gb']);
        const v0 = (await s.orgConfig(org)).version;
        const one = await rejectsWith(s.updateProvider(org, p, { regions: { allow: ['CA', 'FR'] }, name: 'renamed' }, t(2)), 'region_unavailable');
        assert.deepEqual(one.details, { providerId: p, count: 1, users: [{ userId: 'gb', region: 'GB' }] });
        const two = await rejectsWith(s.updateProvider(org, p, { regions: { deny: ['CA', 'GB'] } }, t(2)), 'region_unavailable');
        assert.equal(two.details?.count, 2);
        const same = await s.getProvider(org, p);
        assert.deepEqual(same?.regions, {}, 'regions unchanged');
        assert.notEqual(same?.name, 'renamed', 'nothing of a refused patch is written');
        assert.equal((await s.orgConfig(org)).version, v0, 'a refused patch does not move the config version');
        // regions that still serve everybody on it (FR is not assigned) are fine
        const ok = await s.updateProvider(org, p, { regions: { allow: ['CA', 'GB'] } }, t(3));
        assert.deepEqual(ok.regions, { allow: ['CA', 'GB'] });
      });

      test('the same kind may be installed any number of times (rule 1)', async () => {
        const org = rid('org');
        for (let i = 0; i < 5; i++) await s.createProvider(org, rid('p'), providerInput({ kind: 'twilio' }), t(i));
        assert.equal((await s.listProviders(org)).length, 5);
      });

      test('uninstall with users is refused with the count; nothing changes (rule 6)', async () => {
        const org = rid('org');
        const p = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        for (const u of ['a', 'b', 'c']) await s.putUser(org, u, userInput('CA'), t(1));
        await s.assignUsers(org, p, ['a', 'b', 'c']);
        await rejectsWith(s.deleteProvider(org, p, false), 'provider_has_users', { count: 3 });
        assert.ok(await s.getProvider(org, p));
        assert.equal(await s.userCount(org, p), 3);
        assert.equal((await s.getUser(org, 'a'))?.providerId, p);
        assert.equal(await s.getProviderOrg(p), org);
      });

      test('uninstall with force unassigns every user at once; the provider and its health are gone everywhere', async () => {
        const org = rid('org');
        const p = rid('p');
        const other = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        await s.createProvider(org, other, providerInput(), t(0));
        for (const u of ['a', 'b', 'c', 'd']) await s.putUser(org, u, userInput('CA'), t(1));
        await s.assignUsers(org, p, ['a', 'b', 'c']);
        await s.assignUsers(org, other, ['d']);
        await b.health.failure(org, p, { threshold: 1, openMs: 60_000, closeAfter: 1 });
        assert.equal((await b.health.get(org, p)).state, 'open');
        assert.equal(await s.deleteProvider(org, p, true), true);
        for (const u of ['a', 'b', 'c']) assert.equal((await s.getUser(org, u))?.providerId, null);
        assert.equal((await s.getUser(org, 'd'))?.providerId, other);
        assert.equal(await s.getProvider(org, p), null);
        assert.equal(await s.getProviderOrg(p), null);
        assert.equal((await b.health.get(org, p)).state, 'closed', 'its breaker went with it');
        assert.deepEqual(await s.userCounts(org), { [other]: 1 });
        assert.deepEqual(ids(await s.listProviders(org)), [other]);
        assert.deepEqual(ids((await s.listUsers(org, { limit: 10, unassigned: true })).items), ['a', 'b', 'c']);
        assert.deepEqual((await s.listProviderUsers(org, p, { limit: 10 })).items, []);
        assert.equal(await s.deleteProvider(org, p, true), false, 'a second uninstall finds nothing');
        // the freed users can now join another provider, and the id may be installed again
        assert.deepEqual((await s.assignUsers(org, other, ['a'])).assigned, ['a']);
        await s.createProvider(rid('org'), p, providerInput(), t(2));
      });

      test('uninstall of an empty provider needs no force', async () => {
        const org = rid('org');
        const p = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        assert.equal(await s.deleteProvider(org, p, false), true);
        assert.equal(await s.deleteProvider(org, rid('p'), false), false);
      });

      test('user counts per provider', async () => {
        const org = rid('org');
        const P = pids('pa', 'pb', 'pc');
        await s.createProvider(org, P.pa, providerInput(), t(0));
        await s.createProvider(org, P.pb, providerInput(), t(0));
        await s.createProvider(org, P.pc, providerInput(), t(0));
        for (const u of ['a', 'b', 'c']) await s.putUser(org, u, userInput('CA'), t(1));
        await s.assignUsers(org, P.pa, ['a', 'b']);
        await s.assignUsers(org, P.pb, ['c']);
        assert.deepEqual(await s.userCounts(org), { [P.pa]: 2, [P.pb]: 1, [P.pc]: 0 });
        assert.equal(await s.userCount(org, P.pa), 2);
        assert.equal(await s.userCount(org, 'nope'), 0);
        assert.deepEqual(await s.userCounts(rid('org')), {});
      });
    });

    describe('assignment (rules 3, 4, 5)', () => {
      test('assigns; same provider again is a no-op success; elsewhere names the other; unknown and region are reported', async () => {
        const org = rid('org');
        const P = pids('ca', 'eu');
        await s.createProvider(org, P.ca, providerInput({ regions: { allow: ['CA', 'US'] } }), t(0));
        await s.createProvider(org, P.eu, providerInput({ regions: { deny: ['CN'] } }), t(0));
        await s.putUser(org, 'u-ca', userInput('CA'), t(1));
        await s.putUser(org, 'u-us', userInput('US'), t(1));
        await s.putUser(org, 'u-fr', userInput('FR'), t(1));
        await s.putUser(org, 'u-cn', userInput('CN'), t(1));

        assert.deepEqual(await s.assignUsers(org, P.ca, ['u-ca', 'u-fr', 'ghost', 'u-ca']), {
          assigned: ['u-ca'],
          conflicts: [
            { userId: 'u-fr', reason: 'region_unavailable' },
            { userId: 'ghost', reason: 'unknown_user' },
          ],
        });
        assert.deepEqual(await s.assignUsers(org, P.ca, ['u-ca', 'u-us']), { assigned: ['u-ca', 'u-us'], conflicts: [] });
        assert.deepEqual(await s.assignUsers(org, P.eu, ['u-ca', 'u-cn', 'u-fr']), {
          assigned: ['u-fr'],
          conflicts: [
            { userId: 'u-ca', providerId: P.ca, reason: 'assigned_elsewhere' },
            { userId: 'u-cn', reason: 'region_unavailable' },
          ],
        });
        assert.equal((await s.getUser(org, 'u-ca'))?.providerId, P.ca, 'a conflict never moves the user');
        assert.deepEqual(await s.userCounts(org), { [P.ca]: 2, [P.eu]: 1 });
        assert.deepEqual(await s.assignUsers(org, P.eu, []), { assigned: [], conflicts: [] });
        await rejectsWith(s.assignUsers(org, 'nope', ['u-ca']), 'provider_not_found');
      });

      test('region rule: empty allow means everywhere; deny wins over allow', async () => {
        const org = rid('org');
        const P = pids('open', 'both');
        await s.createProvider(org, P.open, providerInput({ regions: { allow: [] } }), t(0));
        await s.createProvider(org, P.both, providerInput({ regions: { allow: ['CA', 'CN'], deny: ['CN'] } }), t(0));
        await s.putUser(org, 'jp', userInput('JP'), t(1));
        await s.putUser(org, 'cn', userInput('CN'), t(1));
        assert.deepEqual((await s.assignUsers(org, P.open, ['jp'])).assigned, ['jp']);
        assert.deepEqual((await s.assignUsers(org, P.both, ['cn'])).conflicts, [{ userId: 'cn', reason: 'region_unavailable' }]);
      });

      test('unassign leaves the user unassigned; only from the provider they are on', async () => {
        const org = rid('org');
        const P = pids('pa', 'pb');
        await s.createProvider(org, P.pa, providerInput(), t(0));
        await s.createProvider(org, P.pb, providerInput(), t(0));
        await s.putUser(org, 'u1', userInput('CA'), t(1));
        await s.assignUsers(org, P.pa, ['u1']);
        assert.equal(await s.unassignUser(org, P.pb, 'u1'), false);
        assert.equal((await s.getUser(org, 'u1'))?.providerId, P.pa);
        assert.equal(await s.unassignUser(org, P.pa, 'u1'), true);
        assert.equal((await s.getUser(org, 'u1'))?.providerId, null);
        assert.equal(await s.userCount(org, P.pa), 0);
        assert.equal(await s.unassignUser(org, P.pa, 'u1'), false);
        assert.equal(await s.unassignUser(org, P.pa, 'ghost'), false);
        // "uninstall from the old one, then add to the new one"
        assert.deepEqual((await s.assignUsers(org, P.pb, ['u1'])).assigned, ['u1']);
      });

      test('move: atomic uninstall-and-add, with its errors leaving the user where they were (rule 4)', async () => {
        const org = rid('org');
        const P = pids('pa', 'pb');
        await s.createProvider(org, P.pa, providerInput(), t(0));
        await s.createProvider(org, P.pb, providerInput({ regions: { allow: ['CA'] } }), t(0));
        await s.putUser(org, 'u1', userInput('CA', { name: 'U One' }), t(1));
        await s.putUser(org, 'fr', userInput('FR'), t(1));
        await s.assignUsers(org, P.pa, ['u1', 'fr']);

        const moved = await s.moveUser(org, 'u1', P.pb);
        assert.deepEqual(moved, { ...(await s.getUser(org, 'u1'))!, providerId: P.pb });
        assert.equal(moved.name, 'U One');
        assert.deepEqual(await s.userCounts(org), { [P.pa]: 1, [P.pb]: 1 });
        assert.deepEqual(ids((await s.listProviderUsers(org, P.pb, { limit: 10 })).items), ['u1']);
        assert.deepEqual(ids((await s.listProviderUsers(org, P.pa, { limit: 10 })).items), ['fr']);

        assert.equal((await s.moveUser(org, 'u1', P.pb)).providerId, P.pb, 'moving to the current provider is a no-op');
        assert.deepEqual(await s.userCounts(org), { [P.pa]: 1, [P.pb]: 1 });

        await rejectsWith(s.moveUser(org, 'fr', P.pb), 'region_unavailable', { providerId: P.pb, region: 'FR' });
        assert.equal((await s.getUser(org, 'fr'))?.providerId, P.pa);
        await rejectsWith(s.moveUser(org, 'ghost', P.pb), 'user_not_found');
        await rejectsWith(s.moveUser(org, 'u1', 'nope'), 'provider_not_found');
        assert.equal((await s.getUser(org, 'u1'))?.providerId, P.pb);

        await s.putUser(org, 'free', userInput('CA'), t(2));
        assert.equal((await s.moveUser(org, 'free', P.pa)).providerId, P.pa, 'an unassigned user can be moved in');
      });

      test("tokenVersion: bumped by delete, move, unassign and a forced uninstall, only for that user, and kept across a re-create", async () => {
        const org = rid('org');
        const P = pids('pa', 'pb', 'pc');
        for (const p of [P.pa, P.pb, P.pc]) await s.createProvider(org, p, providerInput(), t(0));
        for (const u of ['u1', 'u2', 'u3']) await s.putUser(org, u, userInput('CA'), t(1));
        await s.assignUsers(org, P.pa, ['u1', 'u2']);
        await s.assignUsers(org, P.pc, ['u3']);
        const v = async () => [await s.tokenVersion(org, 'u1'), await s.tokenVersion(org, 'u2'), await s.tokenVersion(org, 'u3')];
        assert.deepEqual(await v(), [0, 0, 0], 'assigning and profile puts leave it alone');
        await s.putUser(org, 'u1', userInput('CA', { name: 'again' }), t(2));
        assert.deepEqual(await v(), [0, 0, 0]);

        await s.moveUser(org, 'u1', P.pb);
        assert.deepEqual(await v(), [1, 0, 0], 'a move');
        await s.moveUser(org, 'u1', P.pb);
        assert.deepEqual(await v(), [1, 0, 0], 'moving to the current provider is no move');
        await rejectsWith(s.moveUser(org, 'u1', 'nope'), 'provider_not_found');
        assert.deepEqual(await v(), [1, 0, 0], 'a refused move');

        assert.equal(await s.unassignUser(org, P.pc, 'u2'), false);
        assert.deepEqual(await v(), [1, 0, 0], 'an unassign that finds nothing');
        assert.equal(await s.unassignUser(org, P.pa, 'u2'), true);
        assert.deepEqual(await v(), [1, 1, 0], 'an unassign');

        await rejectsWith(s.deleteProvider(org, P.pc, false), 'provider_has_users');
        assert.deepEqual(await v(), [1, 1, 0], 'a refused uninstall');
        assert.equal(await s.deleteProvider(org, P.pc, true), true);
        assert.deepEqual(await v(), [1, 1, 1], 'a forced uninstall, for its users only');

        assert.equal(await s.deleteUser(org, 'u1'), true);
        assert.deepEqual(await v(), [2, 1, 1], 'a delete');
        await s.putUser(org, 'u1', userInput('CA'), t(3));
        assert.equal(await s.tokenVersion(org, 'u1'), 2, 'a user created again under the id goes on from it');
        assert.equal(await s.deleteUser(org, 'ghost'), false);
        assert.equal(await s.tokenVersion(org, 'ghost'), 0);
        assert.equal(await s.tokenVersion(rid('org'), 'u1'), 0, 'per org');
      });

      test('install-all: scope all, futureUsers set, unassigned served users join, nobody is moved', async () => {
        const org = rid('org');
        const P = pids('other', 'p');
        await s.createProvider(org, P.other, providerInput(), t(0));
        await s.createProvider(org, P.p, providerInput({ regions: { deny: ['CN'] } }), t(1));
        const expected: string[] = [];
        const conflicts: { userId: string; providerId?: string; reason: string }[] = [];
        for (let i = 0; i < 40; i++) {
          const id = `u${String(i).padStart(2, '0')}`;
          const region = i % 7 === 0 ? 'CN' : 'CA';
          await s.putUser(org, id, userInput(region), t(2));
          if (i % 5 === 0) {
            await s.assignUsers(org, P.other, [id]);
            conflicts.push({ userId: id, providerId: P.other, reason: 'assigned_elsewhere' });
          } else if (i % 11 === 1) {
            await s.assignUsers(org, P.p, [id]); // already there: in neither list
          } else if (region === 'CN') {
            conflicts.push({ userId: id, reason: 'region_unavailable' });
          } else {
            expected.push(id);
          }
        }
        const res = await s.installAll(org, P.p, true, t(9));
        assert.deepEqual(res.assigned, expected);
        assert.deepEqual(res.conflicts, conflicts);
        const p = await s.getProvider(org, P.p);
        assert.equal(p?.scope, 'all');
        assert.equal(p?.futureUsers, true);
        assert.equal(p?.updatedAt, t(9));
        const counts = await s.userCounts(org);
        assert.equal(counts[P.other], 8);
        assert.equal(counts[P.p], expected.length + 4);
        for (const c of conflicts) {
          assert.equal((await s.getUser(org, c.userId))?.providerId, c.providerId ?? null, `${c.userId} was not moved`);
        }
        // a second run finds nothing new to do
        assert.deepEqual((await s.installAll(org, P.p, false, t(10))).assigned, []);
        assert.equal((await s.getProvider(org, P.p))?.futureUsers, false);
        await rejectsWith(s.installAll(org, 'nope', false, t(11)), 'provider_not_found');
      });

      test('install-all over a thousand users: each once, in id order, across many batches', async () => {
        const org = rid('org');
        const P = pids('other', 'p');
        await s.createProvider(org, P.other, providerInput(), t(0));
        await s.createProvider(org, P.p, providerInput({ regions: { deny: ['CN'] } }), t(0));
        const n = 1000;
        const all = Array.from({ length: n }, (_, i) => `u${String(i).padStart(5, '0')}`);
        await Promise.all(all.map((id, i) => s.putUser(org, id, userInput(i % 100 === 0 ? 'CN' : 'CA'), t(1))));
        await s.assignUsers(org, P.other, ['u00001', 'u00002']);
        const res = await s.installAll(org, P.p, false, t(2));
        const expected = all.filter((id, i) => i % 100 !== 0 && id !== 'u00001' && id !== 'u00002');
        assert.deepEqual(res.assigned, expected);
        assert.equal(res.conflicts.length, n / 100 + 2);
        assert.deepEqual(await s.userCounts(org), { [P.other]: 2, [P.p]: expected.length });
      });
    });

    describe('future users (rules 2 and 5)', () => {
      test('a new user joins the future-users provider serving their region: lowest priority, then oldest', async () => {
        const org = rid('org');
        const P = pids('not-future', 'ca-p5', 'ca-p1-new', 'any-p1-old', 'open-p2', 'ca-p1-old');
        await s.createProvider(org, P['not-future'], providerInput({ priority: -10 }), t(0));
        await s.createProvider(org, P['ca-p5'], providerInput({ futureUsers: true, regions: { allow: ['CA'] }, priority: 5 }), t(1));
        await s.createProvider(org, P['ca-p1-new'], providerInput({ futureUsers: true, regions: { allow: ['CA'] }, priority: 1 }), t(3));
        await s.createProvider(org, P['any-p1-old'], providerInput({ futureUsers: true, regions: { deny: ['CA', 'CN'] }, priority: 1 }), t(2));
        await s.createProvider(org, P['open-p2'], providerInput({ futureUsers: true, regions: { allow: [] }, priority: 2 }), t(0));

        assert.equal((await s.putUser(org, 'ca', userInput('CA'), t(5))).user.providerId, P['ca-p1-new']);
        assert.equal((await s.putUser(org, 'us', userInput('US'), t(5))).user.providerId, P['any-p1-old']);
        assert.equal((await s.putUser(org, 'cn', userInput('CN'), t(5))).user.providerId, P['open-p2']);
        await s.createProvider(org, P['ca-p1-old'], providerInput({ futureUsers: true, regions: { allow: ['CA'] }, priority: 1 }), t(2));
        assert.equal((await s.putUser(org, 'ca2', userInput('CA'), t(6))).user.providerId, P['ca-p1-old'], 'oldest wins a tie');
        assert.equal(await s.userCount(org, P['ca-p1-old']), 1);
        assert.deepEqual(ids((await s.listProviderUsers(org, P['open-p2'], { limit: 5 })).items), ['cn']);
        assert.equal((await s.getUser(org, 'ca2'))?.providerId, P['ca-p1-old']);
      });

      test('a priority and creation tie is broken by the smaller id', async () => {
        const org = rid('org');
        const suffix = rid('');
        const [lo, hi] = [`a-${suffix}`, `b-${suffix}`];
        await s.createProvider(org, hi, providerInput({ futureUsers: true }), t(0));
        await s.createProvider(org, lo, providerInput({ futureUsers: true }), t(0));
        assert.equal((await s.putUser(org, 'u', userInput('CA'), t(1))).user.providerId, lo);
      });

      test('no future provider serving the region leaves the user unassigned; updates never reassign', async () => {
        const org = rid('org');
        const P = pids('fr');
        await s.createProvider(org, P.fr, providerInput({ futureUsers: true, regions: { allow: ['FR'] } }), t(0));
        assert.equal((await s.putUser(org, 'u', userInput('CA'), t(1))).user.providerId, null);
        assert.equal((await s.putUser(org, 'u', userInput('FR'), t(2))).user.providerId, null, 'only creation picks a provider');
      });

      test('install-all with futureUsers makes later users join; turning it off stops that', async () => {
        const org = rid('org');
        const P = pids('p');
        await s.createProvider(org, P.p, providerInput(), t(0));
        await s.installAll(org, P.p, true, t(1));
        assert.equal((await s.putUser(org, 'late', userInput('CA'), t(2))).user.providerId, P.p);
        await s.updateProvider(org, P.p, { futureUsers: false }, t(3));
        assert.equal((await s.putUser(org, 'later', userInput('CA'), t(4))).user.providerId, null);
      });

      test('a region change the current provider does not serve is refused and the user is kept as is', async () => {
        const org = rid('org');
        const P = pids('ca');
        await s.createProvider(org, P.ca, providerInput({ futureUsers: true, regions: { allow: ['CA', 'US'] } }), t(0));
        await s.putUser(org, 'u', userInput('CA', { name: 'A', numbers: ['+15145550101'] }), t(1));
        const v = (await s.getUserVersioned(org, 'u'))!.version;
        await rejectsWith(s.putUser(org, 'u', userInput('FR', { name: 'B', numbers: ['+33100000000'] }), t(2)), 'region_unavailable', {
          providerId: P.ca,
          region: 'FR',
        });
        const u = await s.getUserVersioned(org, 'u');
        assert.deepEqual([u?.user.region, u?.user.name, u?.user.providerId, u?.user.numbers, u?.version], ['CA', 'A', P.ca, ['+15145550101'], v]);
        assert.equal(await s.findUserByNumber(org, '+33100000000'), null);
        assert.deepEqual(await s.orgRegions(org), ['CA']);
        assert.equal((await s.putUser(org, 'u', userInput('US'), t(3))).user.region, 'US', 'a served region is fine');
      });
    });

    describe('org config', () => {
      test('providers, parsed settings and regions at one instant', async () => {
        const org = rid('org');
        const P = pids('a', 'b');
        const pa = await s.createProvider(org, P.a, providerInput({ config: { k: 1 } }), t(0));
        const pb = await s.createProvider(org, P.b, providerInput({ kind: 'twilio', regions: { allow: ['US'] } }), t(1));
        await b.settings.put(org, 'dialPolicy', { allow: ['+1'] });
        await b.settings.put(org, 'crm', { kind: 'webhook', url: 'http://x' });
        await s.putUser(org, 'u1', userInput('US'), t(2));
        await s.putUser(org, 'u2', userInput('CA'), t(2));
        const cfg = await s.orgConfig(org);
        assert.deepEqual(
          [...cfg.providers].sort((x, y) => (x.id < y.id ? -1 : 1)),
          [pa, pb].sort((x, y) => (x.id < y.id ? -1 : 1)),
        );
        assert.deepEqual(cfg.settings, { dialPolicy: { allow: ['+1'] }, crm: { kind: 'webhook', url: 'http://x' } });
        assert.deepEqual(cfg.regions, ['CA', 'US']);
        assert.equal(typeof cfg.version, 'number');
      });

      test('its version moves on provider create/update/delete, settings put/del, install-all and the set of regions changing', async () => {
        const org = rid('org');
        const P = pids('a', 'b');
        const version = async () => (await s.orgConfig(org)).version;
        const moves = async (what: string, fn: () => Promise<unknown>) => {
          const before = await version();
          await fn();
          assert.ok((await version()) > before, `${what} moves the version`);
        };
        const stays = async (what: string, fn: () => Promise<unknown>) => {
          const before = await version();
          await fn();
          assert.equal(await version(), before, `${what} leaves the version`);
        };
        await moves('createProvider', () => s.createProvider(org, P.a, providerInput(), t(0)));
        await moves('createProvider of a second', () => s.createProvider(org, P.b, providerInput(), t(0)));
        await moves('updateProvider', () => s.updateProvider(org, P.a, { name: 'renamed' }, t(1)));
        await moves('settings.put', () => b.settings.put(org, 'routingPolicy', { order: [P.a] }));
        await moves('settings.put of the same value', () => b.settings.put(org, 'routingPolicy', { order: [P.a] }));
        await moves('settings.del', () => b.settings.del(org, 'routingPolicy'));
        await moves('the first user in a region', () => s.putUser(org, 'u1', userInput('CA'), t(2)));
        await stays('a second user in that region', () => s.putUser(org, 'u2', userInput('CA'), t(2)));
        await stays('a plain update of a user in an existing region', () => s.putUser(org, 'u1', userInput('CA', { name: 'New name' }), t(3)));
        await moves('a user moving to a new region', () => s.putUser(org, 'u2', userInput('US'), t(3)));
        await stays('a new user in an existing region', () => s.putUser(org, 'u3', userInput('CA'), t(4)));
        await stays('a user moving between regions that keep users', () => s.putUser(org, 'u1', userInput('US'), t(4)));
        await moves('the last user leaving a region', () => s.putUser(org, 'u3', userInput('US'), t(5)));
        await stays('assignUsers', () => s.assignUsers(org, P.b, ['u1']));
        await stays('moveUser', () => s.moveUser(org, 'u1', P.a));
        await stays('unassignUser', () => s.unassignUser(org, P.a, 'u1'));
        await moves('installAll', () => s.installAll(org, P.a, false, t(6)));
        await moves('the first user of a region', () => s.putUser(org, 'fr', userInput('FR'), t(7)));
        await moves('deleting the last user of a region', () => s.deleteUser(org, 'fr'));
        await stays('deleting a user whose region others share', () => s.deleteUser(org, 'u1'));
        await moves('deleteProvider', () => s.deleteProvider(org, P.b, true));
        await s.putUser(org, 'owner', userInput('US', { numbers: ['+15145559999'] }), t(8));
        await stays('a refused putUser (taken number, new region)', () =>
          rejectsWith(s.putUser(org, 'thief', userInput('JP', { numbers: ['+15145559999'] }), t(8)), 'number_taken'),
        );
        await stays('a refused updateProvider', () => rejectsWith(s.updateProvider(org, rid('p'), { name: 'x' }, t(8)), 'provider_not_found'));
        await stays('reads', async () => {
          await s.listProviders(org);
          await s.orgRegions(org);
          await b.settings.get(org, 'crm');
        });
        // another org's changes are not this org's
        await stays("another org's changes", () => s.createProvider(rid('org'), rid('p'), providerInput(), t(9)));
      });
    });

    describe('concurrency: conflicting assignments and moves from several instances', () => {
      const INSTANCES = 4;
      let stores: DirectoryStore[];
      let org: string;
      let users: string[];
      let P: Record<'A' | 'B', string>;
      before(async () => {
        const peers = await Promise.all(Array.from({ length: INSTANCES - 1 }, () => f.peer(b) ?? b));
        stores = [b, ...peers].map((x) => x.directory);
        org = rid('org');
        P = pids('A', 'B');
        await s.createProvider(org, P.A, providerInput({ regions: { allow: ['CA', 'US'] } }), t(0));
        await s.createProvider(org, P.B, providerInput(), t(0));
        users = Array.from({ length: 12 }, (_, i) => `u${i}`);
        for (const u of users) await s.putUser(org, u, userInput('CA'), t(1));
      });

      /** Each user on at most one provider; provider sets, users' providerId and counts agree. */
      async function checkInvariants(label: string): Promise<Map<string, string | null>> {
        const setA = new Set(ids((await s.listProviderUsers(org, P.A, { limit: 1000 })).items));
        const setB = new Set(ids((await s.listProviderUsers(org, P.B, { limit: 1000 })).items));
        const where = new Map<string, string | null>();
        for (const u of users) {
          const user = await s.getUser(org, u);
          assert.ok(user, `${label}: ${u} exists`);
          where.set(u, user.providerId);
          assert.ok(!(setA.has(u) && setB.has(u)), `${label}: ${u} is on two providers`);
          assert.equal(setA.has(u), user.providerId === P.A, `${label}: A's set agrees with ${u}.providerId=${user.providerId}`);
          assert.equal(setB.has(u), user.providerId === P.B, `${label}: B's set agrees with ${u}.providerId=${user.providerId}`);
        }
        assert.deepEqual(await s.userCounts(org), { [P.A]: setA.size, [P.B]: setB.size }, `${label}: counts`);
        return where;
      }

      test('50 concurrent assign / unassign / move / install-all requests keep every invariant', async () => {
        const rnd = seeded(0xc0ffee);
        for (let round = 0; round < 6; round++) {
          const ops: Promise<unknown>[] = [];
          for (let i = 0; i < 50; i++) {
            const st = stores[i % stores.length];
            const p = rnd() < 0.5 ? P.A : P.B;
            const u = users[Math.floor(rnd() * users.length)];
            const r = rnd();
            if (r < 0.35) ops.push(st.assignUsers(org, p, users.filter(() => rnd() < 0.4)));
            else if (r < 0.7) ops.push(st.moveUser(org, u, p));
            else if (r < 0.9) ops.push(st.unassignUser(org, p, u));
            else ops.push(st.installAll(org, p, false, t(2)));
          }
          await Promise.all(ops);
          await checkInvariants(`round ${round}`);
        }
      });

      test('moves racing assigns never leave a user on none or on two providers', async () => {
        const rnd = seeded(0xbeef);
        await s.installAll(org, P.A, false, t(3));
        await s.installAll(org, P.B, false, t(3));
        for (const [u, p] of await checkInvariants('start')) assert.notEqual(p, null, `${u} starts assigned`);
        for (let round = 0; round < 6; round++) {
          const ops: Promise<unknown>[] = [];
          const moveResults: Promise<{ u: string; p: string; ok: boolean }>[] = [];
          for (let i = 0; i < 50; i++) {
            const st = stores[i % stores.length];
            const p = rnd() < 0.5 ? P.A : P.B;
            const u = users[Math.floor(rnd() * users.length)];
            if (rnd() < 0.6) {
              moveResults.push(st.moveUser(org, u, p).then((user) => ({ u, p, ok: user.providerId === p })));
            } else {
              // always refused or a no-op: everybody is on a provider, so this never takes anyone
              ops.push(
                st.assignUsers(org, p, [u]).then((res) => {
                  if (res.conflicts.length) assert.equal(res.conflicts[0].reason, 'assigned_elsewhere');
                }),
              );
            }
          }
          await Promise.all(ops);
          for (const m of await Promise.all(moveResults)) assert.ok(m.ok, `move of ${m.u} to ${m.p} answered with that provider`);
          const where = await checkInvariants(`moves round ${round}`);
          for (const [u, p] of where) assert.notEqual(p, null, `${u} is never left without a provider`);
        }
      });
    });
  });
}
