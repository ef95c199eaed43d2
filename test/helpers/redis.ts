// Where the tests' Redis is: scripts/test.mjs starts a throwaway one (or passes REDIS_URL on).
import { Redis } from 'ioredis';

export function testRedisUrl(): string {
  const url = process.env.DIALGATE_TEST_REDIS_URL;
  if (!url) throw new Error('DIALGATE_TEST_REDIS_URL is not set: run the tests with `npm test` (it starts a throwaway redis-server)');
  return url;
}

/** A fresh client for a test; the caller quits it. */
export function testRedisClient(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
}
