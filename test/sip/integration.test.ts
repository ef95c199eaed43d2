// Against a REAL drachtio-server and sipp (Debian package sip-tester): sipp plays the agent's
// phone (UAS), the customer behind the trunk (UAS) and the carrier sending inbound calls (UAC).
// Runs only when DRACHTIO_ADDRESS (host:port of drachtio's admin port) and DRACHTIO_SECRET are set
// and sipp is on PATH; DRACHTIO_SIP (host:port of drachtio's SIP listener, default
// 127.0.0.1:5060) is where sipp sends inbound calls. Everything stays on 127.0.0.1.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { SipAdapter } from '../../adapters/sip/index.js';
import { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import { RecordingSink, call, context, provider, srfDialogs, user, waitFor } from './helpers.js';

const address = process.env.DRACHTIO_ADDRESS;
const secret = process.env.DRACHTIO_SECRET;
const hasSipp = spawnSync('sh', ['-c', 'command -v sipp'], { encoding: 'utf8' }).status === 0;
const skip = !address
  ? 'DRACHTIO_ADDRESS (host:port) is not set: no real drachtio-server to run against'
  : !secret
    ? 'DRACHTIO_SECRET is not set'
    : !hasSipp
      ? 'sipp is not on PATH (Debian: apt-get install sip-tester)'
      : false;
if (skip) console.log(`# sip integration suite skipped: ${skip}`);

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

interface Sipp {
  proc: ChildProcess;
  exit: Promise<number>;
  output: () => string;
}

function sipp(args: string[]): Sipp {
  const proc = spawn('sipp', ['-nostdin', '-timeout', '60s', '-timeout_error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d.toString()));
  proc.stderr!.on('data', (d) => (out += d.toString()));
  const exit = new Promise<number>((resolve) => proc.on('exit', (code) => resolve(code ?? -1)));
  return { proc, exit, output: () => out.slice(-2000) };
}

describe('sip integration: real drachtio-server + sipp', () => {
  const [host, portText] = (address ?? ':').split(':');
  const [sipHost, sipPortText] = (process.env.DRACHTIO_SIP ?? '127.0.0.1:5060').split(':');
  let pool: SipConnectionPool;
  let adapter: SipAdapter;
  let sink: RecordingSink;
  let agentPort: number;
  let customerPort: number;
  const children: Sipp[] = [];

  before(async () => {
    if (skip) return;
    agentPort = await freeUdpPort();
    customerPort = await freeUdpPort();
    pool = new SipConnectionPool({ reconnectMinMs: 100, reconnectMaxMs: 1_000 });
    sink = new RecordingSink();
    const p = provider({
      drachtio: { host, port: Number(portText), secret },
      trunk: { uri: `sip:127.0.0.1:${customerPort}` },
      callerId: '+15550001111',
      inboundAllow: ['127.0.0.0/8'],
      optionsIntervalMs: 60_000,
    });
    adapter = new SipAdapter(context(p, sink), pool);
    await adapter.conn.waitConnected(10_000);
  });

  after(async () => {
    if (skip) return;
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
    await adapter?.close();
    pool?.closeAll();
  });

  function uas(port: number, calls: number): Sipp {
    const s = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-m', String(calls)]);
    children.push(s);
    return s;
  }

  async function clickToCall(n: number): Promise<void> {
    const agent = uas(agentPort, n);
    const customer = uas(customerPort, n);
    await new Promise((r) => setTimeout(r, 300)); // let sipp bind
    const agentUser = user({ sipUri: `sip:agent@127.0.0.1:${agentPort}` });
    const dials = await Promise.all(
      Array.from({ length: n }, async () => {
        const c = call();
        const r = await adapter.dial({ call: c, user: agentUser, to: '+15551230000', idempotencyToken: c.id });
        return { c, id: r.providerCallId };
      }),
    );
    await waitFor(() => dials.every((d) => sink.statuses(d.id).includes('answered')), `${n} calls answered`, 30_000);
    await Promise.all(dials.map((d) => adapter.hangUp({ ...d.c, providerCallId: d.id })));
    await waitFor(() => dials.every((d) => sink.terminal(d.id)), 'all ended', 30_000);
    for (const d of dials) assert.equal(sink.terminal(d.id)!.status, 'completed');
    assert.equal(await agent.exit, 0, `agent sipp: ${agent.output()}`);
    assert.equal(await customer.exit, 0, `customer sipp: ${customer.output()}`);
    await waitFor(() => adapter.activeCalls() === 0 && srfDialogs(adapter) === 0, 'no leaked dialogs');
  }

  test('click-to-call connects agent and customer and tears down cleanly', { skip }, async () => {
    await clickToCall(1);
  });

  test('inbound from the trunk reaches the agent', { skip }, async () => {
    const did = '+15557770000';
    sink.dids.set(did, user({ sipUri: `sip:agent@127.0.0.1:${agentPort}` }));
    const agent = uas(agentPort, 1);
    await new Promise((r) => setTimeout(r, 300));
    const carrier = sipp(['-sn', 'uac', '-i', '127.0.0.1', '-s', did, '-m', '1', '-d', '1000', `${sipHost}:${sipPortText}`]);
    children.push(carrier);
    assert.equal(await carrier.exit, 0, `carrier sipp: ${carrier.output()}`);
    assert.equal(await agent.exit, 0, `agent sipp: ${agent.output()}`);
    const ev = sink.inboundEvents.at(-1)!;
    assert.equal(ev.to, did);
    await waitFor(() => sink.terminal(ev.providerCallId), 'inbound ended', 10_000);
    assert.equal(sink.terminal(ev.providerCallId)!.status, 'completed');
    await waitFor(() => adapter.activeCalls() === 0 && srfDialogs(adapter) === 0, 'no leaked dialogs');
  });

  test('20 concurrent click-to-calls complete with no leaked dialogs', { skip }, async () => {
    await clickToCall(20);
  });
});
