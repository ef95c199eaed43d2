// The drachtio connection pool: one connection per drachtio-server shared by providers,
// reconnect after loss (clean or silent), readiness reporting, authentication failure, and
// inbound dispatch between two providers sharing a connection.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SipAdapter, sipConnectionsHealthy, sipKind } from '../../adapters/sip/index.js';
import type { FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { scripts } from '../fakes/drachtio/server.js';
import {
  AGENT_URI,
  RecordingSink,
  SECRET,
  TRUNK2_ADDR,
  adapterOn,
  call,
  context,
  provider,
  sipConfig,
  srfDialogs,
  startDouble,
  testPool,
  user,
  waitFor,
} from './helpers.js';

describe('sip drachtio connection', () => {
  let double: FakeDrachtioServer;

  before(async () => {
    double = await startDouble();
  });

  after(async () => {
    await double.close();
  });

  test('two providers on one drachtio-server share one connection, closed with the last of them', async () => {
    const pool = testPool();
    const before = double.connectionsAccepted;
    const a = await adapterOn(double, pool);
    const b = await adapterOn(double, pool);
    assert.equal(pool.connections().length, 1);
    assert.equal(a.adapter.conn, b.adapter.conn);
    assert.equal(double.connectionsAccepted - before, 1, 'a single TCP connection');
    assert.equal(double.connectedClients(), 1);
    assert.equal(pool.health().detail[0].users, 2);
    // route|invite is registered once on that connection
    assert.equal(double.wire.filter((w) => w.dir === 'app→server' && /\|route\|invite$/.test(w.payload)).length, 1);

    await a.adapter.close();
    assert.equal(pool.connections().length, 1);
    assert.equal((await b.adapter.health()).healthy, true);
    // the remaining provider still dials through it
    const c = call();
    const r = await b.adapter.dial({ call: c, user: user(), to: '+15551230000', idempotencyToken: c.id });
    await waitFor(() => b.sink.statuses(r.providerCallId).includes('answered'), 'answered');
    await b.adapter.hangUp({ ...c, providerCallId: r.providerCallId });
    await waitFor(() => b.sink.terminal(r.providerCallId), 'completed');

    await b.adapter.close();
    assert.equal(pool.connections().length, 0);
    await waitFor(() => double.connectedClients() === 0, 'connection closed');
    assert.deepEqual(pool.health(), { ok: true, detail: [] });
  });

  test('a different secret is a different connection; a wrong one never connects and never leaks', async () => {
    const pool = testPool();
    const p = provider(sipConfig(double, { drachtio: { host: '127.0.0.1', port: double.port, secret: 'wrong-secret-value' } }));
    const failuresBefore = double.authFailures;
    const adapter = new SipAdapter(context(p, new RecordingSink()), pool);
    await waitFor(() => double.authFailures >= failuresBefore + 2, 'retries with backoff after refusal');
    const h = await adapter.health();
    assert.equal(h.healthy, false);
    assert.match(h.detail!, /not connected: authentication to drachtio-server failed/);
    assert.ok(!JSON.stringify(h).includes('wrong-secret-value'));
    const ready = pool.health();
    assert.equal(ready.ok, false);
    assert.ok(!JSON.stringify(ready).includes('wrong-secret-value'));
    const c = call();
    await assert.rejects(
      adapter.dial({ call: c, user: user(), to: '+15551230000', idempotencyToken: c.id }),
      (e: Error & { code?: string; notAccepted?: boolean }) => e.code === 'provider_unavailable' && e.notAccepted === true,
    );
    await adapter.close();
    assert.equal(pool.connections().length, 0);
  });

  test('a dropped connection is reported, active calls end, and the pool reconnects', async () => {
    const pool = testPool();
    const { adapter, sink } = await adapterOn(double, pool);
    const c = call();
    const r = await adapter.dial({ call: c, user: user(), to: '+15551230000', idempotencyToken: c.id });
    await waitFor(() => sink.statuses(r.providerCallId).includes('answered'), 'answered');

    double.dropConnections();
    await waitFor(() => !adapter.conn.connected, 'loss noticed');
    const down = await adapter.health();
    assert.equal(down.healthy, false);
    assert.match(down.detail!, /not connected: connection to drachtio-server closed/);
    assert.equal(pool.health().ok, false);
    await waitFor(() => sink.terminal(r.providerCallId), 'call ended');
    assert.equal(sink.terminal(r.providerCallId)!.status, 'completed');
    assert.match(sink.terminal(r.providerCallId)!.cause!, /drachtio connection lost/);
    assert.equal(adapter.activeCalls(), 0);

    await adapter.conn.waitConnected(5_000);
    assert.ok(adapter.conn.reconnects >= 1);
    assert.equal((await adapter.health()).healthy, true);
    assert.equal(pool.health().ok, true);
    // and calls work again on the new connection
    const c2 = call();
    const r2 = await adapter.dial({ call: c2, user: user(), to: '+15551230000', idempotencyToken: c2.id });
    await waitFor(() => sink.statuses(r2.providerCallId).includes('answered'), 'answered again');
    await adapter.hangUp({ ...c2, providerCallId: r2.providerCallId });
    await waitFor(() => sink.terminal(r2.providerCallId), 'completed');
    await waitFor(() => srfDialogs(adapter) === 0, 'no srf dialogs');
    await adapter.close();
    // the double's side of the dialogs lost with the first connection is not ours to clean
    for (const d of [...double.dialogs.values()]) double.dialogs.delete(d.id);
  });

  test('silent loss (server stops answering pings, socket stays open) is detected and reconnected', async () => {
    const pool = testPool();
    const { adapter } = await adapterOn(double, pool);
    const before = double.connectionsAccepted;
    double.goSilent();
    // srf pings every 5 s; the pong timeout is 1 s
    await waitFor(() => !adapter.conn.connected, 'silent loss noticed', 12_000);
    assert.match(adapter.conn.lastError!, /stopped answering pings/);
    assert.equal((await adapter.health()).healthy, false);
    await adapter.conn.waitConnected(5_000);
    assert.ok(double.connectionsAccepted > before, 'a new TCP connection');
    assert.equal((await adapter.health()).healthy, true);
    await adapter.close();
  });

  test('inbound dispatch among providers sharing a connection: trunk-host match first, then any owner of the DID', async () => {
    const pool = testPool();
    const sinkA = new RecordingSink();
    const sinkB = new RecordingSink();
    const a = await adapterOn(double, pool, {}, sinkA);
    const b = await adapterOn(double, pool, { trunk: { uri: `sip:${TRUNK2_ADDR}:5060` } }, sinkB);
    sinkA.dids.set('+15557770001', user({ sipUri: AGENT_URI }));
    sinkB.dids.set('+15557770002', user({ sipUri: AGENT_URI }));
    double.ua('agent').script = scripts.reject(486, { ringMs: 1, afterMs: 2 });

    // from trunk2 to B's DID: B's trunk matches, A is never asked
    const inv1 = double.placeCall('trunk2', { to: '+15557770002', from: '+15554443333' });
    await waitFor(() => sinkB.terminal(inv1.callId), 'B handled it');
    assert.equal(sinkA.inboundEvents.length, 0);

    // from trunk (A's host) to B's DID: A is asked first, does not know it, B takes it
    const inv2 = double.placeCall('trunk', { to: '+15557770002', from: '+15554443333' });
    await waitFor(() => sinkB.terminal(inv2.callId), 'B handled it');
    assert.equal(sinkA.inboundEvents.length, 1);
    assert.equal(sinkA.statuses(inv2.callId).length, 0);

    // unknown to both → 404
    const inv3 = double.placeCall('trunk', { to: '+15557770009', from: '+15554443333' });
    await waitFor(() => inv3.final(), 'final');
    assert.equal(inv3.final(), 404);
    double.ua('agent').script = scripts.answer();
    await a.adapter.close();
    await b.adapter.close();
  });

  test('the registered kind and readiness export', () => {
    assert.equal(sipKind.kind, 'sip');
    assert.deepEqual(sipKind.secretFields, ['drachtio.secret', 'trunk.password']);
    const ready = sipConnectionsHealthy();
    assert.equal(typeof ready.ok, 'boolean');
    assert.ok(Array.isArray(ready.detail));
    assert.ok(SECRET.length > 0);
  });
});
