// The load part of the stress suite (issue 8, item 6), short form: click-to-call at a fixed rate
// through sim providers with 300 ms API latency on two gateway processes, with agents'
// WebSocket clients connected. Prints the figures; fails on any error. The latency figures of
// the short form are reported, not judged: CI machines are shared. `npm run soak` runs the long
// form (1,000 clicks/s for 60 s, 10,000 sockets).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.js';
import { printTable } from './lib/stats.js';
import { LOAD_SHORT, load } from './scenarios/load.js';

describe('stress: load (short form)', { timeout: 600_000 }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await Cluster.start({ name: 'load', gateways: 2, logLevel: 'info', workerConcurrency: 32 });
  });

  after(async () => {
    await cluster?.stop();
  });

  test('6. sustained click-to-call with agents connected: 0 errors, latency and fan-out reported', async () => {
    const r = await load(cluster, LOAD_SHORT);
    printTable(r);
    assert.deepEqual(r.failures, [], r.failures.join('\n'));
  });
});
