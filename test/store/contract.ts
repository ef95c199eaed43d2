// The Store contract: every domain rule (DESIGN rules 1–7), pagination, calls, idempotency and
// shared state, run unchanged against each implementation (memory-store.test.ts, redis-store.test.ts).
// Every case works in its own random org, so suites never see each other's data.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { applyTransition } from '../../src/calls/state-machine.js';
import { DomainError } from '../../src/domain/errors.js';
import type { Call, CallStatus, User, UserInput } from '../../src/domain/types.js';
import type { ProviderInput, Store, TransitionInput } from '../../src/store/store.js';

export const rid = (p = 'x'): string => `${p}${randomBytes(6).toString('hex')}`;

/** Deterministic timestamps: t(0) is 2024-01-01T00:00:00.000Z, t(n) n seconds later. */
export const t = (sec: number): string => new Date(Date.UTC(2024, 0, 1) + sec * 1000).toISOString();

export function providerInput(over: Partial<ProviderInput> = {}): ProviderInput {
  return { kind: 'sim', name: 'sim', config: {}, regions: {}, priority: 0, scope: 'specific', futureUsers: false, ...over };
}

export function userInput(region: string, over: Partial<UserInput> = {}): UserInput {
  return { region, numbers: [], ...over };
}

export async function rejectsWith(p: Promise<unknown>, code: string, details?: Record<string, unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (details) assert.deepEqual(e.details, details);
    return e;
  }
  assert.fail(`expected DomainError ${code}, but it resolved`);
}

function baseCall(orgId: string, id: string, over: Partial<Call> = {}): Call {
  return {
    id,
    orgId,
    userId: 'u1',
    providerId: 'p1',
    providerKind: 'sim',
    direction: 'outbound',
    to: '+15145550100',
    status: 'queued',
    createdAt: t(0),
    updatedAt: t(0),
    history: [{ status: 'queued', at: t(0) }],
    ...over,
  };
}

/** Every user id of a listing, page by page, checking page sizes and cursor termination. */
async function allPages<T>(fetch: (cursor?: string) => Promise<{ items: T[]; nextCursor: string | null }>, limit: number): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await fetch(cursor);
    assert.ok(page.items.length <= limit, 'a page is never larger than its limit');
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    assert.equal(page.items.length, limit, 'a page with a next cursor is full');
    cursor = page.nextCursor;
  }
  assert.fail('pagination did not terminate');
}

/**
 * Provider ids are global (webhooks resolve the org from the provider id alone), so each case
 * names its providers with a random suffix: P.pa, P['ca-p5'], ...
 */
function pids(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, `${n}-${randomBytes(4).toString('hex')}`]));
}

const ids = (users: User[]): string[] => users.map((u) => u.id);

export function runStoreContract(name: string, makeStore: () => Promise<Store>, cleanup: (store: Store) => Promise<void>): void {
  describe(`Store contract: ${name}`, () => {
    let s: Store;
    before(async () => {
      s = await makeStore();
    });
    after(async () => {
      await cleanup(s);
    });

    describe('orgs, keys, CRM config', () => {
      test('org and API key round-trip; unknown ones are null', async () => {
        const org = { id: rid('org'), name: 'Acme', createdAt: t(0) };
        const key = { keyId: rid('k'), orgId: org.id, secretHash: 'ab'.repeat(32), createdAt: t(0) };
        await s.createOrg(org, key);
        assert.deepEqual(await s.getOrg(org.id), org);
        assert.deepEqual(await s.getApiKey(key.keyId), key);
        assert.equal(await s.getOrg(rid('org')), null);
        assert.equal(await s.getApiKey(rid('k')), null);
      });

      test('CRM config is stored per org', async () => {
        const a = rid('org');
        const b = rid('org');
        assert.equal(await s.getCrmConfig(a), null);
        await s.putCrmConfig(a, { kind: 'webhook', url: 'http://x', secret: 's' });
        assert.deepEqual(await s.getCrmConfig(a), { kind: 'webhook', url: 'http://x', secret: 's' });
        assert.equal(await s.getCrmConfig(b), null);
        await s.putCrmConfig(a, { kind: 'zoho', mode: 'rest' });
        assert.deepEqual(await s.getCrmConfig(a), { kind: 'zoho', mode: 'rest' });
      });

      test('ping answers true', async () => {
        assert.equal(await s.ping(), true);
      });
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
        assert.equal(await s.getUser(org, 'bob'), null);
      });

      test('returned objects are copies: mutating them changes nothing stored', async () => {
        const org = rid('org');
        const { user } = await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101'] }), t(1));
        user.numbers.push('+1999');
        user.region = 'FR';
        const again = await s.getUser(org, 'u1');
        assert.equal(again?.region, 'CA');
        assert.deepEqual(again?.numbers, ['+15145550101']);
      });

      test('DIDs are unique per org: a taken number is refused with the number, and nothing changes', async () => {
        const org = rid('org');
        await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101', '+15145550102'] }), t(1));
        await rejectsWith(s.putUser(org, 'u2', userInput('CA', { numbers: ['+15145550199', '+15145550102'] }), t(2)), 'number_taken', {
          number: '+15145550102',
        });
        assert.equal(await s.getUser(org, 'u2'), null, 'the refused user was not created');
        assert.equal(await s.findUserByNumber(org, '+15145550199'), null, 'no DID of the refused request was kept');
        // an update that steals a number is refused too and keeps the old profile
        await s.putUser(org, 'u3', userInput('US', { numbers: ['+15145550103'] }), t(3));
        await rejectsWith(s.putUser(org, 'u3', userInput('US', { numbers: ['+15145550101'] }), t(4)), 'number_taken');
        assert.deepEqual((await s.getUser(org, 'u3'))?.numbers, ['+15145550103']);
        assert.equal((await s.findUserByNumber(org, '+15145550103'))?.id, 'u3');
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

      test('delete removes the user, their DIDs and their assignment', async () => {
        const org = rid('org');
        const P = pids('p1');
        await s.createProvider(org, P.p1, providerInput(), t(0));
        await s.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550101'] }), t(1));
        await s.assignUsers(org, P.p1, ['u1']);
        assert.equal(await s.userCount(org, P.p1), 1);
        assert.equal(await s.deleteUser(org, 'u1'), true);
        assert.equal(await s.getUser(org, 'u1'), null);
        assert.equal(await s.findUserByNumber(org, '+15145550101'), null);
        assert.equal(await s.userCount(org, P.p1), 0);
        assert.deepEqual((await s.listProviderUsers(org, P.p1, { limit: 10 })).items, []);
        assert.deepEqual((await s.listUsers(org, { limit: 10 })).items, []);
        assert.equal(await s.deleteUser(org, 'u1'), false);
        await s.putUser(org, 'u2', userInput('CA', { numbers: ['+15145550101'] }), t(2));
        // the provider can now be removed without force
        await s.unassignUser(org, P.p1, 'u2');
        assert.equal(await s.deleteProvider(org, P.p1, false), true);
      });

      test('orgs are isolated: the same ids in two orgs never meet', async () => {
        const a = rid('org');
        const b = rid('org');
        await s.createProvider(a, rid('p'), providerInput(), t(0));
        await s.putUser(a, 'u1', userInput('CA'), t(1));
        assert.equal(await s.getUser(b, 'u1'), null);
        assert.deepEqual(await s.listProviders(b), []);
        assert.deepEqual((await s.listUsers(b, { limit: 10 })).items, []);
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
        assert.deepEqual(
          ids(await allPages((cursor) => s.listUsers(org, { limit: 1, cursor, providerId: P.pa, region: 'CA' }), 1)),
          expect.caOnA,
        );
        assert.deepEqual((await s.listUsers(org, { limit: 5, providerId: P.pa, unassigned: true })).items, []);
        assert.deepEqual((await s.listUsers(org, { limit: 5, region: 'JP' })), { items: [], nextCursor: null });
        assert.deepEqual((await s.listProviderUsers(org, 'nope', { limit: 5 })), { items: [], nextCursor: null });
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
        assert.deepEqual((await s.listProviders(org)).map((p) => p.id), [p1, p2]);
        await rejectsWith(s.createProvider(org, p2, input, t(3)), 'validation_failed');
        await rejectsWith(s.createProvider(rid('org'), p2, input, t(3)), 'validation_failed');
        assert.equal(await s.getProviderOrg(p2), org, 'another org cannot take a provider id');
        assert.equal((await s.getProvider(org, p2))?.name, 'EU', 'the refused duplicate changed nothing');

        const upd = await s.updateProvider(org, p2, { name: 'EU2', regions: { deny: ['CN'] }, priority: 1, futureUsers: true }, t(4));
        assert.deepEqual(upd, { ...created, name: 'EU2', regions: { deny: ['CN'] }, priority: 1, futureUsers: true, updatedAt: t(4) });
        const upd2 = await s.updateProvider(org, p2, { config: { accountSid: 'AC2' } }, t(5));
        assert.deepEqual(upd2.config, { accountSid: 'AC2' }, 'config is replaced whole');
        assert.equal(upd2.name, 'EU2');
        await rejectsWith(s.updateProvider(org, rid('p'), { name: 'x' }, t(6)), 'provider_not_found');
      });

      test('new regions that would strand assigned users are refused; nothing changes (rule 5)', async () => {
        const org = rid('org');
        const p = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        await s.putUser(org, 'ca', userInput('CA'), t(1));
        await s.putUser(org, 'gb', userInput('GB'), t(1));
        await s.putUser(org, 'fr', userInput('FR'), t(1));
        await s.assignUsers(org, p, ['ca', 'gb']);
        const one = await rejectsWith(s.updateProvider(org, p, { regions: { allow: ['CA', 'FR'] }, name: 'renamed' }, t(2)), 'region_unavailable');
        assert.deepEqual(one.details, { providerId: p, count: 1, users: [{ userId: 'gb', region: 'GB' }] });
        const two = await rejectsWith(s.updateProvider(org, p, { regions: { deny: ['CA', 'GB'] } }, t(2)), 'region_unavailable');
        assert.equal(two.details?.count, 2);
        const same = await s.getProvider(org, p);
        assert.deepEqual(same?.regions, {}, 'regions unchanged');
        assert.notEqual(same?.name, 'renamed', 'nothing of a refused patch is written');
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

      test('uninstall with force unassigns every user at once; the provider is gone everywhere', async () => {
        const org = rid('org');
        const p = rid('p');
        const other = rid('p');
        await s.createProvider(org, p, providerInput(), t(0));
        await s.createProvider(org, other, providerInput(), t(0));
        for (const u of ['a', 'b', 'c', 'd']) await s.putUser(org, u, userInput('CA'), t(1));
        await s.assignUsers(org, p, ['a', 'b', 'c']);
        await s.assignUsers(org, other, ['d']);
        assert.equal(await s.deleteProvider(org, p, true), true);
        for (const u of ['a', 'b', 'c']) assert.equal((await s.getUser(org, u))?.providerId, null);
        assert.equal((await s.getUser(org, 'd'))?.providerId, other);
        assert.equal(await s.getProvider(org, p), null);
        assert.equal(await s.getProviderOrg(p), null);
        assert.deepEqual(await s.userCounts(org), { [other]: 1 });
        assert.deepEqual((await s.listProviders(org)).map((x) => x.id), [other]);
        assert.deepEqual(ids((await s.listUsers(org, { limit: 10, unassigned: true })).items), ['a', 'b', 'c']);
        assert.equal(await s.deleteProvider(org, p, true), false, 'a second uninstall finds nothing');
        // the freed users can now join another provider
        assert.deepEqual((await s.assignUsers(org, other, ['a'])).assigned, ['a']);
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

    describe('assignment (rules 3, 5, 6)', () => {
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
        await s.putUser(org, 'u1', userInput('CA'), t(1));
        await s.putUser(org, 'fr', userInput('FR'), t(1));
        await s.assignUsers(org, P.pa, ['u1', 'fr']);

        const moved = await s.moveUser(org, 'u1', P.pb);
        assert.equal(moved.providerId, P.pb);
        assert.equal((await s.getUser(org, 'u1'))?.providerId, P.pb);
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
        await rejectsWith(s.putUser(org, 'u', userInput('FR', { name: 'B', numbers: ['+33100000000'] }), t(2)), 'region_unavailable', {
          providerId: P.ca,
          region: 'FR',
        });
        const u = await s.getUser(org, 'u');
        assert.deepEqual([u?.region, u?.name, u?.providerId, u?.numbers], ['CA', 'A', P.ca, ['+15145550101']]);
        assert.equal(await s.findUserByNumber(org, '+33100000000'), null);
        assert.equal((await s.putUser(org, 'u', userInput('US'), t(3))).user.region, 'US', 'a served region is fine');
      });
    });

    describe('calls', () => {
      test('create, get, unknown is null; the user and provider ids are kept', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'), { crmRecord: { module: 'Leads', id: 'L1' }, from: '+15145550000' });
        await s.createCall(call);
        assert.deepEqual(await s.getCall(org, call.id), call);
        assert.equal(await s.getCall(org, rid('c')), null);
        assert.equal(await s.getCall(rid('org'), call.id), null);
      });

      test('listing: newest first, cursor pages, filters by user and status', async () => {
        const org = rid('org');
        const made: Call[] = [];
        for (let i = 0; i < 17; i++) {
          // two calls share each timestamp so ties must still page deterministically
          const c = baseCall(org, `c${String(i).padStart(2, '0')}`, { userId: i % 2 ? 'u1' : 'u2', createdAt: t(Math.floor(i / 2)) });
          await s.createCall(c);
          made.push(c);
        }
        for (const c of made.filter((_, i) => i % 3 === 0)) await s.transition(org, c.id, { status: 'dialing', at: t(100) });
        const newestFirst = [...made].reverse().map((c) => c.id);
        for (const limit of [1, 4, 17, 30]) {
          const got = await allPages((cursor) => s.listCalls(org, { limit, cursor }), limit);
          assert.deepEqual(got.map((c) => c.id), newestFirst, `limit ${limit}`);
        }
        const u1 = await allPages((cursor) => s.listCalls(org, { limit: 3, cursor, userId: 'u1' }), 3);
        assert.deepEqual(u1.map((c) => c.id), newestFirst.filter((id) => Number(id.slice(1)) % 2 === 1));
        const dialing = await allPages((cursor) => s.listCalls(org, { limit: 2, cursor, status: 'dialing' }), 2);
        assert.deepEqual(dialing.map((c) => c.id), newestFirst.filter((id) => Number(id.slice(1)) % 3 === 0));
        const both = await allPages((cursor) => s.listCalls(org, { limit: 1, cursor, status: 'dialing', userId: 'u2' }), 1);
        assert.deepEqual(both.map((c) => c.id), newestFirst.filter((id) => Number(id.slice(1)) % 6 === 0));
        assert.deepEqual(await s.listCalls(org, { limit: 5, userId: 'nobody' }), { items: [], nextCursor: null });
      });

      test('provider call ids link to our calls, per provider', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'));
        await s.createCall(call);
        assert.equal(await s.findCallByProviderCallId(org, 'p1', 'CA123'), null);
        await s.transition(org, call.id, { status: 'dialing', at: t(1), providerCallId: 'CA123', linkProviderId: 'p1' });
        const found = await s.findCallByProviderCallId(org, 'p1', 'CA123');
        assert.equal(found?.id, call.id);
        assert.equal(found?.providerCallId, 'CA123');
        assert.equal(await s.findCallByProviderCallId(org, 'p2', 'CA123'), null);
        assert.equal(await s.findCallByProviderCallId(rid('org'), 'p1', 'CA123'), null);
      });

      test('createCall with an admission: created only while every limit has room; a refusal writes nothing and takes nothing', async () => {
        const org = rid('org');
        const lim = `lim:${rid('l')}:`; // test keys of their own; buckets and caps expire on their own
        const bucket = { name: 'perOrgPerMinute', key: `${lim}org`, capacity: 3, refillPerMs: 3 / 60_000 };
        const admit = (user: string, callId: string) => ({
          buckets: [bucket],
          cap: { key: `${lim}live:${user}`, max: 1, member: callId, ttlMs: 60_000 },
        });
        const place = async (user: string) => {
          const call = baseCall(org, rid('c'), { userId: user });
          return { call, r: await s.createCall(call, admit(user, call.id)) };
        };
        const a1 = await place('ua');
        assert.deepEqual(a1.r, { ok: true });
        assert.equal((await s.getCall(org, a1.call.id))?.id, a1.call.id);
        // the same user again: the live cap refuses, and takes no org token
        const a2 = await place('ua');
        assert.deepEqual(a2.r, { ok: false, limit: 'concurrentCallsPerUser', retryAfterMs: 1000 });
        assert.equal(await s.getCall(org, a2.call.id), null, 'a refused call is not stored');
        // so two org tokens are left, for two other users; the fourth call is refused by the bucket
        assert.equal((await place('ub')).r.ok, true);
        assert.equal((await place('uc')).r.ok, true);
        const d = await place('ud');
        assert.equal(d.r.ok, false);
        assert.equal(d.r.ok === false && d.r.limit, 'perOrgPerMinute');
        assert.ok(d.r.ok === false && d.r.retryAfterMs > 0 && d.r.retryAfterMs <= 20_000, 'retry once a token is back (20 s at 3/min)');
        assert.equal(await s.getCall(org, d.call.id), null);
        const listed = await s.listCalls(org, { limit: 10 });
        assert.equal(listed.items.length, 3, 'only admitted calls are listed');
        // without an admission nothing is checked
        assert.deepEqual(await s.createCall(baseCall(org, rid('c'), { userId: 'ua' })), { ok: true });
      });

      test('a call created with its provider call id is found by it at once (inbound)', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'), { direction: 'inbound', providerCallId: 'CAin1' });
        await s.createCall(call);
        assert.equal((await s.findCallByProviderCallId(org, call.providerId, 'CAin1'))?.id, call.id);
        assert.equal(await s.findCallByProviderCallId(org, 'other', 'CAin1'), null);
        const plain = baseCall(org, rid('c'));
        await s.createCall(plain);
        assert.equal(await s.findCallByProviderCallId(org, plain.providerId, ''), null);
      });

      test('a transition can link the provider call id in the same step (the dial answer)', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'));
        await s.createCall(call);
        const tr = await s.transition(org, call.id, { status: 'dialing', at: t(1), providerCallId: 'CAout1', linkProviderId: 'p1' });
        assert.equal(tr?.applied, true);
        assert.equal(tr?.call.providerCallId, 'CAout1');
        const found = await s.findCallByProviderCallId(org, 'p1', 'CAout1');
        assert.equal(found?.id, call.id);
        assert.equal(found?.status, 'dialing');
        // without linkProviderId nothing is indexed; an unknown call links nothing
        const other = baseCall(org, rid('c'));
        await s.createCall(other);
        await s.transition(org, other.id, { status: 'dialing', at: t(1), providerCallId: 'CAout2' });
        assert.equal(await s.findCallByProviderCallId(org, 'p1', 'CAout2'), null);
        assert.equal(await s.transition(org, rid('c'), { status: 'dialing', at: t(1), providerCallId: 'CAout3', linkProviderId: 'p1' }), null);
        assert.equal(await s.findCallByProviderCallId(org, 'p1', 'CAout3'), null);
      });

      test('failover reassigns a call only while it is still queued; the rest of the call is kept', async () => {
        const org = rid('org');
        const id = rid('c');
        const call = baseCall(org, id, { crmRecord: { module: 'Leads', id: 'L1' }, from: '+15145550000' });
        await s.createCall(call);
        assert.equal(await s.reassignCall(org, id, { providerId: 'p2', providerKind: 'twilio', failedOverFrom: 'p1' }), true);
        assert.deepEqual(await s.getCall(org, id), { ...call, providerId: 'p2', providerKind: 'twilio', failedOverFrom: 'p1' });
        await s.transition(org, id, { status: 'dialing', at: t(1) });
        assert.equal(await s.reassignCall(org, id, { providerId: 'p3', providerKind: 'sim', failedOverFrom: 'p2' }), false);
        assert.equal((await s.getCall(org, id))?.providerId, 'p2');
        assert.equal(await s.reassignCall(org, rid('c'), { providerId: 'p3', providerKind: 'sim', failedOverFrom: 'p2' }), false);
      });

      test('CRM log state is stored on the call; an unknown call is call_not_found', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'));
        await s.createCall(call);
        await s.setCrmLog(org, call.id, { status: 'pending', attempts: 0 });
        await s.setCrmLog(org, call.id, { status: 'failed', attempts: 2, lastError: 'HTTP 503' });
        assert.deepEqual((await s.getCall(org, call.id))?.crmLog, { status: 'failed', attempts: 2, lastError: 'HTTP 503' });
        await rejectsWith(s.setCrmLog(org, rid('c'), { status: 'logged', attempts: 1 }), 'call_not_found');
        assert.equal(await s.getCall(org, 'nope'), null);
      });
    });

    describe('call state machine', () => {
      test('forward moves apply, backwards and duplicates do not; first terminal wins; times and duration', async () => {
        const org = rid('org');
        const id = rid('c');
        await s.createCall(baseCall(org, id));
        assert.equal(await s.transition(org, rid('c'), { status: 'dialing', at: t(1) }), null);

        let r = await s.transition(org, id, { status: 'ringing', at: t(2), providerCallId: 'PC1' });
        assert.deepEqual([r?.applied, r?.becameTerminal, r?.call.status, r?.call.providerCallId], [true, false, 'ringing', 'PC1']);
        r = await s.transition(org, id, { status: 'dialing', at: t(3) });
        assert.deepEqual([r?.applied, r?.call.status], [false, 'ringing'], 'never backwards');
        r = await s.transition(org, id, { status: 'ringing', at: t(3) });
        assert.equal(r?.applied, false, 'a duplicate changes nothing');
        r = await s.transition(org, id, { status: 'answered', at: t(10), providerCallId: 'PC2' });
        assert.deepEqual([r?.applied, r?.call.answeredAt, r?.call.providerCallId], [true, t(10), 'PC1']);
        r = await s.transition(org, id, { status: 'completed', at: t(72), cause: 'hangup' });
        assert.deepEqual([r?.applied, r?.becameTerminal, r?.call.endedAt, r?.call.durationSec], [true, true, t(72), 62]);
        r = await s.transition(org, id, { status: 'failed', at: t(80) });
        assert.deepEqual([r?.applied, r?.becameTerminal, r?.call.status], [false, false, 'completed'], 'first terminal wins');
        r = await s.transition(org, id, { status: 'completed', at: t(90) });
        assert.deepEqual([r?.applied, r?.becameTerminal], [false, false]);
        const call = await s.getCall(org, id);
        assert.deepEqual(call?.history, [
          { status: 'queued', at: t(0) },
          { status: 'ringing', at: t(2) },
          { status: 'answered', at: t(10) },
          { status: 'completed', at: t(72), cause: 'hangup' },
        ]);
        assert.equal(call?.updatedAt, t(72));
      });

      test('a reported duration wins; unanswered terminal calls have none; half seconds round up', async () => {
        const org = rid('org');
        const a = rid('c');
        const b = rid('c');
        const c = rid('c');
        await s.createCall(baseCall(org, a));
        await s.createCall(baseCall(org, b));
        await s.createCall(baseCall(org, c));
        await s.transition(org, a, { status: 'answered', at: t(1) });
        assert.equal((await s.transition(org, a, { status: 'completed', at: t(5), durationSec: 42 }))?.call.durationSec, 42);
        const busy = await s.transition(org, b, { status: 'busy', at: t(3), cause: '486' });
        assert.deepEqual([busy?.becameTerminal, busy?.call.durationSec, busy?.call.endedAt, busy?.call.answeredAt], [true, undefined, t(3), undefined]);
        await s.transition(org, c, { status: 'answered', at: '2024-01-01T00:00:00.000Z' });
        assert.equal((await s.transition(org, c, { status: 'completed', at: '2024-01-01T00:00:02.500Z' }))?.call.durationSec, 3);
      });

      test('shuffled and duplicated event orders give what applyTransition gives, with exactly one becameTerminal', async () => {
        const org = rid('org');
        const events: TransitionInput[] = [
          { status: 'dialing', at: t(1) },
          { status: 'ringing', at: t(2), providerCallId: 'PX' },
          { status: 'answered', at: t(5) },
          { status: 'completed', at: t(65), cause: 'normal' },
          { status: 'failed', at: t(3), cause: 'err' },
          { status: 'busy', at: t(4), durationSec: 0 },
          { status: 'no-answer', at: t(30) },
          { status: 'canceled', at: t(31) },
        ];
        const rnd = seeded(0xd1a1);
        for (let round = 0; round < 120; round++) {
          // a random multiset of events (duplicates included), in random order
          const n = 1 + Math.floor(rnd() * 12);
          const seq = Array.from({ length: n }, () => events[Math.floor(rnd() * events.length)]);
          const id = `c${round}`;
          const start = baseCall(org, id);
          await s.createCall(start);
          const model = structuredClone(start);
          let terminals = 0;
          let last: Call | undefined;
          for (const ev of seq) {
            const expectApplied = applyTransition(model, { ...ev });
            const r = await s.transition(org, id, ev);
            assert.ok(r);
            assert.equal(r.applied, expectApplied, `round ${round}: ${seq.map((e) => e.status).join(',')}`);
            if (r.becameTerminal) terminals++;
            last = r.call;
          }
          assert.deepEqual(last, model, `round ${round}`);
          assert.deepEqual(await s.getCall(org, id), model);
          const anyTerminal = seq.some((e) => ['completed', 'failed', 'busy', 'no-answer', 'canceled'].includes(e.status));
          assert.equal(terminals, anyTerminal ? 1 : 0, `round ${round}: exactly one becameTerminal`);
        }
      });

      test('concurrent events: exactly one becomes terminal, and the call ends in that status', async () => {
        const org = rid('org');
        const statuses: CallStatus[] = ['dialing', 'ringing', 'answered', 'completed', 'failed', 'busy', 'no-answer', 'canceled'];
        for (let round = 0; round < 20; round++) {
          const id = `cc${round}`;
          await s.createCall(baseCall(org, id));
          const seq = statuses.flatMap((st, i) => [{ status: st, at: t(i + 1) }, { status: st, at: t(i + 1) }]);
          const results = await Promise.all(seq.map((ev) => s.transition(org, id, ev)));
          const winners = results.filter((r) => r?.becameTerminal);
          assert.equal(winners.length, 1);
          const final = await s.getCall(org, id);
          assert.equal(final?.status, winners[0]?.call.status);
          const ranks = final!.history.map((h) => statuses.indexOf(h.status));
          assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), 'history only moves forward');
          assert.equal(new Set(final!.history.map((h) => h.status)).size, final!.history.length, 'no status twice in history');
        }
      });
    });

    describe('idempotency keys', () => {
      test('claim, then the stored record; complete stores the response; release frees it; other orgs are separate', async () => {
        const org = rid('org');
        const key = rid('idem');
        assert.equal(await s.claimIdempotency(org, key, 'fp1', 60), null);
        assert.deepEqual(await s.claimIdempotency(org, key, 'fp2', 60), { fingerprint: 'fp1' });
        assert.equal(await s.claimIdempotency(rid('org'), key, 'fp1', 60), null);
        const done = { fingerprint: 'fp1', response: { statusCode: 201, body: { id: 'c1' } } };
        await s.completeIdempotency(org, key, done, 60);
        assert.deepEqual(await s.claimIdempotency(org, key, 'fp1', 60), done);
        await s.releaseIdempotency(org, key);
        assert.equal(await s.claimIdempotency(org, key, 'fp3', 60), null);
      });

      test('a claim expires after its TTL', async () => {
        const org = rid('org');
        const key = rid('idem');
        assert.equal(await s.claimIdempotency(org, key, 'fp', 1), null);
        assert.ok(await waitFor(async () => (await s.claimIdempotency(org, key, 'fp', 60)) === null, 6000), 'the claim expired');
      });

      test('concurrent claims: exactly one wins', async () => {
        const org = rid('org');
        const key = rid('idem');
        const res = await Promise.all(Array.from({ length: 20 }, (_, i) => s.claimIdempotency(org, key, `fp${i}`, 60)));
        assert.equal(res.filter((r) => r === null).length, 1);
      });
    });

    describe('shared state', () => {
      test('get, set, del; a TTL expires', async () => {
        const k = rid('shared');
        assert.equal(await s.shared.get(k), null);
        await s.shared.set(k, 'v1');
        assert.equal(await s.shared.get(k), 'v1');
        await s.shared.del(k);
        assert.equal(await s.shared.get(k), null);
        await s.shared.set(k, 'v2', 200);
        assert.equal(await s.shared.get(k), 'v2');
        assert.ok(await waitFor(async () => (await s.shared.get(k)) === null, 5000));
      });

      test('locks: one holder; a wrong token does not release; the right one does; the TTL frees it', async () => {
        const k = rid('lock');
        const tok = await s.shared.acquireLock(k, 10_000);
        assert.ok(tok);
        assert.equal(await s.shared.acquireLock(k, 10_000), null);
        await s.shared.releaseLock(k, 'not-the-token');
        assert.equal(await s.shared.acquireLock(k, 10_000), null);
        await s.shared.releaseLock(k, tok);
        const tok2 = await s.shared.acquireLock(k, 200);
        assert.ok(tok2);
        assert.notEqual(tok2, tok);
        assert.ok(await waitFor(async () => (await s.shared.acquireLock(k, 10_000)) !== null, 5000), 'the TTL freed the lock');
      });
    });
  });
}

/** Polls until cond() holds or the deadline passes (no fixed sleeps). */
export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** A small deterministic PRNG (mulberry32) so a failing shuffle can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
