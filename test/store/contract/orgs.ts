// OrgStore (src/store/orgs/port.ts): orgs and the credentials that act for them.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiKeyRecord } from '../../../src/domain/types.js';
import type { Backend } from '../../../src/store/backend.js';
import type { BackendFactory } from './backends.js';
import { rid, sleep, t } from './helpers.js';

const key = (orgId: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({ keyId: rid('k'), orgId, secretHash: 'ab'.repeat(32), createdAt: t(0), ...over });

export function runOrgsContract(f: BackendFactory): void {
  describe('orgs and credentials', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('an org and its first key round-trip; unknown ones are null', async () => {
      const org = { id: rid('org'), name: 'Acme', createdAt: t(0) };
      const k = key(org.id, { scope: 'admin', name: 'first' });
      await b.orgs.createOrg(org, k);
      assert.deepEqual(await b.orgs.getOrg(org.id), org);
      assert.deepEqual(await b.orgs.getApiKey(k.keyId), k);
      assert.deepEqual(await b.orgs.listApiKeys(org.id), [k]);
      assert.equal(await b.orgs.getOrg(rid('org')), null);
      assert.equal(await b.orgs.getApiKey(rid('k')), null);
      assert.deepEqual(await b.orgs.listApiKeys(rid('org')), []);
    });

    test('keys: put, list (oldest first), delete; a deleted key is found nowhere; only its own org may delete it', async () => {
      const org = rid('org');
      const other = rid('org');
      await b.orgs.createOrg({ id: org, name: 'o', createdAt: t(0) }, key(org, { keyId: 'zz' + rid(), createdAt: t(0) }));
      const read = key(org, { scope: 'read', createdAt: t(2) });
      const agent = key(org, { scope: 'agent', userId: 'u1', createdAt: t(1), expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      await b.orgs.putApiKey(read);
      await b.orgs.putApiKey(agent);
      const list = await b.orgs.listApiKeys(org);
      assert.deepEqual(list.slice(1), [agent, read]);
      assert.equal(list[0].createdAt, t(0));
      assert.deepEqual(await b.orgs.getApiKey(agent.keyId), agent);
      assert.equal(await b.orgs.deleteApiKey(other, read.keyId), 'missing', "another org's key");
      assert.deepEqual(await b.orgs.getApiKey(read.keyId), read, 'still works');
      assert.equal(await b.orgs.deleteApiKey(org, read.keyId), 'deleted');
      assert.equal(await b.orgs.getApiKey(read.keyId), null);
      assert.deepEqual((await b.orgs.listApiKeys(org)).map((k) => k.keyId), [list[0].keyId, agent.keyId]);
      assert.equal(await b.orgs.deleteApiKey(org, read.keyId), 'missing', 'a second delete finds nothing');
      // a key put again replaces the record
      await b.orgs.putApiKey({ ...agent, name: 'renamed' });
      assert.equal((await b.orgs.getApiKey(agent.keyId))?.name, 'renamed');
      assert.equal((await b.orgs.listApiKeys(org)).find((k) => k.keyId === agent.keyId)?.name, 'renamed');
    });

    test('the last admin key is kept, atomically: of two concurrent revocations of the last two, one succeeds', async () => {
      const org = rid('org');
      const first = key(org, { createdAt: t(0) }); // no scope: the org's first key, an admin key
      await b.orgs.createOrg({ id: org, name: 'o', createdAt: t(0) }, first);
      const second = key(org, { scope: 'admin', createdAt: t(1) });
      const read = key(org, { scope: 'read', createdAt: t(2) });
      const agent = key(org, { scope: 'agent', userId: 'u1', createdAt: t(3), expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      for (const k of [second, read, agent]) await b.orgs.putApiKey(k);
      const both = await Promise.all([first, second].map((k) => b.orgs.deleteApiKey(org, k.keyId, { keepLastAdmin: true })));
      assert.deepEqual(both.sort(), ['deleted', 'last_admin'], 'one admin key stays');
      const left = (await b.orgs.listApiKeys(org)).map((k) => k.keyId);
      assert.equal(left.filter((id) => id === first.keyId || id === second.keyId).length, 1);
      // read keys and agent tokens never count as admin keys, and go whenever asked
      assert.equal(await b.orgs.deleteApiKey(org, read.keyId, { keepLastAdmin: true }), 'deleted');
      assert.equal(await b.orgs.deleteApiKey(org, agent.keyId, { keepLastAdmin: true }), 'deleted');
      const last = left.find((id) => id === first.keyId || id === second.keyId)!;
      assert.equal(await b.orgs.deleteApiKey(org, last, { keepLastAdmin: true }), 'last_admin');
      assert.ok(await b.orgs.getApiKey(last), 'it still works');
      // without the guard (deleting the org's data), it goes
      assert.equal(await b.orgs.deleteApiKey(org, last), 'deleted');
    });

    test('an agent token is not found once its expiresAt has passed', async () => {
      const org = rid('org');
      const soon = key(org, { scope: 'agent', userId: 'u1', expiresAt: new Date(Date.now() + 200).toISOString() });
      const past = key(org, { scope: 'agent', userId: 'u1', expiresAt: new Date(Date.now() - 1000).toISOString() });
      await b.orgs.putApiKey(soon);
      await b.orgs.putApiKey(past);
      assert.deepEqual(await b.orgs.getApiKey(soon.keyId), soon);
      assert.equal(await b.orgs.getApiKey(past.keyId), null, 'already expired when put');
      await sleep(300);
      assert.equal(await b.orgs.getApiKey(soon.keyId), null);
    });

    test('expired agent tokens leave the listing, and putting a credential forgets them', async () => {
      const org = rid('org');
      const admin = key(org, { scope: 'admin', createdAt: t(0) });
      const soon = key(org, { scope: 'agent', userId: 'u1', createdAt: t(1), expiresAt: new Date(Date.now() + 150).toISOString() });
      const later = key(org, { scope: 'agent', userId: 'u1', createdAt: t(2), expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      await b.orgs.createOrg({ id: org, name: 'o', createdAt: t(0) }, admin);
      await b.orgs.putApiKey(soon);
      await b.orgs.putApiKey(later);
      assert.deepEqual((await b.orgs.listApiKeys(org)).map((k) => k.keyId), [admin.keyId, soon.keyId, later.keyId]);
      await sleep(250);
      assert.deepEqual((await b.orgs.listApiKeys(org)).map((k) => k.keyId), [admin.keyId, later.keyId], 'an expired token is not listed');
      const next = key(org, { scope: 'agent', userId: 'u2', createdAt: t(3), expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      await b.orgs.putApiKey(next);
      assert.equal(await b.orgs.deleteApiKey(org, soon.keyId), 'missing', 'the expired token was forgotten by the put');
      assert.equal(await b.orgs.deleteApiKey(org, later.keyId), 'deleted');
      assert.deepEqual((await b.orgs.listApiKeys(org)).map((k) => k.keyId), [admin.keyId, next.keyId]);
    });

    test('listOrgIds walks every org once, a page at a time', async () => {
      const fresh = await f.create(); // an org list of its own
      const made = new Set<string>();
      for (let i = 0; i < 23; i++) {
        const id = rid('org');
        made.add(id);
        await fresh.orgs.createOrg({ id, name: `o${i}`, createdAt: t(i) }, key(id));
      }
      const seen: string[] = [];
      let cursor = '';
      for (let guard = 0; guard < 100; guard++) {
        const page = await fresh.orgs.listOrgIds(cursor, 4);
        seen.push(...page.ids);
        if (page.next === null) break;
        cursor = page.next;
      }
      assert.deepEqual([...new Set(seen)].sort(), [...made].sort());
      assert.equal(seen.length, made.size, 'none twice');
      const empty = await f.create();
      assert.deepEqual(await empty.orgs.listOrgIds('', 10), { ids: [], next: null });
    });
  });
}
