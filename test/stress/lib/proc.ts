// Real processes for the stress suite: a redis-server with an append-only file on a fixed port
// (so a restart comes back where the clients reconnect), gateways (`node --import tsx
// src/main.ts`), the call-log worker (`src/worker.ts`) and the webhook-CRM fake, each with its
// stdout/stderr written to a file of the run directory so the suite can grep them afterwards.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../helpers/net.js';

export { freePort };

export const ROOT = resolve(import.meta.dirname, '../../..');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value, or throws after timeoutMs naming what it waited for. */
export async function until<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

/** A child process whose output goes to <dir>/<name>.log (both streams, in arrival order). */
export class Proc {
  child!: ChildProcess;
  exited!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly logFile: string;
  starts = 0;

  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly cmd: string,
    private readonly args: string[],
    readonly env: Record<string, string>,
    private readonly ipc = false,
  ) {
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${name}.log`);
  }

  spawn(): this {
    this.starts++;
    // the process writes straight into its log file: through a pipe, a busy parent (the load
    // generator) would let the pipe fill, and the child's synchronous log writes would stall
    // its event loop — the figures would measure the harness, not the gateway
    const fd = openSync(this.logFile, 'a');
    // a clean environment: the developer's own REDIS_URL or LOG_LEVEL never leak into a run
    const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production' };
    this.child = spawn(this.cmd, this.args, {
      cwd: ROOT,
      env: { ...base, ...this.env },
      stdio: this.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
    });
    closeSync(fd);
    this.exited = new Promise((res) => this.child.once('exit', (code, signal) => res({ code, signal })));
    live.add(this);
    void this.exited.then(() => live.delete(this));
    return this;
  }

  get running(): boolean {
    return this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  lastOutput(): string {
    return this.output().slice(-4000);
  }

  /** Everything the process (all its runs) wrote. */
  output(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves on exit. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.child) return { code: null, signal: null };
    if (this.running) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
      const r = await this.exited;
      clearTimeout(t);
      return r;
    }
    return this.exited;
  }
}

const live = new Set<Proc>();

/** Kills whatever a run left behind (a failed assertion must not leave processes running). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(5_000)));
}

process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

// ---- redis-server ---------------------------------------------------------------------------

/**
 * A redis-server configured as a production one would be for durable queues: an append-only file
 * fsynced on every write, so a crash (SIGKILL) loses nothing that was acknowledged. Fixed port,
 * so restarting it brings it back where the gateways' clients reconnect.
 */
export class RedisProc extends Proc {
  constructor(
    dir: string,
    readonly port: number,
    readonly appendfsync: 'always' | 'everysec' = 'always',
  ) {
    super('redis', dir, 'redis-server', [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', appendfsync,
      '--dir', dir,
      '--loglevel', 'warning',
      '--maxclients', '20000',
    ], {});
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async ping(): Promise<boolean> {
    const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  }

  async start(timeoutMs = 15_000): Promise<this> {
    this.spawn();
    // loading the append-only file after a crash takes a moment: wait for PONG, not LOADING
    await until(async () => (this.running ? this.ping() : Promise.reject(new Error(`redis exited: ${this.lastOutput()}`))), timeoutMs, `redis-server on ${this.port}`, 50);
    return this;
  }

  async crash(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

// ---- node processes -------------------------------------------------------------------------

export class NodeProc extends Proc {
  constructor(name: string, dir: string, script: string, env: Record<string, string>, ipc = false) {
    super(name, dir, process.execPath, ['--import', 'tsx', script], env, ipc);
  }
}
