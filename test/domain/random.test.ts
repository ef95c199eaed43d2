import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/domain/random.js';
import { randomBase64url, randomHex } from '../../src/domain/random.js';

test('pooled random ids: right length and alphabet, never repeated across pool refills', () => {
  const seen = new Set<string>();
  // 4 KiB pool, 10 bytes each: 5,000 ids cross about a dozen refills
  for (let i = 0; i < 5000; i++) {
    const h = randomHex(10);
    assert.match(h, /^[0-9a-f]{20}$/);
    assert.ok(!seen.has(h), `repeated id ${h} at ${i}`);
    seen.add(h);
  }
  assert.match(randomBase64url(12), /^[A-Za-z0-9_-]{16}$/);
  const ids = new Set(Array.from({ length: 2000 }, () => newId('call')));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.match(id, /^call_[A-Za-z0-9]{16}$/);
});
