// ComplianceStore (src/store/compliance/port.ts) and what the click script does with it: the
// do-not-call list refused in the click's atomic step, and the sticky local-presence caller id.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import { CID_SWEEP_PAGE, DNC_CHUNK } from '../../../src/store/compliance/port.js';
import type { BackendFactory } from './backends.js';
import { click, clickRequest, orgWithUser, rid } from './helpers.js';

const DAY = 24 * 3600 * 1000;

export function runComplianceContract(f: BackendFactory): void {
  describe('compliance', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('dnc: add, remove, has, count; counts are of real changes; orgs are apart; bulk beyond one chunk', async () => {
      const s = b.compliance;
      const org = rid('org');
      assert.equal(await s.dncCount(org), 0);
      assert.equal(await s.dncAdd(org, ['+15145550100', '+15145550101', '+15145550100']), 2);
      assert.equal(await s.dncAdd(org, ['+15145550101', '+15145550102']), 1);
      assert.equal(await s.dncHas(org, '+15145550101'), true);
      assert.equal(await s.dncHas(rid('org'), '+15145550101'), false);
      assert.equal(await s.dncRemove(org, ['+15145550101', '+19999999999']), 1);
      assert.equal(await s.dncHas(org, '+15145550101'), false);
      assert.equal(await s.dncCount(org), 2);
      assert.equal(await s.dncAdd(org, []), 0);
      const many = Array.from({ length: DNC_CHUNK * 2 + 5 }, (_, i) => `+1312${String(2000000 + i)}`);
      assert.equal(await s.dncAdd(org, many), many.length);
      assert.equal(await s.dncCount(org), many.length + 2);
      assert.equal(await s.dncHas(org, many[many.length - 1]), true);
      assert.equal(await s.dncRemove(org, many), many.length);
      assert.equal(await s.dncCount(org), 2);
    });

    test('a click to a listed number is refused by the backend and writes nothing; an unlisted one goes through', async () => {
      const { org } = await orgWithUser(b);
      await b.compliance.dncAdd(org, ['+15145550177']);
      const req = await clickRequest(b, org, 'u1', { to: '+15145550177' });
      assert.deepEqual(await b.calls.click(req), { kind: 'dnc' });
      assert.equal(await b.calls.getCall(org, req.call.id), null);
      assert.equal((await b.calls.listCalls(org, { limit: 10 })).items.length, 0);
      assert.equal((await click(b, org, 'u1', { to: '+15145550178' })).kind, 'created');
    });

    test('caller id: the given one without a pool; with a pool the destination sticks to its number while it stays in the pool', async () => {
      const { org, p } = await orgWithUser(b);
      const to = '+12125550123';
      const created = async (callerId: string, pool: string[], stickyMs = 30 * DAY, dest = to) => {
        const req = await clickRequest(b, org, 'u1', { to: dest });
        const r = await b.calls.click({ ...req, callerIds: [{ callerId, pool }], stickyMs });
        assert.equal(r.kind, 'created');
        const call = (r as Extract<typeof r, { kind: 'created' }>).call;
        assert.deepEqual(await b.calls.getCall(org, call.id), call, 'stored as answered');
        return call.callerId;
      };
      assert.equal(await created('+15145550999', []), '+15145550999');
      assert.equal(await b.compliance.stickyCallerId(org, p[0], to, Date.now()), null, 'no pool, nothing sticks');
      assert.equal(await created('', []), undefined, 'none given, none set');
      assert.equal(await created('+12125550100', ['+12125550100', '+13105550100']), '+12125550100');
      assert.equal(await b.compliance.stickyCallerId(org, p[0], to, Date.now()), '+12125550100');
      // a better number is offered now: the destination keeps the one it was shown
      assert.equal(await created('+12125550120', ['+12125550100', '+12125550120']), '+12125550100');
      // its number left the pool: the new best, remembered from now on
      assert.equal(await created('+12125550120', ['+12125550120', '+13105550100']), '+12125550120');
      assert.equal(await created('+13105550100', ['+12125550120', '+13105550100']), '+12125550120');
      // stickiness that ran out: chosen anew
      assert.equal(await created('+13105550100', ['+12125550120', '+13105550100'], -1), '+12125550120', 'the last use set an expired stickiness...');
      assert.equal(await created('+13105550100', ['+12125550120', '+13105550100']), '+13105550100', '...so the next click chooses anew');
      assert.equal(await b.compliance.stickyCallerId(org, p[0], to, Date.now() + 31 * DAY), null, 'it expires');
      assert.equal(await b.compliance.stickyCallerId(org, 'other-provider', to, Date.now()), null, 'per provider');
    });

    test("failover: the call moves with the new provider's caller id, chosen from its pool and sticky there, in the same step", async () => {
      const { org, p } = await orgWithUser(b, { providers: 2 });
      const to = '+12125550123';
      const req = await clickRequest(b, org, 'u1', { to });
      const r = await b.calls.click({ ...req, callerIds: [{ callerId: '+12125550100', pool: ['+12125550100'] }], stickyMs: 30 * DAY });
      assert.equal(r.kind === 'created' && r.call.callerId, '+12125550100');
      const id = req.call.id;
      const pool = ['+12125550155', '+12125550166'];
      const move = (callerId: string, pool: string[], providerId = p[1]) =>
        b.calls.reassign(org, id, { providerId, providerKind: 'sim', failedOverFrom: p[0], callerId: { callerId, pool, to, stickyMs: 30 * DAY } });
      assert.deepEqual(await move('+12125550155', pool), { callerId: '+12125550155' });
      assert.equal((await b.calls.getCall(org, id))?.callerId, '+12125550155', 'stored with the move');
      assert.equal(await b.compliance.stickyCallerId(org, p[1], to, Date.now()), '+12125550155', "sticky on the new provider");
      assert.equal(await b.compliance.stickyCallerId(org, p[0], to, Date.now()), '+12125550100', "the first provider's stays its own");
      // another move to the same provider offering a different best: the sticky one stands
      assert.deepEqual(await move('+12125550166', pool), { callerId: '+12125550155' });
      // a provider with no pool and no caller id of its own: the call shows none (the provider's default)
      assert.deepEqual(await move('', [], 'p-bare'), {});
      const call = await b.calls.getCall(org, id);
      assert.equal(call?.providerId, 'p-bare');
      assert.equal('callerId' in call!, false);
      assert.deepEqual(await move('+15145550999', [], 'p-own'), { callerId: '+15145550999' });
      await b.calls.transition(org, id, { status: 'dialing', at: new Date().toISOString() });
      assert.equal(await move('+12125550166', pool), null, 'dialing: no move');
      assert.equal((await b.calls.getCall(org, id))?.callerId, '+15145550999');
    });

    test('sweepCallerIds removes the expired sticky caller ids, page by page, and no other', async () => {
      const { org, p } = await orgWithUser(b);
      const req = await clickRequest(b, org, 'u1', { to: '+12125550100' });
      assert.equal((await b.calls.click(req)).kind, 'created');
      // every move remembers a (provider, destination) pair: more than one HSCAN page of them
      const expired = CID_SWEEP_PAGE + 150;
      const pool = ['+12125550155'];
      for (let i = 0; i < expired + 20; i++) {
        const to = `+1312${String(5550000 + i)}`;
        const stickyMs = i < expired ? -1 : 30 * DAY;
        assert.ok(await b.calls.reassign(org, req.call.id, { providerId: p[0], providerKind: 'sim', failedOverFrom: p[0], callerId: { callerId: pool[0], pool, to, stickyMs } }));
      }
      const now = Date.now();
      assert.equal(await b.compliance.sweepCallerIds(rid('org'), now), 0, 'an org with none');
      assert.equal(await b.compliance.sweepCallerIds(org, now), expired);
      assert.equal(await b.compliance.sweepCallerIds(org, now), 0, 'nothing left to sweep');
      assert.equal(await b.compliance.stickyCallerId(org, p[0], `+1312${String(5550000 + expired)}`, now), '+12125550155', 'unexpired ones stay');
      assert.equal(await b.compliance.sweepCallerIds(org, now + 31 * DAY), 20, 'and go once they expire');
    });
  });
}
