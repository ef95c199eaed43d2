// TrialStore (src/store/trials/port.ts): a trial's definition and progress as sets of call ids,
// so a repeated write never counts twice.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { TrialMeta } from '../../../src/store/trials/port.js';
import type { BackendFactory } from './backends.js';
import { rid, t } from './helpers.js';

function meta(orgId: string, providerIds: string[]): TrialMeta {
  return { id: rid('trl_'), orgId, createdAt: t(0), actor: 'key1', providerIds, to: '+15145550100', calls: 10, concurrency: 2, hangUpAfterMs: 5000 };
}

export function runTrialsContract(f: BackendFactory): void {
  describe('trials (store)', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('create and get: the definition, no completion, an empty part per provider; unknown is null', async () => {
      const m = meta(rid('org'), ['pa', 'pb']);
      await b.trials.create(m);
      assert.deepEqual(await b.trials.get(m.orgId, m.id), {
        meta: m,
        completedAt: null,
        parts: [
          { providerId: 'pa', placed: 0, finished: 0, done: false },
          { providerId: 'pb', placed: 0, finished: 0, done: false },
        ],
      });
      assert.equal(await b.trials.get(m.orgId, rid('trl_')), null);
      assert.equal(await b.trials.get(rid('org'), m.id), null, 'per org');
    });

    test('placed and ended calls are sets: a repeated write never counts twice; open calls are placed and not ended', async () => {
      const m = meta(rid('org'), ['pa', 'pb']);
      await b.trials.create(m);
      const tr = b.trials;
      for (const id of ['c1', 'c2', 'c3', 'c2']) await tr.addPlaced(m.orgId, m.id, 'pa', id);
      await tr.addPlaced(m.orgId, m.id, 'pb', 'c9');
      assert.equal(await tr.placedCount(m.orgId, m.id, 'pa'), 3);
      assert.equal(await tr.placedCount(m.orgId, m.id, 'pb'), 1);
      assert.equal(await tr.placedCount(m.orgId, m.id, 'pc'), 0);
      await tr.markDone(m.orgId, m.id, 'pa', 'c1');
      await tr.markDone(m.orgId, m.id, 'pa', 'c1');
      await tr.markDone(m.orgId, m.id, 'pa', 'c3');
      assert.deepEqual((await tr.openCalls(m.orgId, m.id, 'pa')).sort(), ['c2']);
      assert.deepEqual(await tr.openCalls(m.orgId, m.id, 'pb'), ['c9']);
      assert.deepEqual(await tr.openCalls(m.orgId, m.id, 'pc'), []);
      const st = await tr.get(m.orgId, m.id);
      assert.deepEqual(st?.parts, [
        { providerId: 'pa', placed: 3, finished: 2, done: false },
        { providerId: 'pb', placed: 1, finished: 0, done: false },
      ]);
    });

    test('finishPart: true exactly once, when the last part ends; an early stop keeps its reason', async () => {
      const m = meta(rid('org'), ['pa', 'pb', 'pc']);
      await b.trials.create(m);
      const tr = b.trials;
      assert.equal(await tr.finishPart(m.orgId, m.id, 'pa'), false);
      assert.equal(await tr.finishPart(m.orgId, m.id, 'pa'), false, 'the same part again');
      assert.equal(await tr.finishPart(m.orgId, m.id, 'pb', 'destination refused'), false);
      let st = await tr.get(m.orgId, m.id);
      assert.equal(st?.completedAt, null);
      assert.deepEqual(st?.parts.map((p) => [p.providerId, p.done, p.error]), [
        ['pa', true, undefined],
        ['pb', true, 'destination refused'],
        ['pc', false, undefined],
      ]);
      assert.equal('error' in st!.parts[0], false, 'no error field when none');
      const before = Date.now();
      assert.equal(await tr.finishPart(m.orgId, m.id, 'pc'), true);
      st = await tr.get(m.orgId, m.id);
      assert.ok(st?.completedAt && Date.parse(st.completedAt) >= before - 1000, `completedAt ${st?.completedAt}`);
      assert.equal(await tr.finishPart(m.orgId, m.id, 'pc'), false, 'only once');
      assert.equal(await tr.finishPart(m.orgId, m.id, 'pa'), false);
      assert.equal((await tr.get(m.orgId, m.id))?.completedAt, st?.completedAt, 'the first completion time stands');
    });

    test("an ended call's outcome (talk time, a reported price) is kept by call id: a repeat replaces it", async () => {
      const m = meta(rid('org'), ['pa', 'pb']);
      await b.trials.create(m);
      const tr = b.trials;
      for (const id of ['c1', 'c2', 'c3']) await tr.addPlaced(m.orgId, m.id, 'pa', id);
      await tr.markDone(m.orgId, m.id, 'pa', 'c1', { talkSec: 7 });
      await tr.markDone(m.orgId, m.id, 'pa', 'c1', { talkSec: 7 });
      await tr.markDone(m.orgId, m.id, 'pa', 'c2', { talkSec: 0 });
      await tr.markDone(m.orgId, m.id, 'pa', 'c2', { talkSec: 3, price: { amount: 0.0085, currency: 'USD' } });
      await tr.markDone(m.orgId, m.id, 'pa', 'c3');
      const st = await tr.get(m.orgId, m.id);
      const pa = st!.parts[0];
      assert.deepEqual([pa.placed, pa.finished], [3, 3]);
      const byTalk = [...(pa.outcomes ?? [])].sort((x, y) => x.talkSec - y.talkSec);
      assert.deepEqual(byTalk, [{ talkSec: 3, price: { amount: 0.0085, currency: 'USD' } }, { talkSec: 7 }], 'one per call; an ended call without an outcome has none');
      assert.equal('outcomes' in st!.parts[1], false, 'none recorded: no field');
    });

    test('parts ending at once: exactly one of them completes the trial', async () => {
      const providers = Array.from({ length: 8 }, (_, i) => `p${i}`);
      const m = meta(rid('org'), providers);
      await b.trials.create(m);
      const peers = await Promise.all([f.peer(b) ?? b, f.peer(b) ?? b]);
      const res = await Promise.all(providers.map((p, i) => [b, ...peers][i % 3].trials.finishPart(m.orgId, m.id, p)));
      assert.equal(res.filter(Boolean).length, 1);
    });
  });
}
