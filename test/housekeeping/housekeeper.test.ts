// The housekeeper (src/housekeeping/housekeeper.ts): one instance at a time runs a round over
// every org, and its tasks (provider probes, the stuck-call reconciler) each run for each org,
// one failing task stopping neither the others nor the round.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Housekeeper } from '../../src/housekeeping/housekeeper.js';
import { createBackend, type Backend } from '../../src/store/backend.js';

describe('housekeeper', () => {
  let b: Backend;
  before(async () => {
    b = await createBackend({ queuePrefix: '{hk}', queueShards: 1, callRetentionSec: 60 }, { logger: pino({ level: 'silent' }) });
    for (const id of ['org_a', 'org_b']) {
      await b.orgs.createOrg({ id, name: id, createdAt: new Date().toISOString() }, { keyId: `k_${id}`, orgId: id, secretHash: 'x'.repeat(64), createdAt: new Date().toISOString() });
    }
  });
  after(async () => {
    await b.close();
  });

  test('tasks run for every org; a task that throws for one org stops neither the other task nor the other org', async () => {
    const ran: string[] = [];
    const hk = new Housekeeper(b, undefined, pino({ level: 'silent' }), {
      tasks: [
        async (org) => {
          ran.push(`probe ${org}`);
          if (org === 'org_a') throw new Error('provider API down');
        },
        async (org) => void ran.push(`reconcile ${org}`),
      ],
    });
    assert.equal(await hk.round(), true);
    assert.deepEqual(ran.sort(), ['probe org_a', 'probe org_b', 'reconcile org_a', 'reconcile org_b']);
  });

  test('one instance at a time: a round while another holds the lock does nothing', async () => {
    let runs = 0;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = new Housekeeper(b, undefined, pino({ level: 'silent' }), { tasks: [async () => void (runs++, await held)] });
    const other = new Housekeeper(b, undefined, pino({ level: 'silent' }), { tasks: [async () => void runs++] });
    const first = slow.round();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await other.round(), false, 'the lock is held');
    release();
    assert.equal(await first, true);
    assert.equal(runs, 2, "only the lock holder's task ran (once per org)");
  });
});
