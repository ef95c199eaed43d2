// Benchmark: SIP inbound through a real drachtio-server, dialgate beside a bare drachtio-srf B2BUA.
// sipp plays the carrier (INVITE → 200 → ACK, hold, BYE, at a fixed rate, to 1,000 DIDs in turn)
// and the agents' phones (one sipp UAS answering at once). Two applications take the calls, each
// alone on the drachtio-server while it runs (drachtio shares INVITEs among every connected app):
//   bare      sip-bare-b2bua.ts: the DID in a Map, srf.createB2BUA to the agent (nothing else);
//   dialgate  the gateway as deployed (src/main.ts on a throwaway Redis) with an org, a sip
//             provider on that drachtio-server and 1,000 users owning the DIDs: each INVITE is
//             dispatched, the user looked up, the call recorded, the screen pop published (one
//             agent console listens on /v1/events) and the caller bridged to the user's sipUri.
// The rate climbs a ladder; at each rate the two run in turn (the order alternating by round) and
// the best round of each is kept. A rate is sustained when ≥ 99.5 % of the offered calls succeed
// with ≤ 1 % retransmissions. Target: dialgate sustains ≥ 90 % of the bare B2BUA's calls/s, and
// its node CPU per call is ≤ 1.5× the bare app's.
//
//   DRACHTIO_ADDRESS=127.0.0.1:9022 DRACHTIO_SECRET=cymru npm run bench -- sip-inbound
//   DRACHTIO_SIP=127.0.0.1:5060 (drachtio's SIP listener, the default), SIP_RATES=100,150,…,500,
//   SIP_STEP_SECONDS=10, SIP_CALL_MS=1000, SIP_ROUNDS=2 to change the run
//
// Skipped, with the reason, when DRACHTIO_ADDRESS / DRACHTIO_SECRET are unset or sipp is missing.
// The gateway's sip provider is moved off the drachtio-server between its turns by pointing its
// config at a closed port (PATCH /v1/providers/{id}), which closes its connection.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type WebSocket from 'ws';
import { benchRedis, cpuSeconds, freePort, redisCpu, startGatewayProcess, type GatewayChild } from './processes.js';
import { openSocket } from './screen-pop.js';
import { api, seedUsers, torontoNumber } from './setup.js';
import { fmtInt, fmtMs, fmtPct, percentile, table } from './table.js';

/** drachtio-server keeps routing INVITEs to an app that left (after an overload): nothing can be measured until it lets go. */
class DrachtioStuck extends Error {}

const ROOT = resolve(import.meta.dirname, '..', '..');
const CARRIER_XML = resolve(import.meta.dirname, 'sipp', 'carrier.xml');

/** Pass criteria of one step (the issue's): success share of the offered calls, retransmissions per call. */
const MIN_SUCCESS = 0.995;
const MAX_RETRANS = 0.01;
/** warm-ups before giving up on a drachtio-server that keeps routing INVITEs to a gone app */
const WARM_ATTEMPTS = 12;

export interface SipInboundOptions {
  /** offered calls/s, in climbing order */
  rates?: number[];
  /** sending window of each measured step, s */
  stepSeconds?: number;
  /** how long each call stays up between ACK and BYE, ms */
  callMs?: number;
  rounds?: number;
  dids?: number;
  redisUrl?: string;
  log?: (line: string) => void;
}

export interface SipStep {
  case: 'bare' | 'dialgate';
  rate: number;
  round: number;
  offered: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** successful calls ÷ the sending window */
  completedPerSec: number;
  /** INVITE sent → 200 received at the carrier, ms (whole ms: sipp's resolution) */
  p50: number;
  p99: number;
  /** the application process's CPU per successful call, ms */
  cpuMsPerCall: number;
  /** redis-server's CPU per successful call, ms (dialgate only) */
  redisMsPerCall: number;
  pass: boolean;
  /** set when the application did not see every INVITE the carrier sent: lost on the way under
   *  overload (drachtio-server or UDP buffers), or taken by another app on the same server */
  note: string;
}

export interface SipInboundResult {
  skipped?: string;
  steps: SipStep[];
  /** highest sustained rate of each (0: none); `top` = the ladder's top rate was sustained */
  sustained: { bare: number; dialgate: number; topBare: boolean; topDialgate: boolean };
  ratio: number;
  /** node CPU per call at the highest rate both sustained */
  cpu: { rate: number; bareMs: number; dialgateMs: number };
  rates: number[];
  stepSeconds: number;
  callMs: number;
  rounds: number;
  dids: number;
  drachtio: string;
}

export function skipReason(): string | null {
  if (!process.env.DRACHTIO_ADDRESS) return 'DRACHTIO_ADDRESS (host:port of a drachtio-server admin port) is not set';
  if (!process.env.DRACHTIO_SECRET) return 'DRACHTIO_SECRET is not set';
  if (spawnSync('sh', ['-c', 'command -v sipp'], { encoding: 'utf8' }).status !== 0) return 'sipp is not on PATH (Debian: apt-get install sip-tester)';
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freeUdpPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

interface SippRun {
  created: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** response time 1 of each call (INVITE → 200), ms */
  setupMs: number[];
  output: string;
}

function spawnSipp(dir: string, label: string, args: string[]): { proc: ChildProcess; done: Promise<SippRun> } {
  const statFile = join(dir, `${label}.csv`);
  const proc = spawn('sipp', ['-nostdin', '-trace_stat', '-stf', statFile, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-3000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const done = new Promise<SippRun>((resolveRun, reject) => {
    proc.once('error', reject);
    proc.once('exit', () => {
      try {
        const rows = readFileSync(statFile, 'utf8').trim().split('\n');
        const head = rows[0].split(';');
        const last = rows.at(-1)!.split(';');
        const col = (name: string) => Number(last[head.indexOf(name)]);
        // -trace_rtt writes <scenario file>_<pid>_rtt.csv into the working directory, one
        // `Date_ms;response_time_ms;rtd_no` row per call (whole milliseconds: sipp's clock)
        const rttName = readdirSync(dir).find((f) => f.endsWith(`_${proc.pid}_rtt.csv`));
        const setupMs = rttName
          ? readFileSync(join(dir, rttName), 'utf8')
              .trim()
              .split('\n')
              .slice(1)
              .map((l) => Number(l.split(';')[1]))
              .filter((x) => Number.isFinite(x))
          : [];
        resolveRun({
          created: col('TotalCallCreated'),
          successful: col('SuccessfulCall(C)'),
          failed: col('FailedCall(C)'),
          retransmissions: col('Retransmissions(C)'),
          setupMs,
          output: out,
        });
      } catch (e) {
        reject(new Error(`sipp ${label}: no statistics (${(e as Error).message}): ${out}`));
      }
    });
  });
  return { proc, done };
}

/** One application under test: it connects to drachtio-server alone, and tells what it used. */
interface App {
  name: SipStep['case'];
  connect(): Promise<void>;
  /** the INVITEs it saw since connect() */
  seen(): Promise<number>;
  /** closes its drachtio connection; resolves to the INVITEs it saw since connect() */
  disconnect(): Promise<number>;
  cpu(): number;
  redisCpu(): Promise<number>;
}

function bareApp(dir: string, agentsFile: string, log: (l: string) => void): App {
  let proc: ChildProcess | undefined;
  let out = '';
  const handled = () => {
    const all = [...out.matchAll(/handled (\d+)/g)];
    return all.length ? Number(all.at(-1)![1]) : NaN;
  };
  return {
    name: 'bare',
    async connect() {
      out = '';
      proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/sip-bare-b2bua.ts'], {
        cwd: ROOT,
        env: { ...process.env, SIP_BENCH_AGENTS: agentsFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const p = proc;
      p.stdout!.on('data', (d) => (out += d.toString()));
      p.stderr!.on('data', (d) => (out += d.toString()));
      const deadline = Date.now() + 60_000;
      while (!out.includes('ready')) {
        if (p.exitCode !== null || Date.now() > deadline) throw new Error(`bare B2BUA did not connect to drachtio-server: ${out.slice(-2000)}`);
        await sleep(50);
      }
    },
    async seen() {
      const before = out.length;
      proc?.kill('SIGUSR2');
      const deadline = Date.now() + 5000;
      while (!/handled \d+/.test(out.slice(before)) && Date.now() < deadline) await sleep(20);
      return handled();
    },
    async disconnect() {
      const p = proc;
      if (!p || p.exitCode !== null) return 0;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const hard = setTimeout(() => p.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(hard);
      if (Number.isNaN(handled())) log(`bare B2BUA output: ${out.slice(-1000)}`);
      return handled();
    },
    cpu: () => cpuSeconds(proc?.pid),
    redisCpu: async () => NaN,
  };
}

interface GatewaySetup {
  gateway: GatewayChild;
  apiKey: string;
  providerId: string;
  config(drachtioPort: number): Record<string, unknown>;
}

function gatewayApp(g: GatewaySetup, drachtioPort: number, probe: Redis): App {
  let ws: WebSocket | undefined;
  let pops = 0;
  const ready = async () => (await fetch(g.gateway.url + '/readyz', { signal: AbortSignal.timeout(2000) }).catch(() => null))?.status === 200;
  return {
    name: 'dialgate',
    async connect() {
      // the agent console: the screen pops are published and delivered, as in production
      ws = await openSocket(g.gateway.url, g.apiKey);
      pops = 0;
      ws.on('message', (data) => {
        if (String(data).includes('"type":"call.incoming"')) pops++;
      });
      await api(g.gateway.url, 'PATCH', `/v1/providers/${g.providerId}`, g.apiKey, { config: g.config(drachtioPort) });
      const deadline = Date.now() + 30_000;
      while (!(await ready())) {
        if (Date.now() > deadline) throw new Error(`the gateway's sip provider did not connect to drachtio-server: ${g.gateway.output()}`);
        await sleep(100);
      }
    },
    seen: async () => pops,
    async disconnect() {
      // a closed port: the adapter is recreated on it and the drachtio connection is released
      await api(g.gateway.url, 'PATCH', `/v1/providers/${g.providerId}`, g.apiKey, { config: g.config(await freePort()) });
      await sleep(500);
      ws?.terminate();
      return pops;
    },
    cpu: () => cpuSeconds(g.gateway.proc.pid),
    redisCpu: () => redisCpu(probe),
  };
}

async function setUpGateway(redisUrl: string, host: string, secret: string, agentPort: number, dids: string[], log: (l: string) => void): Promise<GatewaySetup> {
  log('starting the gateway (child process, Redis store)');
  const gateway = await startGatewayProcess(redisUrl);
  // a trunk nobody answers: OPTIONS probes only affect health, and one per hour is one in the run
  const trunkPort = await freeUdpPort();
  const config = (port: number) => ({
    drachtio: { host, port, secret },
    trunk: { uri: `sip:127.0.0.1:${trunkPort}` },
    callerId: '+15550001111',
    inboundAllow: ['127.0.0.0/8'],
    optionsIntervalMs: 3_600_000,
  });
  const org = await api(gateway.url, 'POST', '/v1/orgs', gateway.adminToken, { name: 'bench sip inbound' });
  const provider = await api(gateway.url, 'POST', '/v1/providers', org.apiKey, {
    kind: 'sip',
    name: 'bench drachtio',
    config: config(await freePort()),
    install: { scope: 'all', futureUsers: true },
  });
  await seedUsers(redisUrl, org.id, 'sip-', dids.length, (i) => ({ numbers: [dids[i]], sipUri: `sip:agent${i}@127.0.0.1:${agentPort}` }));
  return { gateway, apiKey: org.apiKey, providerId: provider.id, config };
}

export async function run(opts: SipInboundOptions = {}): Promise<SipInboundResult> {
  const rates = opts.rates ?? (process.env.SIP_RATES ?? '100,150,200,250,300,350,400,450,500').split(',').map(Number);
  const stepSeconds = opts.stepSeconds ?? Number(process.env.SIP_STEP_SECONDS ?? 10);
  const callMs = opts.callMs ?? Number(process.env.SIP_CALL_MS ?? 1000);
  const rounds = opts.rounds ?? Number(process.env.SIP_ROUNDS ?? 2);
  const didCount = opts.dids ?? 1000;
  const log = opts.log ?? (() => {});
  const drachtio = process.env.DRACHTIO_ADDRESS ?? '';
  const empty: SipInboundResult = {
    steps: [],
    sustained: { bare: 0, dialgate: 0, topBare: false, topDialgate: false },
    ratio: NaN,
    cpu: { rate: 0, bareMs: NaN, dialgateMs: NaN },
    rates,
    stepSeconds,
    callMs,
    rounds,
    dids: didCount,
    drachtio,
  };
  const skipped = skipReason();
  if (skipped) return { ...empty, skipped };
  if (rates.some((r) => !(r > 0))) throw new Error(`SIP_RATES must be positive numbers: ${rates.join(',')}`);

  const [host, portText] = drachtio.split(':');
  const sipTarget = process.env.DRACHTIO_SIP ?? '127.0.0.1:5060';
  const dir = mkdtempSync(join(tmpdir(), 'dialgate-sip-bench-'));
  const dids = Array.from({ length: didCount }, (_, i) => torontoNumber(6_000_000 + i));
  writeFileSync(join(dir, 'dids.csv'), `SEQUENTIAL\n${dids.map((d) => `${d};`).join('\n')}\n`);
  const agentPort = await freeUdpPort();
  const agentsFile = join(dir, 'agents.json');
  writeFileSync(agentsFile, JSON.stringify(Object.fromEntries(dids.map((d, i) => [d, `sip:agent${i}@127.0.0.1:${agentPort}`]))));

  const redis = opts.redisUrl ? { url: opts.redisUrl, stop: async () => {} } : await benchRedis();
  const probe = new Redis(redis.url);
  let setup: GatewaySetup | undefined;
  let sippRuns = 0;
  const running = new Set<ChildProcess>();
  try {
    setup = await setUpGateway(redis.url, host, process.env.DRACHTIO_SECRET!, agentPort, dids, log);
    const apps = [bareApp(dir, agentsFile, log), gatewayApp(setup, Number(portText), probe)];

    const carrier = (rate: number, count: number, holdMs: number) => {
      const s = spawnSipp(dir, `carrier-${++sippRuns}`, [
        '-sf', CARRIER_XML, '-inf', join(dir, 'dids.csv'), '-i', '127.0.0.1',
        '-r', String(rate), '-rp', '1000', '-m', String(count),
        // no cap on open calls: a slow application must show as slow calls, not as a lower rate
        '-l', String(Math.ceil(rate * (holdMs / 1000 + 15))),
        '-d', String(holdMs), '-recv_timeout', '10000',
        '-timeout', `${Math.ceil(count / rate + holdMs / 1000 + 60)}s`,
        '-trace_rtt', '-rtt_freq', '1',
        sipTarget,
      ]);
      running.add(s.proc);
      return s.done.finally(() => running.delete(s.proc));
    };

    const step = async (app: App, rate: number, round: number): Promise<SipStep> => {
      const agent = spawnSipp(dir, `agent-${++sippRuns}`, ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(agentPort)]);
      running.add(agent.proc);
      let seen = NaN;
      let seenBefore = NaN;
      let m: SippRun;
      let cpu = NaN;
      let rcpu = NaN;
      try {
        await app.connect();
        // warm-up (caches, JIT; short calls, all ended before the step), repeated until the app
        // sees every INVITE: drachtio-server keeps an app that left under overload in its INVITE
        // rotation while that app's transactions linger (a minute or more), and what it routes
        // there is lost; measuring then would charge its loss to the app that follows
        for (let attempt = 1; ; attempt++) {
          const before = await app.seen();
          const sent = (await carrier(Math.min(rate, 50), Math.min(rate, 50), 100)).created;
          const got = (await app.seen()) - before;
          if (got >= sent) break;
          const why = `${app.name} saw ${got} of ${sent} warm-up INVITEs: drachtio-server still routes some to an app that left`;
          if (attempt >= WARM_ATTEMPTS) throw new DrachtioStuck(`${why} (restart drachtio-server, or wait for its transactions to expire)`);
          log(`${why}; warming up again in 10 s`);
          await sleep(10_000);
        }
        seenBefore = await app.seen();
        const c0 = app.cpu();
        const r0 = await app.redisCpu();
        m = await carrier(rate, Math.round(rate * stepSeconds), callMs);
        cpu = app.cpu() - c0;
        rcpu = (await app.redisCpu()) - r0;
      } finally {
        seen = await app.disconnect();
        agent.proc.kill('SIGTERM');
        await agent.done.catch(() => undefined);
        running.delete(agent.proc);
      }
      const offered = Math.round(rate * stepSeconds);
      const row: SipStep = {
        case: app.name,
        rate,
        round,
        offered,
        successful: m.successful,
        failed: m.failed,
        retransmissions: m.retransmissions,
        completedPerSec: m.successful / stepSeconds,
        p50: percentile(m.setupMs, 0.5),
        p99: percentile(m.setupMs, 0.99),
        cpuMsPerCall: (cpu * 1000) / Math.max(1, m.successful),
        redisMsPerCall: (rcpu * 1000) / Math.max(1, m.successful),
        pass: m.successful >= MIN_SUCCESS * offered && m.retransmissions <= MAX_RETRANS * offered,
        note: seen - seenBefore === m.created ? '' : `app saw ${seen - seenBefore} of ${m.created} INVITEs`,
      };
      log(
        `${rate}/s round ${round} ${app.name}: ${row.successful}/${offered} ok, ${row.failed} failed, ${row.retransmissions} retrans, ` +
          `setup p50 ${fmtMs(row.p50)} ms p99 ${fmtMs(row.p99)} ms, cpu ${fmtMs(row.cpuMsPerCall)} ms/call ${row.pass ? 'PASS' : 'fail'}${row.note ? ` (${row.note})` : ''}`,
      );
      return row;
    };

    const better = (a: SipStep | undefined, b: SipStep) => (!a || b.successful > a.successful || (b.successful === a.successful && b.p99 < a.p99) ? b : a);
    const steps: SipStep[] = [];
    ladder: for (const [k, rate] of rates.entries()) {
      const best: Partial<Record<SipStep['case'], SipStep>> = {};
      for (let r = 1; r <= rounds; r++) {
        const order = (k + r) % 2 ? apps : [...apps].reverse();
        for (const app of order) {
          try {
            best[app.name] = better(best[app.name], await step(app, rate, r));
          } catch (e) {
            // past overload drachtio-server may keep routing to an app gone for minutes: the
            // rungs measured so far stand, this one and those above it cannot be measured
            if (!(e instanceof DrachtioStuck) || steps.length === 0) throw e;
            log(`the ladder stops at ${rate} calls/s: ${(e as Error).message}`);
            break ladder;
          }
        }
      }
      steps.push(best.bare!, best.dialgate!);
      if (!best.bare!.pass && !best.dialgate!.pass) {
        log(`neither sustains ${rate} calls/s: the ladder stops`);
        break;
      }
    }
    const sustained = (c: SipStep['case']) => Math.max(0, ...steps.filter((s) => s.case === c && s.pass).map((s) => s.rate));
    const top = rates.at(-1)!;
    const bothAt = Math.max(0, ...steps.filter((s) => s.case === 'bare' && s.pass && steps.some((g) => g.case === 'dialgate' && g.rate === s.rate && g.pass)).map((s) => s.rate));
    const at = (c: SipStep['case']) => steps.find((s) => s.case === c && s.rate === bothAt)?.cpuMsPerCall ?? NaN;
    return {
      ...empty,
      steps,
      sustained: { bare: sustained('bare'), dialgate: sustained('dialgate'), topBare: sustained('bare') === top, topDialgate: sustained('dialgate') === top },
      ratio: sustained('bare') ? sustained('dialgate') / sustained('bare') : NaN,
      cpu: { rate: bothAt, bareMs: at('bare'), dialgateMs: at('dialgate') },
    };
  } catch (e) {
    if (setup) (e as Error).message += `\n--- gateway output:\n${setup.gateway.output()}`;
    throw e;
  } finally {
    for (const p of running) p.kill('SIGKILL');
    probe.disconnect();
    await setup?.gateway.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTable(r: SipInboundResult): string {
  if (r.skipped) return `skipped: ${r.skipped}`;
  const rate = (n: number, top: boolean) => (n ? `${top ? '≥ ' : ''}${fmtInt(n)}/s` : 'none');
  const cpuRatio = r.cpu.dialgateMs / r.cpu.bareMs;
  return [
    `RATIO dialgate / bare sustained calls/s = ${fmtPct(r.ratio)} (target ≥ 90 %)   ` +
      `[bare ${rate(r.sustained.bare, r.sustained.topBare)}, dialgate ${rate(r.sustained.dialgate, r.sustained.topDialgate)}]`,
    r.cpu.rate
      ? `node CPU per call at ${fmtInt(r.cpu.rate)}/s: bare ${fmtMs(r.cpu.bareMs)} ms, dialgate ${fmtMs(r.cpu.dialgateMs)} ms = ${cpuRatio.toFixed(2)}× (target ≤ 1.5×)`
      : 'node CPU per call: no rate both sustained',
    `[drachtio ${r.drachtio}; ${fmtInt(r.dids)} DIDs; calls held ${fmtInt(r.callMs)} ms; steps of ${r.stepSeconds} s; best of ${r.rounds} round(s); ` +
      `sustained = ≥ ${MIN_SUCCESS * 100} % of offered calls succeed with ≤ ${MAX_RETRANS * 100} % retransmissions]`,
    '',
    table(
      ['offered/s', 'case', 'completed/s', 'success', 'failed', 'retrans', 'setup p50 ms', 'setup p99 ms', 'node CPU ms/call', 'redis ms/call', 'sustained', 'note'],
      r.steps.map((s) => [
        fmtInt(s.rate),
        s.case,
        fmtInt(s.completedPerSec),
        fmtPct(s.successful / s.offered),
        fmtInt(s.failed),
        fmtInt(s.retransmissions),
        fmtMs(s.p50),
        fmtMs(s.p99),
        fmtMs(s.cpuMsPerCall),
        s.case === 'bare' ? '-' : fmtMs(s.redisMsPerCall),
        s.pass ? 'yes' : 'NO',
        s.note,
      ]),
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(`# ${l}`) })
    .then((r) => console.log(`\nsip-inbound\n${formatTable(r)}`))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
