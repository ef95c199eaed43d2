// The signed-webhook CRM receiver the benchmarks log calls to: the test fake
// (test/fakes/webhook-crm) in its own process, so it never shares an event loop with what is measured.

import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export interface Receiver {
  url: string;
  secret: string;
  stats(): Promise<{ deliveries: number; duplicates: number; rejected: number }>;
  stop(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = fork(resolve(import.meta.dirname, '../../test/fakes/webhook-crm/standalone.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const hello = await new Promise<{ url: string; secret: string }>((res, rej) => {
    child.once('message', (m) => res(m as { url: string; secret: string }));
    child.once('exit', (code) => rej(new Error(`webhook receiver exited (${code})`)));
  });
  return {
    ...hello,
    stats: () =>
      new Promise((res) => {
        child.once('message', (m) => res(m as { deliveries: number; duplicates: number; rejected: number }));
        child.send('stats');
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.disconnect();
      await exited;
    },
  };
}

