// A gateway as a real process (`node --import tsx src/main.ts`, as deployed) on one of the test
// backends: for suites that need two instances sharing one store, and the logs they write.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { backendEnv, eventually, type StoreKind } from './gateway.js';
import { freePort } from './net.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  /** the last 4,000 characters it wrote (stdout and stderr) */
  output: () => string;
  /** everything it wrote (for the secrets sweep) */
  fullOutput: () => string;
}

export async function startGatewayProcess(adminToken: string, kind: StoreKind, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...backendEnv(kind),
      DIALGATE_ADMIN_TOKEN: adminToken,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const all: string[] = [];
  const keep = (d: Buffer) => {
    out = (out + d).slice(-4000);
    all.push(String(d));
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (proc.exitCode !== null) throw new Error(`gateway exited with ${proc.exitCode}: ${out}`);
      return (await fetch(url + '/readyz', { signal: AbortSignal.timeout(1000) })).status === 200;
    },
    // tsx compiles the whole service at start: slow on a loaded machine
    120_000,
    `gateway on port ${port} to be ready`,
  );
  return { proc, url, output: () => out, fullOutput: () => all.join('') };
}

export async function stopGatewayProcess(i: GatewayProcess | undefined): Promise<void> {
  if (!i || i.proc.exitCode !== null) return;
  const exited = new Promise((r) => i.proc.once('exit', r));
  i.proc.kill('SIGTERM');
  const t = setTimeout(() => i.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}
