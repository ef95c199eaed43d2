// AuditLog (src/store/audit/port.ts): every admin change, newest first, paged with cursors.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { AuditEntry } from '../../../src/store/audit/port.js';
import type { BackendFactory } from './backends.js';
import { allPages, rejectsWith, rid } from './helpers.js';

export function runAuditContract(f: BackendFactory): void {
  describe('audit', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('entries come back newest first with an id and a time; absent fields stay absent', async () => {
      const org = rid('org');
      const started = Date.now();
      await b.audit.append(org, { actor: 'key1', action: 'provider.create', target: { type: 'provider', id: 'p1' }, after: { name: 'x' } });
      await b.audit.append(org, { actor: 'operator', action: 'user.put', target: { type: 'user', id: 'u1' }, before: { a: 1 }, after: { a: 2 }, detail: undefined });
      const page = await b.audit.list(org, { limit: 10 });
      assert.equal(page.nextCursor, null);
      assert.equal(page.items.length, 2);
      const strip = ({ id: _id, at: _at, ...rest }: AuditEntry) => rest;
      assert.deepEqual(page.items.map(strip), [
        { actor: 'operator', action: 'user.put', target: { type: 'user', id: 'u1' }, before: { a: 1 }, after: { a: 2 } },
        { actor: 'key1', action: 'provider.create', target: { type: 'provider', id: 'p1' }, after: { name: 'x' } },
      ]);
      for (const e of page.items) {
        assert.equal(typeof e.id, 'string');
        assert.ok(Date.parse(e.at) >= started - 1000 && Date.parse(e.at) <= Date.now() + 1000, `at ${e.at}`);
      }
      assert.notEqual(page.items[0].id, page.items[1].id);
      assert.deepEqual(await b.audit.list(rid('org'), { limit: 10 }), { items: [], nextCursor: null }, 'per org');
    });

    test('pages through every entry exactly once, whatever the page size', async () => {
      const org = rid('org');
      for (let i = 0; i < 13; i++) await b.audit.append(org, { actor: 'k', action: `a${i}`, target: { type: 't', id: String(i) } });
      const expected = Array.from({ length: 13 }, (_, i) => `a${12 - i}`);
      for (const limit of [1, 4, 13, 20]) {
        const all = await allPages((cursor) => b.audit.list(org, { limit, cursor }), limit);
        assert.deepEqual(all.map((e) => e.action), expected, `limit ${limit}`);
      }
      const one = await b.audit.list(org, { limit: 0 });
      assert.deepEqual([one.items.length, one.items[0].action, typeof one.nextCursor], [1, 'a12', 'string'], 'a limit below 1 is 1');
    });

    test('a cursor the log did not give out is refused with invalid_cursor', async () => {
      const org = rid('org');
      await b.audit.append(org, { actor: 'k', action: 'a', target: { type: 't', id: '1' } });
      for (const cursor of ['nope', '12', '1-2-3', 'abc-1', '-']) await rejectsWith(b.audit.list(org, { limit: 5, cursor }), 'invalid_cursor');
    });
  });
}
