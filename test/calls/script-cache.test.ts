// The gateway's Redis connection after the server forgot its scripts (a restart without
// persistence, SCRIPT FLUSH): the first run of each script answers NOSCRIPT and is retried with
// EVAL. That error reply must stay with its own command: if it dropped the connection, every
// click in flight beside it would fail with 503.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { testRedisUrl } from '../helpers/redis.js';
import { FROZEN, installSim, liftRateLimits, must, putUser, uid } from './setup.js';

describe('click-to-call right after the Redis script cache was flushed', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ store: 'redis' });
  });
  after(async () => {
    await gw.close();
  });

  test('concurrent clicks all succeed while every script is reloaded', async (t) => {
    if (process.env.DIALGATE_TEST_REDIS_OWNED !== '1') {
      t.skip('needs the throwaway redis-server of `npm test` (SCRIPT FLUSH would touch a shared Redis)');
      return;
    }
    const org = await gw.createOrg('script cache ' + uid('o'));
    await liftRateLimits(gw, org.apiKey);
    const users = Array.from({ length: 24 }, () => uid());
    for (const u of users) must(await putUser(gw, org.apiKey, u), 201, 'put user');
    await installSim(gw, org.apiKey, FROZEN, users);
    const admin = new Redis(testRedisUrl());
    try {
      await admin.script('FLUSH');
    } finally {
      admin.disconnect();
    }
    const answers = await Promise.all(
      users.map((userId, i) => gw.req('POST', '/v1/calls', { key: org.apiKey, body: { userId, to: `+1416555${String(1000 + i)}` } })),
    );
    assert.deepEqual(
      answers.map((r) => r.status),
      users.map(() => 201),
      answers.find((r) => r.status !== 201)?.text ?? '',
    );
  });
});
