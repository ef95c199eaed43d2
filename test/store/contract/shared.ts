// SharedState (src/store/state/port.ts): values with a TTL, and locks only their holder may renew
// or release. On Redis a second instance sees the same values and locks.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { BackendFactory } from './backends.js';
import { rid, sleep, waitFor } from './helpers.js';

export function runSharedContract(f: BackendFactory): void {
  describe('shared state', () => {
    let b: Backend;
    let peer: Backend;
    before(async () => {
      b = await f.create();
      peer = (await f.peer(b)) ?? b;
    });

    test('get, set, del; a TTL expires; another instance sees the same', async () => {
      const s = b.shared;
      const k = rid('shared');
      assert.equal(await s.get(k), null);
      await s.set(k, 'v1');
      assert.equal(await s.get(k), 'v1');
      assert.equal(await peer.shared.get(k), 'v1');
      await s.set(k, 'v1b');
      assert.equal(await s.get(k), 'v1b', 'set replaces');
      await peer.shared.del(k);
      assert.equal(await s.get(k), null);
      await s.set(k, 'v2', 150);
      assert.equal(await s.get(k), 'v2');
      assert.ok(await waitFor(async () => (await s.get(k)) === null, 3000), 'the TTL expired');
      await s.set(k, 'v3', 150);
      await s.set(k, 'v4'); // a set without a TTL keeps the value for good
      await sleep(250);
      assert.equal(await s.get(k), 'v4');
      await s.del(k);
      await s.del(k);
    });

    test('locks: one holder across instances; a wrong token neither renews nor releases; the holder does both; the TTL frees it', async () => {
      const s = b.shared;
      const k = rid('lock');
      const tok = await s.acquireLock(k, 10_000);
      assert.ok(tok);
      assert.equal(await s.acquireLock(k, 10_000), null);
      assert.equal(await peer.shared.acquireLock(k, 10_000), null, 'another instance is refused too');
      await peer.shared.releaseLock(k, 'not-the-token');
      assert.equal(await s.renewLock(k, 'not-the-token', 10_000), false);
      assert.equal(await s.acquireLock(k, 10_000), null, 'still held');
      assert.equal(await peer.shared.renewLock(k, tok, 10_000), true, 'the holder renews (from any instance)');
      await s.releaseLock(k, tok);
      assert.equal(await s.renewLock(k, tok, 10_000), false, 'a released lock cannot be renewed');
      const tok2 = await peer.shared.acquireLock(k, 200);
      assert.ok(tok2);
      assert.notEqual(tok2, tok);
      assert.ok(await waitFor(async () => (await s.acquireLock(k, 10_000)) !== null, 3000), 'the TTL freed the lock');
      assert.equal(await peer.shared.renewLock(k, tok2, 10_000), false, 'a lock lost to its TTL is not renewed');
    });

    test('renewing extends the lease', async () => {
      const s = b.shared;
      const k = rid('lock');
      const tok = (await s.acquireLock(k, 200))!;
      await sleep(100);
      assert.equal(await s.renewLock(k, tok, 2000), true);
      await sleep(250);
      assert.equal(await s.acquireLock(k, 1000), null, 'still held past the first lease');
      await s.releaseLock(k, tok);
      assert.ok(await s.acquireLock(k, 1000));
    });

    test('concurrent acquires: exactly one wins', async () => {
      const k = rid('lock');
      const res = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? peer : b).shared.acquireLock(k, 10_000)));
      assert.equal(res.filter((r) => r !== null).length, 1);
    });
  });
}
