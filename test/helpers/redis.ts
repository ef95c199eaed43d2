// Where the tests' Redis is: scripts/test.mjs starts a throwaway one and a throwaway Redis Cluster
// (or passes REDIS_URL and REDIS_CLUSTER_NODES on).
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

/** The test Redis Cluster's nodes (DIALGATE_TEST_CLUSTER_NODES, host:port,...): the throwaway
 *  cluster `npm test` starts, or REDIS_CLUSTER_NODES passed on. */
export function testClusterNodes(): { host: string; port: number }[] {
  const nodes = process.env.DIALGATE_TEST_CLUSTER_NODES;
  if (!nodes) {
    throw new Error(
      'DIALGATE_TEST_CLUSTER_NODES is not set: run the tests with `npm test` (it starts a throwaway Redis Cluster), or, without redis-server on PATH, set REDIS_CLUSTER_NODES=host:port,... to a cluster they may use',
    );
  }
  return nodes.split(',').map((item) => {
    const hostPort = item.trim();
    const at = hostPort.lastIndexOf(':');
    const port = Number(hostPort.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`DIALGATE_TEST_CLUSTER_NODES: "${item}" is not host:port`);
    return { host: hostPort.slice(0, at), port };
  });
}

/** True when the test cluster is the throwaway one `npm test` started, so a suite may restart its nodes. */
export function clusterOwned(): boolean {
  return process.env.DIALGATE_TEST_CLUSTER_OWNED === '1';
}

/** Every key of the test Redis whose name matches a glob (SCAN: never KEYS, never a flush). */
export async function keysMatching(pattern: string): Promise<string[]> {
  const r = testRedisClient();
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      out.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return out.sort();
  } finally {
    r.disconnect();
  }
}
