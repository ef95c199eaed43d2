// Against a REAL drachtio-server and sipp (Debian package sip-tester): sipp plays the agent's
// phone (UAS), the customer behind the trunk (UAS) and the carrier sending inbound calls (UAC).
// Runs only when DRACHTIO_ADDRESS (host:port of drachtio's admin port) and DRACHTIO_SECRET are set
// and sipp is on PATH; DRACHTIO_SIP (host:port of drachtio's SIP listener, default
// 127.0.0.1:5060) is where sipp sends inbound calls. Everything stays on 127.0.0.1.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** sipp's own cumulative counters, from the last row of its -trace_stat file. */
interface SippStats {
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
}

interface Sipp {
  proc: ChildProcess;
  exit: Promise<number>;
  output: () => string;
  stats: () => SippStats;
}

const statDir = skip ? '' : mkdtempSync(join(tmpdir(), 'dialgate-sipp-'));
let sippRuns = 0;

function scenario(name: string): string {
  return fileURLToPath(new URL(`./sipp/${name}`, import.meta.url));
}

function sipp(args: string[]): Sipp {
  const statFile = join(statDir, `run-${++sippRuns}.csv`);
  const proc = spawn('sipp', ['-nostdin', '-timeout', '60s', '-timeout_error', '-trace_stat', '-stf', statFile, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d.toString()));
  proc.stderr!.on('data', (d) => (out += d.toString()));
  const exit = new Promise<number>((resolve) => proc.on('exit', (code) => resolve(code ?? -1)));
  const stats = (): SippStats => {
    const rows = readFileSync(statFile, 'utf8').trim().split('\n');
    const head = rows[0].split(';');
    const last = rows.at(-1)!.split(';');
    const col = (name: string) => Number(last[head.indexOf(name)]);
    return {
      calls: col('TotalCallCreated'),
      successful: col('SuccessfulCall(C)'),
      failed: col('FailedCall(C)'),
      retransmissions: col('Retransmissions(C)'),
    };
  };
  return { proc, exit, output: () => out.slice(-2000), stats };
}

/** sipp exited cleanly with exactly `calls` successful calls and no failed one. */
async function assertSipp(name: string, s: Sipp, calls: number, log: (msg: string) => void): Promise<void> {
  assert.equal(await s.exit, 0, `${name} sipp: ${s.output()}`);
  const st = s.stats();
  log(`${name} sipp: ${st.calls} calls, ${st.successful} successful, ${st.failed} failed, ${st.retransmissions} retransmissions`);
  assert.equal(st.successful, calls, `${name} sipp successful calls`);
  assert.equal(st.failed, 0, `${name} sipp failed calls`);
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
    rmSync(statDir, { recursive: true, force: true });
  });

  function uas(port: number, calls: number, scenarioFile?: string): Sipp {
    const s = sipp([...(scenarioFile ? ['-sf', scenario(scenarioFile)] : ['-sn', 'uas']), '-i', '127.0.0.1', '-p', String(port), '-m', String(calls)]);
    children.push(s);
    return s;
  }

  function carrier(did: string, scenarioFile?: string): Sipp {
    const s = sipp([
      ...(scenarioFile ? ['-sf', scenario(scenarioFile)] : ['-sn', 'uac', '-d', '1000']),
      '-i',
      '127.0.0.1',
      '-s',
      did,
      '-m',
      '1',
      `${sipHost}:${sipPortText}`,
    ]);
    children.push(s);
    return s;
  }

  const agentUser = () => user({ sipUri: `sip:agent@127.0.0.1:${agentPort}` });
  const letSippBind = () => new Promise((r) => setTimeout(r, 300));

  async function noLeaks(): Promise<void> {
    await waitFor(() => adapter.activeCalls() === 0 && srfDialogs(adapter) === 0, 'no leaked dialogs');
  }

  async function clickToCall(n: number, log: (msg: string) => void): Promise<void> {
    const agent = uas(agentPort, n);
    const customer = uas(customerPort, n);
    await letSippBind();
    const u = agentUser();
    const dials = await Promise.all(
      Array.from({ length: n }, async () => {
        const c = call();
        const r = await adapter.dial({ call: c, user: u, to: '+15551230000', idempotencyToken: c.id });
        return { c, id: r.providerCallId };
      }),
    );
    await waitFor(() => dials.every((d) => sink.statuses(d.id).includes('answered')), `${n} calls answered`, 30_000);
    await Promise.all(dials.map((d) => adapter.hangUp({ ...d.c, providerCallId: d.id })));
    await waitFor(() => dials.every((d) => sink.terminal(d.id)), 'all ended', 30_000);
    for (const d of dials) assert.equal(sink.terminal(d.id)!.status, 'completed');
    await assertSipp('agent', agent, n, log);
    await assertSipp('customer', customer, n, log);
    await noLeaks();
  }

  test('click-to-call connects agent and customer and tears down cleanly', { skip }, async (t) => {
    await clickToCall(1, (m) => t.diagnostic(m));
  });

  test('inbound from the trunk reaches the agent', { skip }, async (t) => {
    const did = '+15557770000';
    sink.dids.set(did, agentUser());
    const agent = uas(agentPort, 1);
    await letSippBind();
    const trunk = carrier(did);
    await assertSipp('carrier', trunk, 1, (m) => t.diagnostic(m));
    await assertSipp('agent', agent, 1, (m) => t.diagnostic(m));
    const ev = sink.inboundEvents.at(-1)!;
    assert.equal(ev.to, did);
    await waitFor(() => sink.terminal(ev.providerCallId), 'inbound ended', 10_000);
    assert.equal(sink.terminal(ev.providerCallId)!.status, 'completed');
    await noLeaks();
  });

  test('inbound to a number nobody owns gets 404', { skip }, async (t) => {
    const did = '+15557770404';
    const trunk = carrier(did, 'uac-expect-404.xml');
    await assertSipp('carrier', trunk, 1, (m) => t.diagnostic(m));
    assert.equal(sink.inboundEvents.at(-1)!.to, did);
    await noLeaks();
  });

  test('a busy customer ends the call as busy and the answered agent gets ACK then BYE', { skip }, async (t) => {
    const agent = uas(agentPort, 1);
    const customer = uas(customerPort, 1, 'uas-busy.xml');
    await letSippBind();
    const c = call();
    const { providerCallId } = await adapter.dial({ call: c, user: agentUser(), to: '+15551230000', idempotencyToken: c.id });
    await waitFor(() => sink.terminal(providerCallId), 'busy call ended', 30_000);
    assert.equal(sink.terminal(providerCallId)!.status, 'busy');
    await assertSipp('agent', agent, 1, (m) => t.diagnostic(m));
    await assertSipp('customer', customer, 1, (m) => t.diagnostic(m));
    await noLeaks();
  });

  test('hanging up while the agent rings CANCELs the agent leg', { skip }, async (t) => {
    const agent = uas(agentPort, 1, 'uas-ring-cancel.xml');
    await letSippBind();
    const c = call();
    const { providerCallId } = await adapter.dial({ call: c, user: agentUser(), to: '+15551230000', idempotencyToken: c.id });
    await waitFor(() => sink.statuses(providerCallId).includes('ringing'), 'agent ringing', 30_000);
    await adapter.hangUp({ ...c, providerCallId });
    await waitFor(() => sink.terminal(providerCallId), 'canceled call ended', 30_000);
    assert.equal(sink.terminal(providerCallId)!.status, 'canceled');
    await assertSipp('agent', agent, 1, (m) => t.diagnostic(m));
    await noLeaks();
  });

  test('20 concurrent click-to-calls complete with no leaked dialogs', { skip }, async (t) => {
    await clickToCall(20, (m) => t.diagnostic(m));
  });
});
