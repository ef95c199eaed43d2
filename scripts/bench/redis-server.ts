// A throwaway redis-server for benchmarks: a free port on 127.0.0.1, no persistence, its own temp
// dir, stopped (and the dir removed) by stop(). Only used when no REDIS_URL is given.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface ThrowawayRedis {
  url: string;
  stop(): Promise<void>;
}

export function redisServerOnPath(): boolean {
  return spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(timeoutMs = 10_000): Promise<ThrowawayRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dialgate-bench-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `redis://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null) {
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return { url, stop };
    } catch {
      c.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
}

export interface ThrowawayCluster {
  /** seed nodes, host:port */
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || taken.has(port)) continue;
    const bus = await new Promise<boolean>((res) => {
      const srv = createServer();
      srv.once('error', () => res(false));
      srv.listen(port + 10_000, '127.0.0.1', () => srv.close(() => res(true)));
    });
    if (bus) return port;
  }
  throw new Error('found no free port pair for a cluster node');
}

/** A throwaway 3-master Redis Cluster (no replicas, no persistence), as `npm test` starts one. */
export async function startRedisCluster(masters = 3, timeoutMs = 20_000): Promise<ThrowawayCluster> {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) {
    const p = await freeClusterPort(taken);
    taken.add(p);
    ports.push(p);
  }
  const dir = mkdtempSync(join(tmpdir(), 'dialgate-bench-cluster-'));
  const procs = ports.map((port) =>
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    ),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map(async (proc) => {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      await exited;
    }));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + timeoutMs;
    for (const port of ports) {
      for (;;) {
        const c = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => {});
        try {
          await c.connect();
          await c.ping();
          c.disconnect();
          break;
        } catch {
          c.disconnect();
          if (Date.now() > deadline) throw new Error(`cluster node ${port} did not answer within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${(create.stdout + create.stderr).trim().split('\n').pop()}`);
    for (;;) {
      const states = await Promise.all(ports.map(async (port) => {
        const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 });
        try {
          return /cluster_state:ok/.test(await c.cluster('INFO'));
        } finally {
          c.disconnect();
        }
      }));
      if (states.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
}
