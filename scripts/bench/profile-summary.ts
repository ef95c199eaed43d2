// Where the gateway's CPU goes: a V8 CPU profile (BENCH_CPU_PROF=<dir> npm run bench -- ...)
// summed by self time into the parts of a request (HTTP, fastify, the Redis client, phone
// numbers, dialgate's own folders...), so "the gateway costs 5× the bare server" can be taken
// apart. Startup (module loading, tsx, and building the app: fastify compiling its route
// schemas under avvio) is shown on its own line and left out of the shares.
//
//   BENCH_CPU_PROF=/tmp/prof npm run bench -- click-to-call
//   npx tsx scripts/bench/profile-summary.ts /tmp/prof

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const GROUPS: [string, RegExp][] = [
  ['startup: module loading, tsx', /node_modules\/(tsx|esbuild|get-tsconfig|cjs-module-lexer)\/|node:internal\/(modules|main)|^(wrapSafe|compileSourceTextModule|readFileUtf8|openFileHandle|internalModuleStat|fstat)$/],
  ['HTTP, sockets and streams (node)', /node:(_http_|net|internal\/(http|stream|streams|net|js_stream)|stream|events)|^(writev|writeUtf8String|writeBuffer|writeLatin1String|parserOnHeadersComplete)$/],
  ['fastify: routing, validation, serialisation', /node_modules\/(fastify|@fastify|ajv|ajv-formats|fast-json-stringify|fast-uri|find-my-way|secure-json-parse|avvio|light-my-request|fast-querystring|toad-cache|rfdc|json-schema-ref-resolver)\//],
  ['Redis client (ioredis)', /node_modules\/(ioredis|redis-parser|redis-errors|cluster-key-slot|standard-as-callback|denque)\//],
  ['queues (BullMQ, msgpackr)', /node_modules\/(bullmq|msgpackr|cron-parser)\//],
  ['phone numbers (libphonenumber-js)', /node_modules\/libphonenumber/],
  ['metrics (prom-client)', /node_modules\/(prom-client|tdigest|bintrees)\//],
  ['logging (pino)', /node_modules\/(pino|sonic-boom|fast-redact|quick-format)/],
  ['WebSocket (ws)', /node_modules\/ws\//],
  ['crypto (hashes, ids)', /node:internal\/crypto|^(Hash|digest|update|randomUUID|getBufferedUUID|randomFillSync)$/],
  ['garbage collection', /^\(garbage collector\)$/],
  ['V8 runtime not attributed to a function', /^\(program\)$/],
  ['promise and timer machinery (node)', /node:internal\/(process\/task_queues|timers|async_hooks)|^(runMicrotasks|processTicksAndRejections)$/],
];

function groupOf(url: string, fn: string): string {
  const key = url || fn;
  for (const [name, re] of GROUPS) if (re.test(key) || re.test(fn)) return name;
  const own = /\/(src|adapters)\/([^/]+)/.exec(url);
  if (own) return `dialgate ${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return 'other node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `other package ${pkg[1]}`;
  return `other ${fn || '(anonymous)'}`;
}

export interface ProfileSummary {
  file: string;
  /** busy seconds outside startup */
  busySec: number;
  startupSec: number;
  groups: { name: string; sec: number; share: number }[];
  functions: { name: string; sec: number; share: number }[];
}

export function summarise(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes as (ProfileNode & { children?: number[] })[]) for (const c of n.children ?? []) parent.set(c, n.id);
  // a sample under avvio (fastify's plugin loader) is the app being built, not a request
  const building = new Map<number, boolean>();
  const isBuilding = (id: number): boolean => {
    const known = building.get(id);
    if (known !== undefined) return known;
    const up = parent.get(id);
    const v = byId.get(id)!.callFrame.url.includes('node_modules/avvio/') || (up !== undefined && isBuilding(up));
    building.set(id, v);
    return v;
  };
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  let startup = 0;
  for (const [id, us] of self) {
    const { functionName: fn, url, lineNumber } = byId.get(id)!.callFrame;
    if (fn === '(idle)' || fn === '(root)') continue;
    const g = groupOf(url, fn);
    if (g.startsWith('startup') || isBuilding(id)) {
      startup += us;
      continue;
    }
    busy += us;
    groups.set(g, (groups.get(g) ?? 0) + us);
    const where = url ? `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : '';
    fns.set(`${fn || '(anonymous)'} ${where}`.trim(), (fns.get(`${fn || '(anonymous)'} ${where}`.trim()) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, sec: us / 1e6, share: busy ? us / busy : 0 }));
  return { file, busySec: busy / 1e6, startupSec: startup / 1e6, groups: rows(groups), functions: rows(fns).slice(0, 20) };
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)} %`;
  return [
    `${s.file}: ${s.busySec.toFixed(2)} s busy (startup ${s.startupSec.toFixed(2)} s left out)`,
    ...s.groups.filter((g) => g.share >= 0.005).map((g) => `  ${pct(g.share)}  ${g.name}`),
    '  hottest functions (self time):',
    ...s.functions.map((f) => `  ${pct(f.share)}  ${f.name}`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx scripts/bench/profile-summary.ts <dir with .cpuprofile files>');
    process.exit(2);
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) {
    console.error(`no .cpuprofile in ${dir}`);
    process.exit(1);
  }
  // the gateway's main thread is the busiest profile; worker threads (tsx's loader) are tiny
  const summaries = files.map((f) => summarise(join(dir, f))).sort((a, b) => b.busySec - a.busySec);
  console.log(formatSummary(summaries[0]));
}
