// Gateway processes as deployed (`node --import tsx src/main.ts`) on the test Redis, for tests
// that need two instances sharing one backend, a SIGKILL, or a SIGTERM, and the logs they write.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { backendEnv, eventually, httpJson, type ReqOpts, type Res, type StoreKind } from './gateway.js';
import { freePort } from './net.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  /** the last 8,000 characters it wrote (stdout and stderr) */
  output(): string;
  /** everything it wrote (for the secrets sweep) */
  fullOutput(): string;
  req(method: string, path: string, opts?: ReqOpts): Promise<Res>;
  /** SIGTERM (a graceful stop), SIGKILL after 10 s */
  stop(): Promise<void>;
  /** SIGKILL: the instance dies with whatever it held */
  kill(): Promise<void>;
}

export async function startGatewayProcess(adminToken: string, kind: StoreKind = 'redis', env: Record<string, string> = {}): Promise<GatewayProcess> {
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
    out = (out + d).slice(-8000);
    all.push(String(d));
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  const end = async (signal: NodeJS.Signals) => {
    if (exited()) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  };
  await eventually(
    async () => {
      if (exited()) throw new Error(`gateway exited with ${proc.exitCode ?? proc.signalCode}: ${out}`);
      return (await fetch(url + '/readyz', { signal: AbortSignal.timeout(1000) })).status === 200;
    },
    // tsx compiles the whole service at start: slow on a loaded machine
    120_000,
    `gateway on port ${port} to be ready`,
  );
  return {
    proc,
    url,
    output: () => out,
    fullOutput: () => all.join(''),
    req: (method, path, opts) => httpJson(url, method, path, opts),
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}
