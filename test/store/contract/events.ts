// EventBus (src/store/events/port.ts): an org's call events reach its listeners on every instance.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../../src/store/backend.js';
import type { DeliveredEvent } from '../../../src/store/events/port.js';
import type { BackendFactory } from './backends.js';
import { clickCreated, orgWithUser, rid, sleep, waitFor } from './helpers.js';

export function runEventsContract(f: BackendFactory): void {
  describe('events', () => {
    let b: Backend;
    before(async () => {
      b = await f.create();
    });

    test('subscribe resolves once subscribed: an event published right after reaches the listener as sent', async () => {
      const org = rid('org');
      const got: DeliveredEvent[] = [];
      const stop = await b.events.subscribe(org, (ev) => got.push(ev));
      try {
        const json = JSON.stringify({ type: 'call.matched', call: { id: 'c1' }, match: { module: 'Leads', id: 'L1', name: 'Ünï | pipe' } });
        b.events.publish(org, 'call.matched', 'u1', json);
        assert.ok(await waitFor(() => got.length === 1, 3000), 'delivered');
        assert.deepEqual(got, [{ type: 'call.matched', userId: 'u1', json }]);
      } finally {
        stop();
      }
    });

    test("a listener hears only its org; two listeners both hear; unsubscribing one leaves the other", async () => {
      const [org, other] = [rid('org'), rid('org')];
      const a: string[] = [];
      const c: string[] = [];
      const stopA = await b.events.subscribe(org, (ev) => a.push(ev.json));
      const stopC = await b.events.subscribe(org, (ev) => c.push(ev.json));
      const stopOther = await b.events.subscribe(other, () => assert.fail('another org heard it'));
      try {
        b.events.publish(org, 'call.updated', 'u1', '{"n":1}');
        assert.ok(await waitFor(() => a.length === 1 && c.length === 1, 3000));
        stopA();
        await sleep(20);
        b.events.publish(org, 'call.updated', 'u1', '{"n":2}');
        assert.ok(await waitFor(() => c.length === 2, 3000));
        await sleep(100);
        assert.deepEqual(a, ['{"n":1}'], 'the unsubscribed listener heard nothing more');
        assert.deepEqual(c, ['{"n":1}', '{"n":2}']);
      } finally {
        stopC();
        stopOther();
      }
    });

    test('after the last listener leaves, nothing is delivered; subscribing again works', async () => {
      const org = rid('org');
      const got: string[] = [];
      const stop = await b.events.subscribe(org, (ev) => got.push(ev.json));
      stop();
      b.events.publish(org, 'call.updated', 'u1', '{"late":true}');
      await sleep(150);
      assert.deepEqual(got, []);
      const again: string[] = [];
      const stop2 = await b.events.subscribe(org, (ev) => again.push(ev.json));
      try {
        b.events.publish(org, 'call.updated', 'u1', '{"again":true}');
        assert.ok(await waitFor(() => again.length === 1, 3000));
        assert.deepEqual(got, []);
      } finally {
        stop2();
      }
    });

    test('across instances: published on one (by hand, or by a call script), heard on the other', async (t) => {
      const peerP = f.peer(b);
      if (!peerP) {
        t.skip('memory backend: one process, there is no second instance to reach');
        return;
      }
      const peer = await peerP;
      const { org } = await orgWithUser(b);
      const heard: DeliveredEvent[] = [];
      const stop = await peer.events.subscribe(org, (ev) => heard.push(ev));
      try {
        b.events.publish(org, 'call.missed', 'u1', '{"x":1}');
        const call = await clickCreated(b, org, 'u1');
        assert.ok(await waitFor(() => heard.length === 2, 3000), `heard ${heard.length}`);
        assert.deepEqual(heard[0], { type: 'call.missed', userId: 'u1', json: '{"x":1}' });
        assert.equal(heard[1].type, 'call.created');
        assert.equal(JSON.parse(heard[1].json).call.id, call.id);
        stop();
        b.events.publish(org, 'call.missed', 'u1', '{"x":2}');
        await sleep(150);
        assert.equal(heard.length, 2, 'unsubscribed: nothing more');
      } finally {
        stop();
      }
    });
  });
}
