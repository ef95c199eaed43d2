// Trunk health by SIP OPTIONS: optionsFailureThreshold consecutive failures → unhealthy, one
// success → healthy again.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SipAdapter } from '../../adapters/sip/index.js';
import type { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import type { FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { TRUNK_ADDR, adapterOn, startDouble, testPool, waitFor } from './helpers.js';

describe('sip trunk health (OPTIONS)', () => {
  let double: FakeDrachtioServer;
  let pool: SipConnectionPool;
  let adapter: SipAdapter;

  before(async () => {
    double = await startDouble();
    pool = testPool();
    ({ adapter } = await adapterOn(double, pool, { optionsIntervalMs: 150, optionsFailureThreshold: 3 }));
  });

  after(async () => {
    await adapter.close();
    pool.closeAll();
    await double.close();
  });

  test('OPTIONS go to the trunk URI at the interval; a 200 keeps the provider healthy', async () => {
    await waitFor(() => adapter.trunk.probes >= 2, 'two probes');
    const opts = double.entries('trunk').filter((e) => e.msg.method === 'OPTIONS');
    assert.ok(opts.length >= 2);
    assert.equal(opts[0].msg.uri, `sip:${TRUNK_ADDR}:5060`);
    assert.deepEqual(double.sequence('trunk', opts[0].msg.callId), ['→OPTIONS', '←200 OPTIONS']);
    const h = await adapter.health();
    assert.equal(h.healthy, true, h.detail ?? '');
  });

  test('5xx: still healthy after threshold-1 failures, unhealthy at the threshold, healthy after one success', async () => {
    const trunk = double.ua('trunk');
    trunk.optionsStatus = 503;
    await waitFor(() => adapter.trunk.consecutiveFailures === 2, 'two failures');
    assert.equal((await adapter.health()).healthy, true, 'two failures are not enough');
    await waitFor(() => adapter.trunk.consecutiveFailures >= 3, 'three failures');
    const down = await adapter.health();
    assert.equal(down.healthy, false);
    assert.match(down.detail!, /trunk not answering OPTIONS \(\d+ consecutive failures, last: OPTIONS 503\)/);
    trunk.optionsStatus = 200;
    await waitFor(() => adapter.trunk.consecutiveFailures === 0, 'recovered');
    assert.equal((await adapter.health()).healthy, true);
  });

  test('silence (no response in time) counts as a failure; a 404 answer shows the trunk is up', async () => {
    const trunk = double.ua('trunk');
    trunk.optionsStatus = null;
    await waitFor(() => adapter.trunk.consecutiveFailures >= 3, 'three timeouts');
    const down = await adapter.health();
    assert.equal(down.healthy, false);
    assert.match(down.detail!, /timed out/);
    trunk.optionsStatus = 404;
    await waitFor(() => adapter.trunk.consecutiveFailures === 0, 'recovered on a 404');
    assert.equal((await adapter.health()).healthy, true);
    trunk.optionsStatus = 200;
    // the double's stack answers silent OPTIONS itself with a 408 after Timer F; let those land
    await new Promise((r) => setTimeout(r, 2_200));
  });
});
