// CallStore (src/store/calls/port.ts): the click-to-call in one step (snapshots, idempotency,
// provider health, limits, the call and its event), inbound calls, the state machine and what a
// terminal status sets off, listings and links, the call-log hand-off and retention.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTransition } from '../../../src/domain/state-machine.js';
import { LIVE_CAP_LIMIT } from '../../../src/domain/limits.js';
import { toPublicCall, type Call, type CallStatus } from '../../../src/domain/types.js';
import type { Backend } from '../../../src/store/backend.js';
import type { CallStore, ClickResult, TransitionInput } from '../../../src/store/calls/port.js';
import { TRIAL_LEASE_MS, type BreakerPolicy } from '../../../src/store/health/port.js';
import { RETENTION_SEC, type BackendFactory } from './backends.js';
import {
  allPages,
  baseCall,
  bucket,
  click,
  clickCreated,
  clickRequest,
  type ClickOptions,
  listen,
  liveCap,
  orgWithUser,
  providerInput,
  rejectsWith,
  rid,
  seeded,
  sleep,
  t,
  userInput,
} from './helpers.js';

type Created = Extract<ClickResult, { kind: 'created' }>;
const TERMINAL: CallStatus[] = ['completed', 'failed', 'busy', 'no-answer', 'canceled'];

/** opens after one failure, for `openMs` */
const quick = (openMs: number, closeAfter = 1): BreakerPolicy => ({ threshold: 1, openMs, closeAfter });

export function runCallsContract(f: BackendFactory): void {
  describe('calls', () => {
    let b: Backend;
    let c: CallStore;
    /** other instances over the same data (Redis), or the same backend (memory) */
    let others: Backend[];
    before(async () => {
      b = await f.create();
      c = b.calls;
      others = await Promise.all([f.peer(b) ?? b, f.peer(b) ?? b]);
    });

    /** what must hold after a refused click: nothing of it was written */
    async function nothingWritten(org: string, callId: string, idemKey?: string) {
      assert.equal(await c.getCall(org, callId), null, 'no call');
      assert.equal((await c.listCalls(org, { limit: 1000 })).items.some((x) => x.id === callId), false, 'not listed');
      assert.deepEqual(
        (await c.staleLiveCalls(org, Date.now() + 60_000, 1000)).filter((id) => id === callId),
        [],
        'not live',
      );
      if (idemKey) assert.equal(await c.idempotency(org, idemKey), null, 'no idempotency record');
    }

    describe('click-to-call', () => {
      test('created: the call as asked, on the assigned provider, listed, live, announced (call.created = getCall)', async () => {
        const { org, p } = await orgWithUser(b);
        const bus = await listen(b, org);
        try {
          const req = await clickRequest(b, org, 'u1', { to: '+15145550177' });
          req.call.crmRecord = { module: 'Leads', id: 'L1' };
          const r = await c.click(req);
          assert.equal(r.kind, 'created');
          const { call, picked, trial, breakerFailures } = r as Created;
          assert.deepEqual(call, { ...req.call, providerId: p[0], providerKind: 'sim' });
          assert.deepEqual([picked, trial, breakerFailures], [0, false, 0]);
          assert.deepEqual(await c.getCall(org, call.id), call);
          assert.deepEqual((await c.listCalls(org, { limit: 10 })).items, [call]);
          assert.deepEqual((await c.listCalls(org, { limit: 10, userId: 'u1' })).items, [call]);
          assert.deepEqual(await c.staleLiveCalls(org, Date.now() + 1, 10), [call.id], 'a live call');
          const { ev, body } = await bus.next('call.created', call.id);
          assert.equal(ev.userId, 'u1');
          assert.equal(body.type, 'call.created');
          assert.deepEqual(body.call, toPublicCall((await c.getCall(org, call.id))!), 'the event carries the call as stored');
        } finally {
          bus.stop();
        }
      });

      test('the first healthy provider of the chain wins; failedOverFrom names the assigned one', async () => {
        const { org, p } = await orgWithUser(b, { providers: 3 });
        await b.health.failure(org, p[0], quick(60_000));
        await b.health.failure(org, p[0], quick(60_000));
        const chain = [
          { id: p[0], kind: 'sim' },
          { id: p[1], kind: 'twilio' },
          { id: p[2], kind: 'sip' },
        ];
        const req = await clickRequest(b, org, 'u1', { chain });
        req.call.failedOverFrom = 'not-the-request-s-to-say';
        req.call.providerId = 'nor-this';
        const r = (await c.click(req)) as Created;
        assert.equal(r.kind, 'created');
        assert.deepEqual([r.call.providerId, r.call.providerKind, r.call.failedOverFrom, r.picked, r.trial], [p[1], 'twilio', p[0], 1, false]);
        assert.deepEqual(await c.getCall(org, r.call.id), r.call);
        // the assigned provider healthy again: no failover, no failedOverFrom
        await b.health.reset(org, p[0]);
        const again = (await click(b, org, 'u1', { chain })) as Created;
        assert.deepEqual([again.call.providerId, again.call.failedOverFrom, again.picked], [p[0], undefined, 0]);
        assert.equal('failedOverFrom' in (await c.getCall(org, again.call.id))!, false);
        // a chain that does not start with the assigned provider (a routing policy) still names it
        const other = (await click(b, org, 'u1', { chain: [{ id: p[2], kind: 'sip' }] })) as Created;
        assert.deepEqual([other.call.providerId, other.call.failedOverFrom], [p[2], p[0]]);
      });

      test('the failure count of the picked provider comes back (breakerFailures)', async () => {
        const { org, p } = await orgWithUser(b);
        await b.health.failure(org, p[0], { threshold: 5, openMs: 1000, closeAfter: 1 });
        await b.health.failure(org, p[0], { threshold: 5, openMs: 1000, closeAfter: 1 });
        const r = (await click(b, org, 'u1')) as Created;
        assert.deepEqual([r.kind, r.breakerFailures, r.trial], ['created', 2, false]);
      });

      test('stale when the org version, the user version or the assignment moved: the current ones come back, nothing is written', async () => {
        const { org, p } = await orgWithUser(b, { providers: 2 });
        const cfg = await b.directory.orgConfig(org);
        const vu = (await b.directory.getUserVersioned(org, 'u1'))!;
        const expectStale = async (what: string, expect: ClickOptions['expect'], user = vu) => {
          const req = await clickRequest(b, org, 'u1', { expect, idempotency: { key: rid('k'), fingerprint: 'fp', ttlSec: 60 } });
          const r = await c.click(req);
          assert.equal(r.kind, 'stale', what);
          assert.deepEqual(r, { kind: 'stale', orgVersion: (await b.directory.orgConfig(org)).version, user }, what);
          await nothingWritten(org, req.call.id, req.idempotency!.key);
        };
        await expectStale('an old org version', { orgVersion: cfg.version - 1 });
        await expectStale('a newer org version', { orgVersion: cfg.version + 1 });
        await expectStale('an old user version', { userVersion: vu.version - 1 });
        await expectStale('another assignment', { providerId: p[1] });
        await expectStale('no assignment', { providerId: null });
        // the real thing: a change made after the snapshot was read
        const req = await clickRequest(b, org, 'u1');
        await b.directory.putUser(org, 'u1', userInput('CA', { name: 'renamed' }), t(5));
        const r = await c.click(req);
        const now = (await b.directory.getUserVersioned(org, 'u1'))!;
        assert.deepEqual(r, { kind: 'stale', orgVersion: cfg.version, user: now });
        assert.equal(now.user.name, 'renamed');
        await b.settings.put(org, 'dialPolicy', { x: 1 });
        const r2 = await c.click(await clickRequest(b, org, 'u1', { expect: { orgVersion: cfg.version } }));
        assert.equal(r2.kind, 'stale');
        assert.ok((r2 as { orgVersion: number }).orgVersion > cfg.version);
        await b.directory.moveUser(org, 'u1', p[1]);
        const r3 = await c.click(await clickRequest(b, org, 'u1', { expect: { providerId: p[0] } }));
        assert.equal(r3.kind === 'stale' && r3.user?.user.providerId, p[1], 'the user as they now are');
        // a user that is gone: stale with no user, even on a snapshot that matched it to the last
        await b.directory.unassignUser(org, p[1], 'u1');
        const last = (await b.directory.getUserVersioned(org, 'u1'))!;
        const onLast = await clickRequest(b, org, 'u1', { chain: [{ id: p[0], kind: 'sim' }] });
        assert.deepEqual([onLast.expect.userVersion, onLast.expect.providerId], [last.version, null]);
        await b.directory.deleteUser(org, 'u1');
        const r4 = await c.click({ ...onLast, expect: { ...onLast.expect, orgVersion: (await b.directory.orgConfig(org)).version } });
        assert.deepEqual(r4, { kind: 'stale', orgVersion: (await b.directory.orgConfig(org)).version, user: null });
        // created again under the same id: a snapshot of the old one is still stale
        await b.directory.putUser(org, 'u1', userInput('CA'), t(9));
        await b.directory.unassignUser(org, p[0], 'u1');
        const r5 = await c.click({ ...onLast, expect: { ...onLast.expect, orgVersion: (await b.directory.orgConfig(org)).version } });
        assert.equal(r5.kind, 'stale', 'the new user is not the old one');
        await nothingWritten(org, onLast.call.id);
      });

      test('an Idempotency-Key replays its record and its call; its TTL passed, the key is new again', async () => {
        const { org } = await orgWithUser(b);
        const key = rid('idem');
        const first = await clickCreated(b, org, 'u1', { idempotency: { key, fingerprint: 'fp-1', ttlSec: 0.3 } });
        const replayReq = await clickRequest(b, org, 'u1', { idempotency: { key, fingerprint: 'fp-2', ttlSec: 0.3 } });
        const replay = await c.click(replayReq);
        assert.deepEqual(replay, { kind: 'replay', record: { fingerprint: 'fp-1', callId: first.id }, call: first });
        await nothingWritten(org, replayReq.call.id);
        assert.deepEqual(await c.idempotency(org, key), { record: { fingerprint: 'fp-1', callId: first.id }, call: first });
        assert.equal(await c.idempotency(rid('org'), key), null, 'keys are per org');
        assert.equal(await c.idempotency(org, rid('other')), null);
        await sleep(350);
        assert.equal(await c.idempotency(org, key), null, 'an expired key reads as absent');
        const fresh = await clickCreated(b, org, 'u1', { idempotency: { key, fingerprint: 'fp-3', ttlSec: 60 } });
        assert.notEqual(fresh.id, first.id);
        assert.deepEqual((await c.idempotency(org, key))?.record, { fingerprint: 'fp-3', callId: fresh.id });
      });

      test('limited by a bucket: nothing written — no call, no token of the other buckets, no live slot, no idempotency record', async () => {
        const { org } = await orgWithUser(b);
        const orgBucket = bucket('perOrgPerMinute', 'org', 5);
        const userBucket = bucket('perUserPerMinute', 'u:u1', 1);
        const admission = (callId: string) => ({ buckets: [orgBucket, userBucket], cap: { userId: 'u1', max: 2, callId } });
        await clickCreated(b, org, 'u1', { admission });
        const key = rid('idem');
        const req = await clickRequest(b, org, 'u1', { admission, idempotency: { key, fingerprint: 'fp', ttlSec: 60 } });
        const r = await c.click(req);
        assert.equal(r.kind, 'limited');
        assert.equal(r.kind === 'limited' && r.limit, 'perUserPerMinute');
        assert.ok(r.kind === 'limited' && r.retryAfterMs > 60_000, `the real wait of an empty bucket (${JSON.stringify(r)})`);
        await nothingWritten(org, req.call.id, key);
        // the org bucket still has 4 of its 5 tokens: the refused click took none
        for (let i = 0; i < 4; i++) assert.deepEqual(await b.limits.take(org, [orgBucket]), { ok: true }, `org token ${i + 2}`);
        assert.equal((await b.limits.take(org, [orgBucket])).ok, false, 'and no more');
        // the live cap (2) still has one slot: the refused click held none
        const slot = await click(b, org, 'u1', { admission: liveCap('u1', 2) });
        assert.equal(slot.kind, 'created');
        assert.equal((await click(b, org, 'u1', { admission: liveCap('u1', 2) })).kind, 'limited');
        // and the key was never claimed: the same key creates once the limits allow it
        assert.equal((await click(b, org, 'u1', { idempotency: { key, fingerprint: 'fp', ttlSec: 60 } })).kind, 'created');
      });

      test('limited by the live cap: nothing written; the terminal status of the live call frees the slot', async () => {
        const { org } = await orgWithUser(b, { users: ['u1', 'u2'] });
        const orgBucket = bucket('perOrgPerMinute', 'org', 10);
        const withCap = (user: string) => (callId: string) => ({ buckets: [orgBucket], cap: { userId: user, max: 1, callId } });
        const a = await clickCreated(b, org, 'u1', { admission: withCap('u1') });
        const req = await clickRequest(b, org, 'u1', { admission: withCap('u1') });
        const refused = await c.click(req);
        assert.deepEqual(refused, { kind: 'limited', limit: LIVE_CAP_LIMIT, retryAfterMs: 1000 });
        await nothingWritten(org, req.call.id);
        // another user has their own slot
        await clickCreated(b, org, 'u2', { admission: withCap('u2') });
        // a progress event keeps the slot; the terminal one frees it
        await c.transition(org, a.id, { status: 'ringing', at: t(1) });
        assert.equal((await click(b, org, 'u1', { admission: withCap('u1') })).kind, 'limited');
        const end = await c.transition(org, a.id, { status: 'completed', at: t(2) });
        assert.equal(end?.becameTerminal, true);
        await clickCreated(b, org, 'u1', { admission: withCap('u1') });
        // the refusal took no org token: 10 - 3 admitted = 7 left
        for (let i = 0; i < 7; i++) assert.equal((await b.limits.take(org, [orgBucket])).ok, true, `org token ${i}`);
        assert.equal((await b.limits.take(org, [orgBucket])).ok, false);
      });

      test('unavailable when every provider of the chain is open, with the real remaining wait of the first; nothing written', async () => {
        const { org, p } = await orgWithUser(b, { providers: 2 });
        const opened = Date.now();
        await b.health.failure(org, p[0], quick(4500));
        await b.health.failure(org, p[1], quick(60_000));
        const req = await clickRequest(b, org, 'u1', { chain: [{ id: p[0], kind: 'sim' }, { id: p[1], kind: 'sim' }] });
        const r = await c.click(req);
        const waited = Date.now() - opened;
        assert.equal(r.kind, 'unavailable');
        assert.equal(r.kind === 'unavailable' && r.providerId, p[0]);
        const wait = r.kind === 'unavailable' ? r.retryAfterMs : -1;
        assert.ok(wait <= 4500 && wait >= 4500 - waited - 5, `the real remaining wait in ms (${wait}, ${waited} ms after it opened)`);
        await nothingWritten(org, req.call.id);
        assert.equal((await b.health.get(org, p[0])).trialUntil, 0, 'no trial claimed');
      });

      test('a half-open breaker lets exactly one of many concurrent clicks through (its trial); the others wait for its lease', async () => {
        const { org, p } = await orgWithUser(b);
        await b.health.failure(org, p[0], quick(50));
        await sleep(80);
        assert.equal((await b.health.get(org, p[0])).state, 'half-open');
        const reqs = await Promise.all(Array.from({ length: 12 }, () => clickRequest(b, org, 'u1')));
        const results = await Promise.all(reqs.map((req, i) => [b, ...others][i % 3].calls.click(req)));
        const created = results.filter((r): r is Created => r.kind === 'created');
        assert.equal(created.length, 1, `exactly one trial: ${results.map((r) => r.kind).join(',')}`);
        assert.equal(created[0].trial, true);
        for (const r of results.filter((x) => x.kind !== 'created')) {
          assert.equal(r.kind, 'unavailable');
          const wait = r.kind === 'unavailable' ? r.retryAfterMs : 0;
          assert.ok(wait > TRIAL_LEASE_MS - 5000 && wait <= TRIAL_LEASE_MS, `the trial's lease is the wait (${wait})`);
        }
        const view = await b.health.get(org, p[0]);
        assert.equal(view.state, 'half-open');
        assert.ok(view.trialUntil > Date.now(), 'the trial is in flight');
        assert.equal((await c.listCalls(org, { limit: 100 })).items.length, 1, 'only the trial call was stored');
      });

      test('a click refused by the limits gives its claimed trial back', async () => {
        const { org, p } = await orgWithUser(b);
        await b.health.failure(org, p[0], quick(50));
        await sleep(80);
        const req = await clickRequest(b, org, 'u1', { admission: { buckets: [bucket('perUserPerMinute', 'u:u1', 0)] } });
        const r = await c.click(req);
        assert.equal(r.kind, 'limited');
        await nothingWritten(org, req.call.id);
        const view = await b.health.get(org, p[0]);
        assert.deepEqual([view.state, view.trialUntil, view.retryAfterSec], ['half-open', 0, 0], 'no trial in flight');
        const next = (await click(b, org, 'u1')) as Created;
        assert.deepEqual([next.kind, next.trial], ['created', true], 'the next click may take the trial');
      });
    });

    describe('inbound', () => {
      test('a DID of a user on this provider: the call ringing, linked, listed and announced (call.incoming)', async () => {
        const { org, p } = await orgWithUser(b, { providers: 2 });
        const u1 = (await b.directory.putUser(org, 'u1', userInput('CA', { name: 'Una', numbers: ['+15145550111'] }), t(2))).user;
        const bus = await listen(b, org);
        try {
          const id = rid('call_');
          const call: Call = {
            ...baseCall(org, id, { userId: '', providerId: p[0], direction: 'inbound', status: 'ringing', from: '+15550001111', to: '+15145550111', providerCallId: 'IN-1' }),
            history: [{ status: 'ringing', at: t(3) }],
          };
          const r = await c.inbound({ call, did: '+15145550111' });
          assert.ok(r);
          assert.deepEqual(r.user, u1);
          assert.deepEqual(r.call, { ...call, userId: 'u1' });
          assert.deepEqual(await c.getCall(org, id), r.call);
          assert.equal(await c.callIdByProviderCallId(org, p[0], 'IN-1'), id);
          assert.deepEqual((await c.listCalls(org, { limit: 5, userId: 'u1' })).items, [r.call]);
          assert.deepEqual(await c.staleLiveCalls(org, Date.now() + 1, 10), [id]);
          const { ev, body } = await bus.next('call.incoming', id);
          assert.equal(ev.userId, 'u1');
          assert.deepEqual(body.call, toPublicCall(r.call));
        } finally {
          bus.stop();
        }
      });

      test("another provider's DID, an unknown DID or an unassigned user: null, and nothing stored", async () => {
        const { org, p } = await orgWithUser(b, { providers: 2 });
        await b.directory.putUser(org, 'u2', userInput('CA', { numbers: ['+15145550222'] }), t(2));
        await b.directory.moveUser(org, 'u2', p[1]);
        await b.directory.putUser(org, 'u3', userInput('CA', { numbers: ['+15145550333'] }), t(2));
        await b.directory.unassignUser(org, p[0], 'u3');
        for (const did of ['+15145550222', '+15145550999', '+15145550333']) {
          const id = rid('call_');
          const call = baseCall(org, id, { userId: '', providerId: p[0], direction: 'inbound', status: 'ringing', to: did, providerCallId: `IN-${id}` });
          assert.equal(await c.inbound({ call, did }), null, did);
          assert.equal(await c.getCall(org, id), null);
          assert.equal(await c.callIdByProviderCallId(org, p[0], `IN-${id}`), null);
        }
        assert.deepEqual((await c.listCalls(org, { limit: 5 })).items, []);
      });
    });

    describe('state machine', () => {
      test('forward moves apply, backwards and duplicates do not; first terminal wins; late events change nothing', async () => {
        const org = rid('org');
        const id = rid('c');
        await c.createCall(baseCall(org, id));
        assert.equal(await c.transition(org, rid('c'), { status: 'dialing', at: t(1) }), null, 'an unknown call');

        let r = await c.transition(org, id, { status: 'ringing', at: t(2), providerCallId: 'PC1' });
        assert.deepEqual([r?.applied, r?.becameTerminal, r?.call.status, r?.call.providerCallId], [true, false, 'ringing', 'PC1']);
        r = await c.transition(org, id, { status: 'dialing', at: t(3) });
        assert.deepEqual([r?.applied, r?.call.status], [false, 'ringing'], 'never backwards');
        r = await c.transition(org, id, { status: 'ringing', at: t(3) });
        assert.equal(r?.applied, false, 'a duplicate changes nothing');
        r = await c.transition(org, id, { status: 'answered', at: t(10), providerCallId: 'PC2' });
        assert.deepEqual([r?.applied, r?.call.answeredAt, r?.call.providerCallId], [true, t(10), 'PC1'], 'the first providerCallId stays');
        r = await c.transition(org, id, { status: 'completed', at: t(72), cause: 'hangup' });
        assert.deepEqual([r?.applied, r?.becameTerminal, r?.call.endedAt, r?.call.durationSec], [true, true, t(72), 62]);
        const ended = await c.getCall(org, id);
        for (const late of [{ status: 'failed', at: t(80) }, { status: 'completed', at: t(90) }, { status: 'answered', at: t(91) }] as TransitionInput[]) {
          r = await c.transition(org, id, late);
          assert.deepEqual([r?.applied, r?.becameTerminal, r?.call.status], [false, false, 'completed'], `late ${late.status}`);
        }
        assert.deepEqual(await c.getCall(org, id), ended, 'late events changed nothing');
        assert.deepEqual(ended?.history, [
          { status: 'queued', at: t(0) },
          { status: 'ringing', at: t(2) },
          { status: 'answered', at: t(10) },
          { status: 'completed', at: t(72), cause: 'hangup' },
        ]);
        assert.equal(ended?.updatedAt, t(72));
      });

      test("an event time before the call's last transition moves up to it; an unparseable one is now", async () => {
        const org = rid('org');
        const id = rid('c');
        await c.createCall(baseCall(org, id, { createdAt: t(10), updatedAt: t(10), history: [{ status: 'queued', at: t(10) }] }));
        let r = await c.transition(org, id, { status: 'dialing', at: t(5) });
        assert.deepEqual([r?.applied, r?.call.updatedAt, r?.call.history.at(-1)], [true, t(10), { status: 'dialing', at: t(10) }]);
        r = await c.transition(org, id, { status: 'ringing', at: t(12) });
        assert.equal(r?.call.updatedAt, t(12), 'a later time is kept');
        r = await c.transition(org, id, { status: 'answered', at: '2024-01-01T00:00:11.500Z' });
        assert.equal(r?.call.answeredAt, t(12), 'the answer time moved up too');
        r = await c.transition(org, id, { status: 'completed', at: t(40) });
        assert.equal(r?.call.durationSec, 28, 'counted from the moved answer time');

        const other = rid('c');
        await c.createCall(baseCall(org, other));
        const before = Date.now();
        r = await c.transition(org, other, { status: 'answered', at: 'not a time' });
        const at = Date.parse(r!.call.answeredAt!);
        assert.ok(at >= before - 5 && at <= Date.now() + 5, `now (${r?.call.answeredAt})`);
        assert.equal(r?.call.updatedAt, r?.call.answeredAt);
        r = await c.transition(org, other, { status: 'completed', at: t(1) });
        assert.deepEqual([r?.call.endedAt, r?.call.durationSec], [r?.call.answeredAt, 0], 'an end before the answer is the answer time');
        assert.deepEqual(await c.getCall(org, other), r?.call);
      });

      test('a reported duration wins; unanswered terminal calls have none; half seconds round up', async () => {
        const org = rid('org');
        const [a, bb, cc] = [rid('c'), rid('c'), rid('c')];
        await c.createCall(baseCall(org, a));
        await c.createCall(baseCall(org, bb));
        await c.createCall(baseCall(org, cc));
        await c.transition(org, a, { status: 'answered', at: t(1) });
        assert.equal((await c.transition(org, a, { status: 'completed', at: t(5), durationSec: 42 }))?.call.durationSec, 42);
        const busy = await c.transition(org, bb, { status: 'busy', at: t(3), cause: '486' });
        assert.deepEqual([busy?.becameTerminal, busy?.call.durationSec, busy?.call.endedAt, busy?.call.answeredAt], [true, undefined, t(3), undefined]);
        await c.transition(org, cc, { status: 'answered', at: '2024-01-01T00:00:00.000Z' });
        assert.equal((await c.transition(org, cc, { status: 'completed', at: '2024-01-01T00:00:02.500Z' }))?.call.durationSec, 3);
        // answered at creation (an inbound call picked up elsewhere): the duration still counts from it
        const dd = rid('c');
        await c.createCall(baseCall(org, dd, { status: 'answered', answeredAt: t(100), history: [{ status: 'answered', at: t(100) }] }));
        assert.equal((await c.transition(org, dd, { status: 'completed', at: t(130) }))?.call.durationSec, 30);
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
        for (let round = 0; round < 60; round++) {
          const n = 1 + Math.floor(rnd() * 12);
          const seq = Array.from({ length: n }, () => events[Math.floor(rnd() * events.length)]);
          const id = `c${round}`;
          const start = baseCall(org, id, { userId: '', trial: true });
          await c.createCall(start);
          const model = structuredClone(start);
          let terminals = 0;
          let last: Call | undefined;
          for (const ev of seq) {
            const expectApplied = applyTransition(model, { ...ev });
            const r = await c.transition(org, id, ev);
            assert.ok(r);
            assert.equal(r.applied, expectApplied, `round ${round}: ${seq.map((e) => e.status).join(',')}`);
            if (r.becameTerminal) terminals++;
            last = r.call;
          }
          assert.deepEqual(last, model, `round ${round}`);
          assert.deepEqual(await c.getCall(org, id), model);
          const anyTerminal = seq.some((e) => TERMINAL.includes(e.status));
          assert.equal(terminals, anyTerminal ? 1 : 0, `round ${round}: exactly one becameTerminal`);
        }
      });

      test('20 concurrent terminal events (from several instances): exactly one becameTerminal, and the call ends in its status', async () => {
        const org = rid('org');
        for (let round = 0; round < 5; round++) {
          const id = rid('cc');
          await c.createCall(baseCall(org, id));
          const seq: TransitionInput[] = Array.from({ length: 20 }, (_, i) => ({ status: TERMINAL[i % TERMINAL.length], at: t(10 + i) }));
          const results = await Promise.all(seq.map((ev, i) => [b, ...others][i % 3].calls.transition(org, id, ev)));
          const winners = results.filter((r) => r?.becameTerminal);
          assert.equal(winners.length, 1);
          assert.equal(results.filter((r) => r?.applied).length, 1, 'and only it applied');
          const final = await c.getCall(org, id);
          assert.equal(final?.status, winners[0]?.call.status);
          assert.equal(final?.history.length, 2);
          assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 100).then((x) => x.filter((y) => y === id)), [id], 'handed off once');
        }
      });

      test('progress events racing each other never move a call backwards', async () => {
        const org = rid('org');
        const statuses: CallStatus[] = ['dialing', 'ringing', 'answered', 'completed', 'failed', 'busy', 'no-answer', 'canceled'];
        for (let round = 0; round < 8; round++) {
          const id = `cc${round}`;
          await c.createCall(baseCall(org, id));
          const seq = statuses.flatMap((st, i) => [{ status: st, at: t(i + 1) }, { status: st, at: t(i + 1) }]);
          const results = await Promise.all(seq.map((ev, i) => [b, ...others][i % 3].calls.transition(org, id, ev)));
          assert.equal(results.filter((r) => r?.becameTerminal).length, 1);
          const final = (await c.getCall(org, id))!;
          const ranks = final.history.map((h) => statuses.indexOf(h.status));
          assert.deepEqual(ranks, [...ranks].sort((x, y) => x - y), 'history only moves forward');
          assert.equal(new Set(final.history.map((h) => h.status)).size, final.history.length, 'no status twice in history');
        }
      });

      test('link indexes the provider call id in the same step; from is set only when absent', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'));
        await c.createCall(call);
        const tr = await c.transition(org, call.id, { status: 'dialing', at: t(1), providerCallId: 'CAout1', link: 'p1', from: '+15550000001' });
        assert.deepEqual([tr?.applied, tr?.call.providerCallId, tr?.call.from], [true, 'CAout1', '+15550000001']);
        assert.equal(await c.callIdByProviderCallId(org, 'p1', 'CAout1'), call.id);
        assert.equal(await c.callIdByProviderCallId(org, 'p2', 'CAout1'), null, 'per provider');
        assert.equal(await c.callIdByProviderCallId(rid('org'), 'p1', 'CAout1'), null, 'per org');
        const tr2 = await c.transition(org, call.id, { status: 'ringing', at: t(2), from: '+15550000002' });
        assert.equal(tr2?.call.from, '+15550000001', 'the caller id is kept');
        // a call created with its caller id keeps it
        const withFrom = baseCall(org, rid('c'), { from: '+15550000009' });
        await c.createCall(withFrom);
        assert.equal((await c.transition(org, withFrom.id, { status: 'dialing', at: t(1), from: '+15550000003' }))?.call.from, '+15550000009');
        // without link nothing is indexed; an unknown call links nothing
        const other = baseCall(org, rid('c'));
        await c.createCall(other);
        await c.transition(org, other.id, { status: 'dialing', at: t(1), providerCallId: 'CAout2' });
        assert.equal(await c.callIdByProviderCallId(org, 'p1', 'CAout2'), null);
        assert.equal(await c.transition(org, rid('c'), { status: 'dialing', at: t(1), providerCallId: 'CAout3', link: 'p1' }), null);
        assert.equal(await c.callIdByProviderCallId(org, 'p1', 'CAout3'), null);
        // a call created with its provider call id is found by it at once
        const inb = baseCall(org, rid('c'), { direction: 'inbound', providerCallId: 'CAin1' });
        await c.createCall(inb);
        assert.equal(await c.callIdByProviderCallId(org, inb.providerId, 'CAin1'), inb.id);
      });

      test('known: the result computed from the caller\'s call is the call as stored; a raced call is read back', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'));
        await c.createCall(call);
        const tr = await c.transition(org, call.id, { status: 'dialing', at: t(1), providerCallId: 'PK1', link: call.providerId, from: '+15550000001', known: call });
        assert.equal(tr?.applied, true);
        assert.deepEqual(tr?.call, await c.getCall(org, call.id));
        // the caller's copy is stale (a webhook moved the call on): the answer is the stored call
        await c.transition(org, call.id, { status: 'ringing', at: t(2) });
        const late = await c.transition(org, call.id, { status: 'answered', at: t(3), known: call });
        assert.deepEqual(late?.call, await c.getCall(org, call.id));
        assert.equal(late?.call.status, 'answered');
      });

      test("onlyProvider: a provider's event about another provider's call changes nothing (null)", async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'));
        await c.createCall(call);
        assert.equal(await c.transition(org, call.id, { status: 'dialing', at: t(1), onlyProvider: 'not-' + call.providerId }), null);
        assert.equal((await c.getCall(org, call.id))?.status, 'queued');
        const tr = await c.transition(org, call.id, { status: 'dialing', at: t(1), onlyProvider: call.providerId });
        assert.equal(tr?.applied, true);
      });

      test('call.status is published for every applied event, with the call as stored, and for nothing else', async () => {
        const { org } = await orgWithUser(b);
        const bus = await listen(b, org);
        try {
          const call = await clickCreated(b, org, 'u1');
          await bus.next('call.created', call.id);
          const r = await c.transition(org, call.id, { status: 'ringing', at: t(1), providerCallId: 'PC', link: 'p', cause: 'x' });
          const { ev, body } = await bus.next('call.status', call.id);
          assert.equal(ev.userId, 'u1');
          assert.deepEqual(body.call, toPublicCall(r!.call));
          assert.deepEqual(body.call, toPublicCall((await c.getCall(org, call.id))!));
          await c.transition(org, call.id, { status: 'dialing', at: t(2) }); // not applied
          await c.transition(org, call.id, { status: 'completed', at: t(3) });
          await waitForEvents(bus.events, 3);
          await sleep(50);
          assert.deepEqual(
            bus.events.map((e) => [e.type, (JSON.parse(e.json) as { call: Call }).call.status]),
            [
              ['call.created', 'queued'],
              ['call.status', 'ringing'],
              ['call.status', 'completed'],
            ],
          );
        } finally {
          bus.stop();
        }
      });
    });

    describe('what a terminal status sets off', () => {
      test('the call goes to the outbox with crmLog pending; a progress status does not', async () => {
        const { org } = await orgWithUser(b);
        const call = await clickCreated(b, org, 'u1');
        const before = Date.now();
        await c.transition(org, call.id, { status: 'answered', at: t(1) });
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 10), []);
        assert.equal((await c.getCall(org, call.id))?.crmLog, undefined);
        const r = await c.transition(org, call.id, { status: 'completed', at: t(9) });
        assert.deepEqual(r?.call.crmLog, { status: 'pending', attempts: 0 });
        assert.deepEqual((await c.getCall(org, call.id))?.crmLog, { status: 'pending', attempts: 0 });
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 10), [call.id]);
        assert.deepEqual(await c.outboxDue(org, before - 1, 10), [], 'handed off after `before`');
        assert.deepEqual(await c.staleLiveCalls(org, Date.now() + 1, 10), [], 'no longer live');
      });

      test('outboxDue: oldest first, up to the limit', async () => {
        const org = rid('org');
        const made: string[] = [];
        for (let i = 0; i < 5; i++) {
          const id = rid('c');
          await c.createCall(baseCall(org, id));
          await c.transition(org, id, { status: 'failed', at: t(1) });
          made.push(id);
          await sleep(3);
        }
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 3), made.slice(0, 3));
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 100), made);
      });

      test('trial calls (no user) get neither outbox nor crmLog', async () => {
        const org = rid('org');
        const id = rid('c');
        await c.createCall(baseCall(org, id, { userId: '', trial: true, trialId: 'trl_1' }));
        const r = await c.transition(org, id, { status: 'completed', at: t(1) });
        assert.equal(r?.becameTerminal, true);
        assert.equal(r?.call.crmLog, undefined);
        assert.deepEqual([r?.call.trial, r?.call.trialId, r?.call.userId], [true, 'trl_1', '']);
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 10), []);
        assert.deepEqual(await c.staleLiveCalls(org, Date.now() + 1, 10), []);
        assert.deepEqual((await c.listCalls(org, { limit: 5 })).items.map((x) => x.id), [id]);
      });

      test("the click's Idempotency-Key is given back (release) or pinned with the refusal, in the same step", async () => {
        const { org } = await orgWithUser(b);
        const k1 = rid('idem');
        const a = await clickCreated(b, org, 'u1', { idempotency: { key: k1, fingerprint: 'fp', ttlSec: 60 } });
        const r = await c.transition(org, a.id, { status: 'failed', at: t(1), cause: 'provider down', idempotency: { key: k1, release: true } });
        assert.equal(r?.applied, true);
        assert.equal(await c.idempotency(org, k1), null, 'released');
        assert.equal((await click(b, org, 'u1', { idempotency: { key: k1, fingerprint: 'fp', ttlSec: 60 } })).kind, 'created', 'a retry may dial');

        const k2 = rid('idem');
        const pin = { code: 'provider_error', message: 'the provider said no', details: { status: 503 } };
        const d = await clickCreated(b, org, 'u1', { idempotency: { key: k2, fingerprint: 'fp2', ttlSec: 60 } });
        await c.transition(org, d.id, { status: 'failed', at: t(1), idempotency: { key: k2, pin } });
        const rec = await c.idempotency(org, k2);
        assert.deepEqual(rec?.record, { fingerprint: 'fp2', callId: d.id, error: pin });
        assert.equal(rec?.call?.id, d.id);
        const replay = await click(b, org, 'u1', { idempotency: { key: k2, fingerprint: 'fp2', ttlSec: 60 } });
        assert.deepEqual(replay.kind === 'replay' && replay.record.error, pin, 'a retry replays the refusal');
        // pinning a key that is not there writes nothing
        const k3 = rid('idem');
        await c.transition(org, d.id, { status: 'failed', at: t(2), idempotency: { key: k3, pin } });
        assert.equal(await c.idempotency(org, k3), null);
      });

      test("breakerSuccess: a dial's success closes its half-open breaker (closeAfter trials)", async () => {
        const { org, p } = await orgWithUser(b);
        await b.health.failure(org, p[0], quick(50, 2));
        await sleep(80);
        const first = (await click(b, org, 'u1')) as Created;
        assert.deepEqual([first.kind, first.trial], ['created', true]);
        await c.transition(org, first.call.id, { status: 'dialing', at: t(1), breakerSuccess: { providerId: p[0], policy: quick(50, 2) } });
        let view = await b.health.get(org, p[0]);
        assert.deepEqual([view.state, view.successes, view.trialUntil], ['half-open', 1, 0], 'one of two successes; the next trial may go');
        const second = (await click(b, org, 'u1')) as Created;
        assert.deepEqual([second.kind, second.trial], ['created', true]);
        await c.transition(org, second.call.id, { status: 'dialing', at: t(1), breakerSuccess: { providerId: p[0], policy: quick(50, 2) } });
        view = await b.health.get(org, p[0]);
        assert.deepEqual([view.state, view.failures, view.successes], ['closed', 0, 0]);
        const third = (await click(b, org, 'u1')) as Created;
        assert.deepEqual([third.kind, third.trial], ['created', false], 'closed: no trial any more');
        // a success on a closed provider changes nothing; on an unknown call nothing at all
        await c.transition(org, third.call.id, { status: 'dialing', at: t(1), breakerSuccess: { providerId: p[0], policy: quick(50) } });
        assert.equal((await b.health.get(org, p[0])).state, 'closed');
      });
    });

    describe('listing, links, failover', () => {
      test('newest first, cursor pages, filters by user and status; a foreign cursor is refused', async () => {
        const org = rid('org');
        const made: Call[] = [];
        for (let i = 0; i < 17; i++) {
          // two calls share each timestamp so ties must still page deterministically
          const call = baseCall(org, `c${String(i).padStart(2, '0')}`, { userId: i % 2 ? 'u1' : 'u2', createdAt: t(Math.floor(i / 2)) });
          await c.createCall(call);
          made.push(call);
        }
        for (const call of made.filter((_, i) => i % 3 === 0)) await c.transition(org, call.id, { status: 'dialing', at: t(100) });
        const newestFirst = [...made].reverse().map((x) => x.id);
        for (const limit of [1, 4, 17, 30]) {
          const got = await allPages((cursor) => c.listCalls(org, { limit, cursor }), limit);
          assert.deepEqual(got.map((x) => x.id), newestFirst, `limit ${limit}`);
        }
        const u1 = await allPages((cursor) => c.listCalls(org, { limit: 3, cursor, userId: 'u1' }), 3);
        assert.deepEqual(u1.map((x) => x.id), newestFirst.filter((id) => Number(id.slice(1)) % 2 === 1));
        const dialing = await allPages((cursor) => c.listCalls(org, { limit: 2, cursor, status: 'dialing' }), 2);
        assert.deepEqual(dialing.map((x) => x.id), newestFirst.filter((id) => Number(id.slice(1)) % 3 === 0));
        const both = await allPages((cursor) => c.listCalls(org, { limit: 1, cursor, status: 'dialing', userId: 'u2' }), 1);
        assert.deepEqual(both.map((x) => x.id), newestFirst.filter((id) => Number(id.slice(1)) % 6 === 0));
        assert.deepEqual(await c.listCalls(org, { limit: 5, userId: 'nobody' }), { items: [], nextCursor: null });
        assert.deepEqual(await c.listCalls(org, { limit: 5, status: 'busy' }), { items: [], nextCursor: null });
        assert.deepEqual(await c.listCalls(rid('org'), { limit: 5 }), { items: [], nextCursor: null });
        for (const cursor of ['?!', 'zz zz', Buffer.from('\u0000x').toString('base64url')]) {
          await rejectsWith(c.listCalls(org, { limit: 5, cursor }), 'invalid_cursor');
        }
      });

      test('a status filter finds its few matches among many calls', async () => {
        const org = rid('org');
        const all: string[] = [];
        for (let i = 0; i < 450; i++) all.push(`c${String(i).padStart(3, '0')}`);
        await Promise.all(all.map((id, i) => c.createCall(baseCall(org, id, { createdAt: t(i) }))));
        for (const id of ['c001', 'c250', 'c449']) await c.transition(org, id, { status: 'ringing', at: t(999) });
        const got = await allPages((cursor) => c.listCalls(org, { limit: 2, cursor, status: 'ringing' }), 2);
        assert.deepEqual(got.map((x) => x.id), ['c449', 'c250', 'c001']);
      });

      test('create, get, unknown is null; every field kept', async () => {
        const org = rid('org');
        const call = baseCall(org, rid('c'), {
          crmRecord: { module: 'Leads', id: 'L1' },
          from: '+15145550000',
          providerCallId: 'PC-9',
          failedOverFrom: 'p0',
          durationSec: 0,
        });
        await c.createCall(call);
        assert.deepEqual(await c.getCall(org, call.id), call);
        assert.equal(await c.getCall(org, rid('c')), null);
        assert.equal(await c.getCall(rid('org'), call.id), null);
        const got = await c.getCall(org, call.id);
        got!.history.push({ status: 'failed', at: t(9) });
        assert.equal((await c.getCall(org, call.id))!.history.length, 1, 'a copy');
      });

      test('failover reassigns a call only while it is still queued; the rest of the call is kept', async () => {
        const org = rid('org');
        const id = rid('c');
        const call = baseCall(org, id, { crmRecord: { module: 'Leads', id: 'L1' }, from: '+15145550000' });
        await c.createCall(call);
        assert.deepEqual(await c.reassign(org, id, { providerId: 'p2', providerKind: 'twilio', failedOverFrom: 'p1' }), {});
        assert.deepEqual(await c.getCall(org, id), { ...call, providerId: 'p2', providerKind: 'twilio', failedOverFrom: 'p1' });
        await c.transition(org, id, { status: 'dialing', at: t(1) });
        assert.equal(await c.reassign(org, id, { providerId: 'p3', providerKind: 'sim', failedOverFrom: 'p2' }), null);
        assert.equal((await c.getCall(org, id))?.providerId, 'p2');
        assert.equal(await c.reassign(org, rid('c'), { providerId: 'p3', providerKind: 'sim', failedOverFrom: 'p2' }), null);
        assert.equal(await c.getCall(org, 'nope'), null, 'reassign of an unknown call creates nothing');
      });

      test('staleLiveCalls: live calls with no news since a time; news moves them; terminal ones leave', async () => {
        const org = rid('org');
        const [a, bb, cc] = [rid('c'), rid('c'), rid('c')];
        await c.createCall(baseCall(org, a));
        await c.createCall(baseCall(org, bb));
        await c.createCall(baseCall(org, cc, { status: 'completed', endedAt: t(1), history: [{ status: 'completed', at: t(1) }] }));
        await sleep(5);
        const mark = Date.now();
        await sleep(5);
        assert.deepEqual((await c.staleLiveCalls(org, mark, 10)).sort(), [a, bb].sort(), 'a call created ended is not live');
        assert.equal((await c.staleLiveCalls(org, mark, 1)).length, 1, 'up to the limit');
        await c.transition(org, a, { status: 'ringing', at: t(2) });
        assert.deepEqual(await c.staleLiveCalls(org, mark, 10), [bb], 'news since the mark');
        await c.transition(org, a, { status: 'ringing', at: t(3) }); // a duplicate is news too
        assert.deepEqual((await c.staleLiveCalls(org, Date.now() + 1, 10)).sort(), [a, bb].sort());
        await c.transition(org, bb, { status: 'canceled', at: t(4) });
        assert.deepEqual(await c.staleLiveCalls(org, Date.now() + 1, 10), [a]);
      });
    });

    describe('call log and retention', () => {
      test("callLogContext: the call, its user and the org's CRM config, in one read", async () => {
        const { org } = await orgWithUser(b);
        const call = await clickCreated(b, org, 'u1');
        const empty = await c.callLogContext(org, call.id);
        assert.deepEqual(empty, { call, user: await b.directory.getUser(org, 'u1'), crmConfig: null, crmConfigJson: null });
        const crm = { kind: 'webhook', url: 'https://crm.example/hook', secret: 's3cr3t', nested: { a: [1, 2] } };
        await b.settings.put(org, 'crm', crm);
        const ctx = await c.callLogContext(org, call.id);
        assert.deepEqual(ctx.crmConfig, crm);
        assert.deepEqual(JSON.parse(ctx.crmConfigJson!), crm);
        assert.deepEqual(ctx.user, await b.directory.getUser(org, 'u1'));
        assert.deepEqual(ctx.call, await c.getCall(org, call.id));
        const gone = await c.callLogContext(org, rid('c'));
        assert.deepEqual([gone.call, gone.user, gone.crmConfig], [null, null, crm]);
        // a trial call has no user; a user since deleted is null
        const trial = baseCall(org, rid('c'), { userId: '', trial: true });
        await c.createCall(trial);
        assert.equal((await c.callLogContext(org, trial.id)).user, null);
        await b.directory.deleteUser(org, 'u1');
        assert.equal((await c.callLogContext(org, call.id)).user, null);
      });

      test('setCrmLog records where the log stands; a settled log leaves the outbox; an unknown call is call_not_found', async () => {
        const { org } = await orgWithUser(b);
        const call = await clickCreated(b, org, 'u1');
        await c.transition(org, call.id, { status: 'completed', at: t(1) });
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 10), [call.id]);
        await c.setCrmLog(org, call.id, { status: 'failed', attempts: 2, lastError: 'HTTP 503' });
        assert.deepEqual((await c.getCall(org, call.id))?.crmLog, { status: 'failed', attempts: 2, lastError: 'HTTP 503' });
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 10), [call.id], 'a failed log stays in the outbox');
        await c.setCrmLog(org, call.id, { status: 'logged', attempts: 3, recordId: 'R1' });
        assert.deepEqual((await c.getCall(org, call.id))?.crmLog, { status: 'logged', attempts: 3, recordId: 'R1' });
        assert.deepEqual(await c.outboxDue(org, Date.now() + 1, 10), []);
        await rejectsWith(c.setCrmLog(org, rid('c'), { status: 'logged', attempts: 1 }), 'call_not_found');
        await rejectsWith(c.setCrmLog(rid('org'), call.id, { status: 'logged', attempts: 1 }), 'call_not_found');
      });

      test('purge: a settled call goes after the retention with its listings, link and idempotency key; nothing else goes', async () => {
        const { org, p } = await orgWithUser(b);
        const key = rid('idem');
        const ended = async (crm: 'logged' | 'skipped' | 'failed' | null, idem?: string) => {
          const call = await clickCreated(b, org, 'u1', idem ? { idempotency: { key: idem, fingerprint: 'fp', ttlSec: 3 * RETENTION_SEC } } : {});
          await c.transition(org, call.id, { status: 'dialing', at: t(1), providerCallId: `PC-${call.id}`, link: p[0] });
          await c.transition(org, call.id, { status: 'completed', at: t(2) });
          if (crm) await c.setCrmLog(org, call.id, { status: crm, attempts: 1 });
          return call.id;
        };
        const logged = await ended('logged', key);
        const skipped = await ended('skipped');
        const failed = await ended('failed');
        const pending = await ended(null);
        const live = await clickCreated(b, org, 'u1');
        await c.setCrmLog(org, live.id, { status: 'logged', attempts: 1 }); // a live call is never purged
        const listed = async () => (await c.listCalls(org, { limit: 100 })).items.map((x) => x.id).sort();
        assert.equal(await c.purge(org, Date.now(), 100), 0, 'not before the retention ends');
        assert.equal((await listed()).length, 5);
        const later = Date.now() + RETENTION_SEC * 1000 + 60_000;
        assert.equal(await c.purge(org, later, 100), 2);
        for (const id of [logged, skipped]) {
          assert.equal(await c.getCall(org, id), null);
          assert.equal(await c.callIdByProviderCallId(org, p[0], `PC-${id}`), null, 'its link');
          assert.deepEqual(await c.callLogContext(org, id).then((x) => x.call), null);
        }
        assert.deepEqual(await listed(), [failed, pending, live.id].sort(), 'its listing');
        assert.deepEqual(
          (await c.listCalls(org, { limit: 100, userId: 'u1' })).items.map((x) => x.id).sort(),
          [failed, pending, live.id].sort(),
          "the user's listing",
        );
        assert.equal(await c.idempotency(org, key), null, 'its idempotency key');
        assert.equal((await click(b, org, 'u1', { idempotency: { key, fingerprint: 'fp', ttlSec: 60 } })).kind, 'created', 'the key is free');
        for (const id of [failed, pending, live.id]) assert.ok(await c.getCall(org, id), `${id} is kept`);
        assert.equal(await c.callIdByProviderCallId(org, p[0], `PC-${failed}`), failed);
        assert.equal(await c.purge(org, later, 100), 0, 'nothing more to purge');
        // a failed log settled later is purged in its turn
        await c.setCrmLog(org, failed, { status: 'skipped', attempts: 5 });
        assert.equal(await c.purge(org, later, 100), 1);
        assert.equal(await c.getCall(org, failed), null);
      });

      test('purge: a trial call (never logged) goes after the retention once it ended, never while live', async () => {
        const org = rid('org');
        const ended = rid('c');
        const live = rid('c');
        for (const id of [ended, live]) await c.createCall(baseCall(org, id, { userId: '', trial: true, trialId: 'trl_1' }));
        await c.transition(org, ended, { status: 'dialing', at: t(1), providerCallId: `PC-${ended}`, link: 'pT' });
        await c.transition(org, ended, { status: 'completed', at: t(2) });
        await c.transition(org, live, { status: 'dialing', at: t(1) });
        assert.equal((await c.getCall(org, ended))?.crmLog, undefined, 'no call log for a trial');
        assert.equal(await c.purge(org, Date.now(), 10), 0, 'not before the retention ends');
        assert.equal(await c.purge(org, Date.now() + RETENTION_SEC * 1000 + 60_000, 10), 1);
        assert.equal(await c.getCall(org, ended), null);
        assert.equal(await c.callIdByProviderCallId(org, 'pT', `PC-${ended}`), null);
        assert.ok(await c.getCall(org, live), 'the live trial call stays');
      });

      test('purge removes every link of the call, whatever provider it was made under', async () => {
        const org = rid('org');
        const id = rid('c');
        await c.createCall(baseCall(org, id, { providerId: 'pIn', direction: 'inbound', status: 'ringing', providerCallId: 'IN-1', history: [{ status: 'ringing', at: t(0) }] }));
        await c.transition(org, id, { status: 'answered', at: t(1), providerCallId: 'LEG-2', link: 'pOther' });
        await c.transition(org, id, { status: 'completed', at: t(2), providerCallId: 'LEG-3', link: 'pThird' });
        for (const [p, pc] of [['pIn', 'IN-1'], ['pOther', 'LEG-2'], ['pThird', 'LEG-3']]) assert.equal(await c.callIdByProviderCallId(org, p, pc), id, `${p}:${pc}`);
        await c.setCrmLog(org, id, { status: 'logged', attempts: 1 });
        assert.equal(await c.purge(org, Date.now() + RETENTION_SEC * 1000 + 60_000, 10), 1);
        for (const [p, pc] of [['pIn', 'IN-1'], ['pOther', 'LEG-2'], ['pThird', 'LEG-3']]) assert.equal(await c.callIdByProviderCallId(org, p, pc), null, `${p}:${pc} is gone`);
      });

      test('purge takes at most `limit` calls a run, and drops expired idempotency keys', async () => {
        const { org } = await orgWithUser(b);
        for (let i = 0; i < 5; i++) {
          const call = await clickCreated(b, org, 'u1');
          await c.transition(org, call.id, { status: 'busy', at: t(1) });
          await c.setCrmLog(org, call.id, { status: 'skipped', attempts: 0 });
        }
        const k = rid('idem');
        const withKey = await clickCreated(b, org, 'u1', { idempotency: { key: k, fingerprint: 'fp', ttlSec: 0.05 } });
        const later = Date.now() + RETENTION_SEC * 1000 + 60_000;
        assert.equal(await c.purge(org, later, 2), 2);
        assert.equal(await c.purge(org, later, 2), 2);
        assert.equal(await c.purge(org, later, 2), 1);
        assert.equal(await c.idempotency(org, k), null, 'the expired key is gone');
        assert.ok(await c.getCall(org, withKey.id), 'its live call is not');
      });
    });
  });
}

async function waitForEvents(events: unknown[], n: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (events.length < n && Date.now() < deadline) await sleep(10);
  assert.ok(events.length >= n, `${n} events arrived (got ${events.length})`);
}
