// Redis commands per call, counted from INFO commandstats around a batch of calls through a
// gateway process: the click alone (the sim then waits an hour) and the whole call (ring, answer,
// end and the call-log job to a signed webhook). Deterministic, unlike throughput: run it beside
// a change to see what the change costs in Redis round trips.
//
//   npx tsx scripts/bench/commands-per-call.ts        (CALLS=500)

import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { benchRedis, startGatewayProcess, type GatewayChild } from './processes.js';
import { api, benchOrg, seedUsers, torontoNumber } from './setup.js';
import { startReceiver } from './receiver.js';
import { table } from './table.js';

export interface CommandsRow {
  case: string;
  calls: number;
  /** every Redis command per call, scripts counted once each */
  commands: number;
  /** EVAL/EVALSHA per call */
  scripts: number;
  /** commands the gateway and its worker sent (not run inside a script): its Redis round trips, at most */
  sent: number;
  /** the rest, by name */
  byName: Record<string, number>;
}

async function commandstats(r: Redis): Promise<Map<string, number>> {
  const info = await r.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1], Number(m[2]));
    out.set(`${m[1]} µs`, Number(m[3]));
  }
  return out;
}

function delta(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d > 0) out.set(k, d);
  }
  return out;
}

const IGNORE = new Set(['info', 'ping', 'client|setname', 'client|setinfo', 'select', 'script|load']);

function rowOf(name: string, calls: number, d: Map<string, number>, sent: number): CommandsRow {
  let commands = 0;
  let scripts = 0;
  const byName: Record<string, number> = {};
  for (const [k, v] of d) {
    if (IGNORE.has(k.replace(/ µs$/, ''))) continue;
    if (k.endsWith(' µs')) {
      byName[k] = Number((v / calls).toFixed(1));
      continue;
    }
    commands += v;
    if (k === 'evalsha' || k === 'eval') scripts += v;
    byName[k] = Number((v / calls).toFixed(2));
  }
  return { case: name, calls, commands: commands / calls, scripts: scripts / calls, sent: sent / calls, byName };
}

async function settle(probe: Redis, ms = 1500): Promise<void> {
  // wait until no script runs for a while (provider events and call-log jobs done); the
  // once-a-second figures and BullMQ's idle polling go on, and count a little
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const s = await commandstats(probe);
    const n = (s.get('evalsha') ?? 0) + (s.get('eval') ?? 0);
    if (n === last) return;
    last = n;
    await new Promise((r) => setTimeout(r, ms));
  }
}

export async function run(opts: { calls?: number; redisUrl?: string; gateway?: GatewayChild; log?: (l: string) => void } = {}): Promise<CommandsRow[]> {
  const calls = opts.calls ?? Number(process.env.CALLS ?? 500);
  const log = opts.log ?? (() => {});
  const redis = opts.redisUrl ? { url: opts.redisUrl, stop: async () => {} } : await benchRedis();
  const gateway = opts.gateway ?? (await startGatewayProcess(redis.url));
  const receiver = await startReceiver();
  const probe = new Redis(redis.url);
  try {
    const rows: CommandsRow[] = [];
    for (const [name, sim, crm] of [
      ['click only (sim waits an hour)', { apiLatencyMs: 0, ringAfterMs: 3_600_000, answerAfterMs: 3_600_000, durationMs: 3_600_000 }, false],
      ['whole call: click, 3 provider events, call log (webhook CRM)', { apiLatencyMs: 0, ringAfterMs: 5, answerAfterMs: 10, durationMs: 10 }, true],
    ] as const) {
      const org = await benchOrg(gateway.url, gateway.adminToken, `commands ${name}`, sim);
      if (crm) await api(gateway.url, 'PUT', '/v1/crm', org.apiKey, { kind: 'webhook', url: receiver.url, secret: receiver.secret });
      const users = await seedUsers(redis.url, org.orgId, 'cmd-', calls);
      const headers = { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json' };
      const click = (i: number) => fetch(`${gateway.url}/v1/calls`, { method: 'POST', headers, body: JSON.stringify({ userId: users[i], to: torontoNumber(i) }) }).then((r) => r.text());
      // warm: the org snapshot, every agent in the gateway's user cache (as in steady state), the
      // scripts on the server; then one more call per agent, counted
      for (let i = 0; i < calls; i += 20) await Promise.all(Array.from({ length: Math.min(20, calls - i) }, (_, k) => click(i + k)));
      await settle(probe);
      // MONITOR tells the commands clients sent from those a script ran (source "lua")
      const monitor = await probe.monitor();
      let sent = 0;
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (source !== 'lua' && !IGNORE.has(String(args[0]).toLowerCase())) sent++;
      });
      const before = await commandstats(probe);
      const n = calls;
      for (let i = 0; i < calls; i += 20) await Promise.all(Array.from({ length: Math.min(20, calls - i) }, (_, k) => click(i + k)));
      await settle(probe);
      const d = delta(before, await commandstats(probe));
      monitor.disconnect();
      const row = rowOf(name, n, d, sent);
      rows.push(row);
      log(`${name}: ${row.commands.toFixed(2)} commands per call (${row.scripts.toFixed(2)} scripts), ${row.sent.toFixed(2)} sent by the gateway`);
    }
    return rows;
  } finally {
    probe.disconnect();
    await receiver.stop();
    if (!opts.gateway) await gateway.stop();
    if (!opts.redisUrl) await redis.stop();
  }
}

export function formatTable(rows: CommandsRow[]): string {
  return [
    table(
      ['case', 'calls', 'Redis commands / call', 'of which scripts', 'sent by the gateway (not run by a script)'],
      rows.map((r) => [r.case, String(r.calls), r.commands.toFixed(2), r.scripts.toFixed(2), r.sent.toFixed(2)]),
    ),
    // Redis times each command while MONITOR also writes it out: read the counts, not the µs
    '(µs: Redis\'s own per-call timings, inflated while MONITOR watches; compare counts)',
    ...rows.map((r) => `${r.case}: ${Object.entries(r.byName).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run({ log: (l) => console.log(`# ${l}`) })
    .then((rows) => console.log(`\nRedis commands per call\n${formatTable(rows)}`))
    .catch((e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
