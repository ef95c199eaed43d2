// WebSocket /v1/events on both stores: authentication (header or ?access_token=), org isolation,
// userId narrowing, heartbeats that drop dead sockets, slow consumers cut off instead of buffered
// without bound, and the open-sockets gauge.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { MAX_BUFFERED_BYTES } from '../../src/events/ws-server.js';
import { connectEvents, eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { FROZEN, STORES, must, putUser, randomDid, simOrg, uid } from '../calls/setup.js';

const wsUrl = (gw: TestGateway, query = '') => gw.url.replace(/^http/, 'ws') + '/v1/events' + query;

/** Opens a socket and resolves with its first two messages (the live-calls snapshot, then hello), or rejects with the refusal status. */
function open(url: string, opts: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; snapshot: any; hello: any; pings: () => number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    // counted from the start: a ping can arrive in the same read as the hello
    let pings = 0;
    ws.on('ping', () => pings++);
    const first: any[] = [];
    const onMessage = (d: WebSocket.RawData) => {
      first.push(JSON.parse(String(d)));
      if (first.length < 2) return;
      ws.off('message', onMessage);
      resolve({ ws, snapshot: first[0], hello: first[1], pings: () => pings });
    };
    ws.on('message', onMessage);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.once('error', (e) => reject(e));
  });
}

async function refusal(url: string, opts: WebSocket.ClientOptions = {}): Promise<{ status: number; body: any }> {
  try {
    const { ws } = await open(url, opts);
    ws.terminate();
  } catch (e: any) {
    if (e.status) return { status: e.status, body: JSON.parse(e.body) };
    throw e;
  }
  throw new Error(`${url} was accepted`);
}

async function gauge(gw: TestGateway): Promise<number> {
  const m = /^dialgate_websocket_connections (\d+)/m.exec((await gw.req('GET', '/metrics')).text);
  return m ? Number(m[1]) : NaN;
}

async function counter(gw: TestGateway, reason: string): Promise<number> {
  const m = new RegExp(`^dialgate_websocket_dropped_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec((await gw.req('GET', '/metrics')).text);
  return m ? Number(m[1]) : 0;
}

for (const store of STORES) {
  describe(`events WebSocket (${store} store)`, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startGateway({ store });
    });
    after(async () => {
      await gw.close();
    });

    test('authenticated by Authorization header or ?access_token=; refused without a valid key', async () => {
      const o = await simOrg(gw, FROZEN);
      const byHeader = await open(wsUrl(gw), { headers: { authorization: `Bearer ${o.apiKey}` } });
      assert.deepEqual(byHeader.snapshot, { type: 'calls.snapshot', calls: [] }, 'the live calls come first');
      assert.deepEqual(byHeader.hello, { type: 'hello', orgId: o.orgId, userId: null });
      const byQuery = await open(wsUrl(gw, `?access_token=${encodeURIComponent(o.apiKey)}&userId=${o.userId}`));
      assert.deepEqual(byQuery.hello, { type: 'hello', orgId: o.orgId, userId: o.userId });
      byHeader.ws.close();
      byQuery.ws.close();

      const none = await refusal(wsUrl(gw));
      assert.equal(none.status, 401);
      assert.equal(none.body.error.code, 'unauthorized');
      const bad = await refusal(wsUrl(gw, '?access_token=dgk_nope.nope'));
      assert.equal(bad.status, 401);
      const wrong = await refusal(wsUrl(gw), { headers: { authorization: `Bearer ${o.apiKey}x` } });
      assert.equal(wrong.status, 401);
      const badUser = await refusal(wsUrl(gw, '?userId=' + encodeURIComponent('no spaces')), { headers: { authorization: `Bearer ${o.apiKey}` } });
      assert.equal(badUser.status, 400);
      const elsewhere = await refusal(gw.url.replace(/^http/, 'ws') + '/v1/other', { headers: { authorization: `Bearer ${o.apiKey}` } });
      assert.equal(elsewhere.status, 404);
      // the key never shows up in an answer
      assert.doesNotMatch(JSON.stringify([none, bad, wrong, badUser]), new RegExp(o.apiKey.slice(-12)));
    });

    test("another org's events are never delivered", async () => {
      const did1 = randomDid();
      const o1 = await simOrg(gw, FROZEN, { numbers: [did1] });
      const o2 = await simOrg(gw, FROZEN);
      const s1 = await gw.events(o1.apiKey);
      const s2 = await gw.events(o2.apiKey);
      try {
        const pop = must(await gw.req('POST', `/webhooks/sim/${o1.providerId}/inbound`, { body: { from: '+14169671111', to: did1 } }), 200, 'inbound');
        const c1 = must(await gw.req('POST', '/v1/calls', { key: o1.apiKey, body: { userId: o1.userId, to: '+14169671111' } }), 201, 'dial 1');
        await s1.next((m) => m.type === 'call.incoming' && m.call.id === pop.body.callId);
        await s1.next((m) => m.type === 'call.created' && m.call.id === c1.body.id);
        // org 2's own event, published after org 1's: once it arrives, org 1's would have too
        const c2 = must(await gw.req('POST', '/v1/calls', { key: o2.apiKey, body: { userId: o2.userId, to: '+14169671111' } }), 201, 'dial 2');
        await s2.next((m) => m.type === 'call.created' && m.call.id === c2.body.id);
        await new Promise((r) => setTimeout(r, 100));
        const foreign = s2.messages.filter((m) => m.type !== 'hello' && m.type !== 'calls.snapshot' && m.call.userId !== o2.userId);
        assert.deepEqual(foreign, []);
        for (const m of s1.messages) assert.equal(m.orgId === undefined || m.type === 'hello' || m.type === 'calls.snapshot', true, 'no org id inside call events');
      } finally {
        s1.close();
        s2.close();
      }
    });

    test('?userId= narrows click-to-call events to that user', async () => {
      const o = await simOrg(gw, FROZEN);
      const other = uid();
      must(await putUser(gw, o.apiKey, other), 201, 'user 2');
      must(await gw.req('POST', `/v1/providers/${o.providerId}/users`, { key: o.apiKey, body: { userIds: [other] } }), 200, 'assign');
      const narrow = await gw.events(o.apiKey, other);
      try {
        must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: o.userId, to: '+14169671111' } }), 201, 'dial 1');
        const mine = must(await gw.req('POST', '/v1/calls', { key: o.apiKey, body: { userId: other, to: '+14169671111' } }), 201, 'dial 2');
        await narrow.next((m) => m.type === 'call.status' && m.call.id === mine.body.id);
        assert.ok(narrow.messages.length >= 2);
        for (const m of narrow.messages.filter((x) => x.type !== 'hello' && x.type !== 'calls.snapshot')) assert.equal(m.call.userId, other);
      } finally {
        narrow.close();
      }
    });

    test('a slow consumer is cut off once its buffer passes the limit; a reading socket keeps up', async () => {
      const o = await simOrg(gw, FROZEN);
      const healthy = await gw.events(o.apiKey);
      const slow = await gw.events(o.apiKey);
      const droppedBefore = await counter(gw, 'slow_consumer');
      const countBefore = gw.gw.sockets.count();
      // the slow client stops reading: its TCP window fills, then the server's buffer grows
      (slow.ws as any)._socket.pause();
      const pad = 'x'.repeat(64 * 1024);
      const call = { id: 'call_big', userId: o.userId, providerId: o.providerId, direction: 'outbound', to: '+14169671111', status: 'ringing', createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), history: [], providerKind: 'sim', cause: pad } as any;
      try {
        let sent = 0;
        // paced by the healthy client (at most 4 messages ahead of it), so only the slow one lags
        for (; sent < 3000 && gw.gw.sockets.count() === countBefore; sent++) {
          gw.gw.parts.backend.events.publish(o.orgId, 'call.status', o.userId, JSON.stringify({ type: 'call.status', call: { ...call, id: `call_big_${sent}` } }));
          if (sent >= 4) await healthy.next((m) => m.call?.id === `call_big_${sent - 4}`, 10_000);
        }
        await eventually(async () => gw.gw.sockets.count() === countBefore - 1, 10_000, 'the slow socket to be closed');
        assert.ok(sent < 3000, 'cut off before 3000 × 64 KB were sent');
        // it was cut off near the limit, not after buffering everything
        assert.ok(sent * pad.length < 64 * MAX_BUFFERED_BYTES, `cut off after ${sent} messages`);
        assert.equal(await counter(gw, 'slow_consumer'), droppedBefore + 1);
        await healthy.next((m) => m.call?.id === `call_big_${sent - 1}`, 10_000);
        assert.equal(healthy.ws.readyState, WebSocket.OPEN, 'the reading socket is still connected');
      } finally {
        healthy.close();
        slow.ws.terminate();
      }
    });

    test('dialgate_websocket_connections follows open sockets', async () => {
      const o = await simOrg(gw, FROZEN);
      const base = await gauge(gw);
      const a = await gw.events(o.apiKey);
      const b = await gw.events(o.apiKey, o.userId);
      assert.equal(await gauge(gw), base + 2);
      a.close();
      await eventually(async () => (await gauge(gw)) === base + 1, 5000, 'gauge down by one');
      b.ws.terminate();
      await eventually(async () => (await gauge(gw)) === base, 5000, 'gauge back to base');
    });
  });
}

describe('events WebSocket heartbeat', () => {
  // long enough that a live client on a loaded machine always answers in time
  const HEARTBEAT_MS = 1000;
  let gw: TestGateway;
  before(async () => {
    // read once when the socket server starts: only this gateway beats this fast
    process.env.DIALGATE_WS_HEARTBEAT_MS = String(HEARTBEAT_MS);
    try {
      gw = await startGateway({ store: 'memory' });
    } finally {
      delete process.env.DIALGATE_WS_HEARTBEAT_MS;
    }
  });
  after(async () => {
    await gw.close();
  });

  test('a client that stops answering pings is dropped; one that answers stays', async () => {
    const o = await simOrg(gw, FROZEN);
    const before = await counter(gw, 'heartbeat');
    const live = await connectEvents(gw.url, o.apiKey);
    // a dead peer: connected, but never answers a ping
    const t0 = Date.now();
    const dead = await open(wsUrl(gw), { headers: { authorization: `Bearer ${o.apiKey}` }, autoPong: false });
    const closed = new Promise<number>((r) => dead.ws.once('close', (code) => r(code)));
    try {
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        closed,
        new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error('dead socket not dropped')), 20 * HEARTBEAT_MS))),
      ]).finally(() => clearTimeout(timer));
      assert.equal(code, 1006, 'terminated, not closed politely');
      assert.ok(dead.pings() >= 1, 'it was pinged first');
      assert.ok(Date.now() - t0 >= HEARTBEAT_MS, 'given one interval to answer');
      assert.equal(await counter(gw, 'heartbeat'), before + 1);
      // the answering client outlives several more intervals
      await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
      assert.equal(live.ws.readyState, WebSocket.OPEN);
    } finally {
      live.close();
      dead.ws.terminate();
    }
  });
});
