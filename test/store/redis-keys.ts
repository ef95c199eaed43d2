// Test-only key housekeeping on the test Redis or Redis Cluster: list and remove the keys under a
// prefix this suite made up (never a flush). On a cluster every master is scanned on its own
// connection, and keys are removed one by one (a multi-key UNLINK may not span slots).
import { Redis, type Cluster } from 'ioredis';

function globOf(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

/** The masters of a cluster client, or the client itself: where a SCAN must run. */
function scanTargets(client: Redis | Cluster): Redis[] {
  return client instanceof Redis ? [client] : client.nodes('master');
}

/** Every key under `prefix`, on every master, each with the port of the node that holds it. */
export async function keysByPrefix(client: Redis | Cluster, prefix: string): Promise<{ key: string; port: number }[]> {
  const out: { key: string; port: number }[] = [];
  for (const node of scanTargets(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', globOf(prefix), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) out.push({ key, port: Number(node.options.port) });
    } while (cursor !== '0');
  }
  return out;
}

/** Removes every key under `prefix`; returns how many. */
export async function deleteByPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  let n = 0;
  for (const node of scanTargets(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', globOf(prefix), 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const p = node.pipeline();
      for (const k of keys) p.unlink(k);
      for (const [err, r] of (await p.exec()) ?? []) if (!err) n += Number(r);
    } while (cursor !== '0');
  }
  return n;
}
