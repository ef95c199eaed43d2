// CallStore.updateCall / liveCalls / unresolved (issue 16): a call's fields beside its status,
// changed atomically with their change counters, the wrap-up window, the unresolved index and the
// event; the live calls a new agent screen is shown; missed inbound calls.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UPDATE_GROUPS } from '../../../src/domain/call-updates.js';
import { toPublicCall, type Call } from '../../../src/domain/types.js';
import type { Backend } from '../../../src/store/backend.js';
import type { CallStore } from '../../../src/store/calls/port.js';
import { RETENTION_SEC, type BackendFactory } from './backends.js';
import type { DeliveredEvent } from '../../../src/store/events/port.js';
import { baseCall, clickCreated, listen, orgWithUser, rid, sleep, t, userInput, waitFor } from './helpers.js';

const count = (events: DeliveredEvent[], type: string): number => events.filter((e) => e.type === type).length;

const groups: Record<string, string> = { ...UPDATE_GROUPS };

export function runCallUpdatesContract(f: BackendFactory): void {
  describe('call updates', () => {
    let b: Backend;
    let c: CallStore;
    before(async () => {
      b = await f.create();
      c = b.calls;
    });

    test('fields change atomically with their group counters; the same values again change nothing', async () => {
      const { org } = await orgWithUser(b);
      const call = await clickCreated(b, org, 'u1');
      const r1 = await c.updateCall(org, call.id, { set: { notes: 'n1', disposition: 'won' }, groups });
      assert.equal(r1.kind, 'ok');
      if (r1.kind !== 'ok') return;
      assert.equal(r1.changed, true);
      assert.deepEqual(r1.bumped, [{ group: 'notes', n: 1 }], 'notes and disposition are one change of one group');
      assert.equal(r1.call.notes, 'n1');
      assert.deepEqual(r1.call.changes, { notes: 1 });
      assert.deepEqual(await c.getCall(org, call.id), r1.call);
      assert.equal('changes' in toPublicCall(r1.call), false, 'the counters are never public');

      const same = await c.updateCall(org, call.id, { set: { notes: 'n1', disposition: 'won' }, groups });
      assert.deepEqual(same.kind === 'ok' && [same.changed, same.bumped], [false, []]);

      const r2 = await c.updateCall(org, call.id, {
        set: { notes: 'n2', crmRecord: { module: 'Leads', id: 'L1' }, recording: { status: 'pending' }, recordingRef: 'RE1' },
        groups,
      });
      assert.deepEqual(r2.kind === 'ok' && r2.bumped, [
        { group: 'notes', n: 2 },
        { group: 'record', n: 1 },
        { group: 'recording', n: 1 },
      ]);
      const got = (await c.getCall(org, call.id))!;
      assert.deepEqual([got.notes, got.disposition, got.crmRecord, got.recording, got.recordingRef], ['n2', 'won', { module: 'Leads', id: 'L1' }, { status: 'pending' }, 'RE1']);
      // null removes
      const r3 = await c.updateCall(org, call.id, { set: { disposition: null }, groups });
      assert.deepEqual(r3.kind === 'ok' && r3.bumped, [{ group: 'notes', n: 3 }]);
      assert.equal((await c.getCall(org, call.id))!.disposition, undefined);
      // a field without a group changes without counting
      const r4 = await c.updateCall(org, call.id, { set: { match: { module: 'Contacts', id: 'C1', name: 'Ann' } }, groups });
      assert.deepEqual(r4.kind === 'ok' && [r4.changed, r4.bumped], [true, []]);
      assert.deepEqual((await c.getCall(org, call.id))!.changes, { notes: 3, record: 1, recording: 1 });
      assert.deepEqual(await c.updateCall(org, rid('c'), { set: { notes: 'x' } }), { kind: 'none' });
      assert.deepEqual(await c.updateCall(rid('org'), call.id, { set: { notes: 'x' } }), { kind: 'none' });
    });

    test('concurrent changes of one group each get their own count', async () => {
      const { org } = await orgWithUser(b);
      const call = await clickCreated(b, org, 'u1');
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => c.updateCall(org, call.id, { set: { notes: `n${i}` }, groups })));
      const ns = rs.flatMap((r) => (r.kind === 'ok' ? r.bumped.map((x) => x.n) : [])).sort((a, z) => a - z);
      assert.deepEqual(ns, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    test('the wrap-up window: open while live and until it closes after the end; then closed, nothing written', async () => {
      const { org } = await orgWithUser(b);
      const call = await clickCreated(b, org, 'u1');
      assert.equal((await c.updateCall(org, call.id, { set: { notes: 'live' }, wrapupMs: 1 })).kind, 'ok', 'a live call is always open');
      const justNow = new Date().toISOString();
      await c.transition(org, call.id, { status: 'completed', at: justNow });
      assert.equal((await c.updateCall(org, call.id, { set: { notes: 'in time' }, wrapupMs: 60_000 })).kind, 'ok');
      // created and ended long ago (a transition cannot end a call before it was created)
      const old = baseCall(org, rid('call_'));
      await c.createCall(old);
      await c.transition(org, old.id, { status: 'completed', at: t(60) });
      const closed = await c.updateCall(org, old.id, { set: { notes: 'late' }, groups, wrapupMs: 60_000 });
      assert.equal(closed.kind, 'closed');
      assert.equal((await c.getCall(org, old.id))!.notes, undefined);
      // without a window (a provider's recording arriving late) it still applies
      assert.equal((await c.updateCall(org, old.id, { set: { recording: { status: 'available' } }, groups })).kind, 'ok');
    });

    test('the event goes out only when something changed, with the call as stored', async () => {
      const { org } = await orgWithUser(b);
      const call = await clickCreated(b, org, 'u1');
      const bus = await listen(b, org);
      try {
        await c.updateCall(org, call.id, { set: { recording: { status: 'pending' } }, groups, event: 'call.recording' });
        const { ev, body } = await bus.next('call.recording', call.id);
        assert.equal(ev.userId, 'u1');
        assert.deepEqual(body.call, toPublicCall((await c.getCall(org, call.id))!));
        await c.updateCall(org, call.id, { set: { recording: { status: 'pending' } }, groups, event: 'call.recording' });
        await c.updateCall(org, call.id, { set: { recording: { status: 'available', durationSec: 3 } }, groups, event: 'call.recording' });
        assert.ok(await waitFor(() => count(bus.events, 'call.recording') === 2, 3000), 'the second change published');
        await sleep(50);
        const bodies = bus.events.filter((e) => e.type === 'call.recording').map((e) => JSON.parse(e.json).call.recording);
        assert.deepEqual(bodies, [{ status: 'pending' }, { status: 'available', durationSec: 3 }], 'the unchanged update published nothing');
      } finally {
        bus.stop();
      }
    });

    test('the update outbox: a change of an ended call waits there until settled (a later change of its group replaces it); none for a live or trial call; purge takes it', async () => {
      const { org } = await orgWithUser(b);
      const due = async (beforeMs = Date.now() + 1000, limit = 100) =>
        (await c.updatesDue(org, beforeMs, limit)).map((x) => `${x.callId}:${x.update.group}:${x.update.n}`).sort();
      const call = await clickCreated(b, org, 'u1');
      await c.updateCall(org, call.id, { set: { notes: 'live' }, groups });
      assert.deepEqual(await due(), [], 'a live call\'s change rides on its log');
      await c.transition(org, call.id, { status: 'completed', at: t(1) });
      const r = await c.updateCall(org, call.id, { set: { notes: 'after' }, groups });
      assert.deepEqual(r.kind === 'ok' && r.bumped, [{ group: 'notes', n: 2 }]);
      assert.deepEqual(await c.updatesDue(org, Date.now() + 1000, 100), [{ callId: call.id, update: { group: 'notes', n: 2 } }]);
      assert.deepEqual(await due(Date.now() - 60_000), [], 'not before its time');
      await c.updateCall(org, call.id, { set: { notes: 'later', recording: { status: 'pending' } }, groups });
      assert.deepEqual(await due(), [`${call.id}:notes:3`, `${call.id}:recording:1`], 'notes 3 supersedes notes 2');
      assert.equal((await due(Date.now() + 1000, 1)).length, 1, 'limit');
      await c.updateCall(org, call.id, { set: { notes: 'later' }, groups });
      assert.equal((await due()).length, 2, 'the same values again: no update');
      await c.settleUpdate(org, call.id, { group: 'notes', n: 2 });
      assert.equal((await due()).length, 2, 'settling a superseded change leaves the newer one');
      await c.settleUpdate(org, call.id, { group: 'notes', n: 3 });
      assert.deepEqual(await due(), [`${call.id}:recording:1`]);
      assert.deepEqual(await c.updatesDue(rid('org'), Date.now() + 1000, 100), [], 'per org');

      const trial = baseCall(org, rid('call_'), { trial: true, trialId: 'tr1' });
      await c.createCall(trial);
      await c.transition(org, trial.id, { status: 'completed', at: t(2) });
      await c.updateCall(org, trial.id, { set: { notes: 'x' }, groups });
      assert.deepEqual(await due(), [`${call.id}:recording:1`], 'a trial call is never logged: no update');

      await c.setCrmLog(org, call.id, { status: 'logged', attempts: 1 });
      // the call and the ended trial call (purged without a log)
      assert.equal(await c.purge(org, Date.now() + RETENTION_SEC * 1000 + 60_000, 100), 2);
      assert.deepEqual(await due(), [], 'a purged call\'s pending updates go with it');
    });

    test('unresolved: a call with candidates and no crmRecord is listed until it gets one', async () => {
      const { org } = await orgWithUser(b);
      const a = await clickCreated(b, org, 'u1');
      const z = await clickCreated(b, org, 'u1');
      const cands = [
        { module: 'Contacts', id: 'C1', name: 'Ann' },
        { module: 'Contacts', id: 'C2', name: 'Bob' },
      ];
      await c.updateCall(org, a.id, { set: { match: null, candidates: cands }, groups });
      await c.updateCall(org, z.id, { set: { match: { module: 'Contacts', id: 'C9' } }, groups });
      assert.deepEqual((await c.unresolved(org, 10)).map((x) => x.id), [a.id]);
      assert.deepEqual((await c.unresolved(org, 10))[0].candidates, cands);
      await c.updateCall(org, a.id, { set: { crmRecord: { module: 'Contacts', id: 'C2' } }, groups });
      assert.deepEqual(await c.unresolved(org, 10), []);
    });

    test('liveCalls: the org\'s live calls, or one user\'s; ended ones are not', async () => {
      const { org } = await orgWithUser(b, { users: ['u1', 'u2'] });
      const a = await clickCreated(b, org, 'u1');
      const z = await clickCreated(b, org, 'u2');
      const gone = await clickCreated(b, org, 'u1');
      await c.transition(org, gone.id, { status: 'failed', at: t(1) });
      assert.deepEqual((await c.liveCalls(org, { limit: 100 })).map((x) => x.id).sort(), [a.id, z.id].sort());
      assert.deepEqual(await c.liveCalls(org, { userId: 'u2', limit: 100 }), [await c.getCall(org, z.id)]);
      assert.equal((await c.liveCalls(org, { limit: 1 })).length, 1);
      assert.deepEqual(await c.liveCalls(rid('org'), { limit: 10 }), []);
    });

    test('an inbound call that ends never answered is missed (call.missed after call.status); an answered one is not', async () => {
      const { org, p } = await orgWithUser(b);
      await b.directory.putUser(org, 'u1', userInput('CA', { numbers: ['+15145550111'] }), t(2));
      const bus = await listen(b, org);
      try {
        const inbound = async () => {
          const call: Call = { ...baseCall(org, rid('call_'), { userId: '', providerId: p[0], direction: 'inbound', status: 'ringing', from: '+15550001111', to: '+15145550111' }), history: [{ status: 'ringing', at: t(3) }] };
          return (await c.inbound({ call, did: '+15145550111' }))!.call;
        };
        const missed = await inbound();
        await c.transition(org, missed.id, { status: 'no-answer', at: t(4) });
        assert.equal((await c.getCall(org, missed.id))!.missed, true);
        const { body } = await bus.next('call.missed', missed.id);
        assert.equal(body.call.missed, true);
        const answered = await inbound();
        await c.transition(org, answered.id, { status: 'answered', at: t(4) });
        await c.transition(org, answered.id, { status: 'completed', at: t(5) });
        assert.equal((await c.getCall(org, answered.id))!.missed, undefined);
        const out = await clickCreated(b, org, 'u1');
        await c.transition(org, out.id, { status: 'no-answer', at: t(5) });
        assert.equal((await c.getCall(org, out.id))!.missed, undefined, 'an outbound call is never missed');
        await sleep(50);
        assert.equal(count(bus.events, 'call.missed'), 1);
      } finally {
        bus.stop();
      }
    });
  });
}
