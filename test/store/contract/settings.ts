// SettingsStore (src/store/settings/port.ts): small per-org JSON settings. That every write moves
// the org's config version is checked with the other version rules in ./directory.ts.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { BackendFactory } from './backends.js';
import { rid } from './helpers.js';

export function runSettingsContract(f: BackendFactory): void {
  describe('settings', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('get, put (replaces whole), del; unknown names are null; orgs are apart', async () => {
      const s = b.settings;
      const org = rid('org');
      assert.equal(await s.get(org, 'crm'), null);
      await s.put(org, 'crm', { kind: 'webhook', url: 'http://x', secret: 's' });
      assert.deepEqual(await s.get(org, 'crm'), { kind: 'webhook', url: 'http://x', secret: 's' });
      await s.put(org, 'crm', { kind: 'zoho', mode: 'rest' });
      assert.deepEqual(await s.get(org, 'crm'), { kind: 'zoho', mode: 'rest' }, 'replaced, not merged');
      assert.equal(await s.get(rid('org'), 'crm'), null);
      assert.equal(await s.get(org, 'dialPolicy'), null);
      await s.del(org, 'crm');
      assert.equal(await s.get(org, 'crm'), null);
      await s.del(org, 'crm'); // deleting what is not there is fine
      await s.del(rid('org'), 'nothing');
      assert.equal(await s.get(org, 'crm'), null);
    });

    test('any JSON value round-trips, and what comes back is a copy', async () => {
      const s = b.settings;
      const org = rid('org');
      const values: [string, unknown][] = [
        ['provider:p1:limits', { callsPerSecond: 2.5, burst: 0, tags: ['a', 'b'], nested: { deep: [1, { x: null }] } }],
        ['flag', true],
        ['count', 42],
        ['name', 'plain string with "quotes" and ünïcödé'],
        ['list', [3, 2, 1]],
      ];
      for (const [name, v] of values) await s.put(org, name, v);
      for (const [name, v] of values) assert.deepEqual(await s.get(org, name), v, name);
      const got = await s.get<{ tags: string[] }>(org, 'provider:p1:limits');
      got!.tags.push('mutated');
      assert.deepEqual((await s.get<{ tags: string[] }>(org, 'provider:p1:limits'))!.tags, ['a', 'b']);
      assert.deepEqual((await b.directory.orgConfig(org)).settings, Object.fromEntries(values), 'orgConfig carries them all');
    });
  });
}
