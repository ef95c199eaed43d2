// The processes under test, each in its own child process so the load generator never shares
// their event loop: the gateway as deployed (`node --import tsx src/main.ts`) and the bare
// node:http baseline (bare-server.ts). Both on 127.0.0.1, free ports, stopped by stop().

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, redisServerOnPath, type ThrowawayRedis } from './redis-server.js';

export { freePort };

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface Child {
  url: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function waitReady(child: Child, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`process exited (${child.proc.exitCode}): ${child.output()}`);
    try {
      const r = await fetch(child.url + path, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms: ${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startChild(args: string[], env: Record<string, string>, port: number): Child {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-4000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return {
    url: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const hard = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(hard);
    },
  };
}

export interface GatewayChild extends Child {
  adminToken: string;
}

/**
 * The gateway on Redis. LOG_LEVEL=warn: the baseline logs nothing per request, so neither does
 * the gateway (at info, pino writes two lines per request).
 */
export async function startGatewayProcess(redis: string | { clusterNodes: { host: string; port: number }[] }, extraEnv: Record<string, string> = {}): Promise<GatewayChild> {
  const store: Record<string, string> = typeof redis === 'string' ? { REDIS_URL: redis } : { REDIS_URL: '', REDIS_CLUSTER_NODES: redis.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',') };
  const port = await freePort();
  const adminToken = 'bench-operator-' + randomBytes(12).toString('hex');
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the gateway there (open in Chrome DevTools)
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = startChild(
    [...prof, '--import', 'tsx', 'src/main.ts'],
    { ...store, DIALGATE_ADMIN_TOKEN: adminToken, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'warn', ...extraEnv },
    port,
  );
  try {
    await waitReady(child, '/readyz', 120_000);
  } catch (e) {
    await child.stop();
    throw e;
  }
  return { ...child, adminToken };
}

export async function startBareServer(redisUrl: string): Promise<Child> {
  const port = await freePort();
  const child = startChild(['--import', 'tsx', 'scripts/bench/bare-server.ts'], { REDIS_URL: redisUrl, PORT: String(port) }, port);
  try {
    await waitReady(child, '/healthz', 60_000);
  } catch (e) {
    await child.stop();
    throw e;
  }
  return child;
}

/** REDIS_URL when set, else a throwaway redis-server (stop() is a no-op for a given one). */
export async function benchRedis(): Promise<ThrowawayRedis> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  if (!redisServerOnPath()) throw new Error('the benchmarks need Redis: put redis-server on PATH or set REDIS_URL');
  return startRedisServer();
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may contain spaces) start after the last ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    return ticks / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a redis-server has used so far (INFO cpu). */
export async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const user = /used_cpu_user:([\d.]+)/.exec(info);
  const sys = /used_cpu_sys:([\d.]+)/.exec(info);
  return user && sys ? Number(user[1]) + Number(sys[1]) : NaN;
}
