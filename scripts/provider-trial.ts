// npm run trial -- --url http://127.0.0.1:8080 --key dgk_... --providers prv_a,prv_b --to +14165550123
//                  [--calls 20] [--concurrency 2] [--hang-up-after-ms 5000] [--svg trial.svg]
//
// Starts a trial on a running gateway (POST /v1/trials), shows its progress, prints the providers
// side by side and writes an SVG chart of their setup-time distributions (cumulative share of
// calls ringing / answered by time t, log time axis). The key may come from DIALGATE_API_KEY
// instead of --key, so it stays out of shell history.

import { writeFileSync } from 'node:fs';
import { fetch } from 'undici';

interface Args {
  url: string;
  key: string;
  providers: string[];
  to: string;
  calls: number;
  concurrency: number;
  hangUpAfterMs: number;
  svg?: string;
  timeoutSec: number;
}

type Histogram = Array<[number, number]>;
interface Row {
  providerId: string;
  kind: string;
  name: string;
  placed: number;
  finished: number;
  attempts: number;
  answered: number;
  answerRatio: number | null;
  setupToRinging: { p50: number | null; p95: number | null };
  setupToAnswer: { p50: number | null; p95: number | null };
  apiLatency: { p50: number | null; p95: number | null };
  failures: Record<string, number>;
  error?: string;
  distributions?: { setupToRinging: Histogram; setupToAnswer: Histogram };
}
interface Trial {
  id: string;
  status: 'running' | 'completed';
  progress: { placed: number; finished: number; total: number };
  report: Row[];
}

const USAGE = 'usage: npm run trial -- --url <gateway> --key <api key> --providers <id,id> --to <+E.164> [--calls 20] [--concurrency 2] [--hang-up-after-ms 5000] [--svg file] [--timeout-sec 3600]';

class UsageError extends Error {}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  const v = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const [k, inline] = a.slice(2).split('=', 2);
    const val = inline ?? argv[++i];
    if (val === undefined) throw new UsageError(`--${k} needs a value`);
    v.set(k, val);
  }
  const int = (k: string, d: number, min: number, max: number) => {
    const s = v.get(k);
    if (s === undefined) return d;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${k} must be an integer from ${min} to ${max}`);
    return n;
  };
  const url = v.get('url') ?? env.DIALGATE_URL;
  const key = v.get('key') ?? env.DIALGATE_API_KEY;
  const providers = (v.get('providers') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const to = v.get('to');
  if (!url) throw new UsageError('--url is required (or DIALGATE_URL)');
  if (!key) throw new UsageError('--key is required (or DIALGATE_API_KEY)');
  if (providers.length === 0) throw new UsageError('--providers needs at least one provider id');
  if (!to) throw new UsageError('--to is required (an E.164 number such as +14165550123)');
  return {
    url: url.replace(/\/+$/, ''),
    key,
    providers,
    to,
    calls: int('calls', 20, 1, 1000),
    concurrency: int('concurrency', 2, 1, 50),
    hangUpAfterMs: int('hang-up-after-ms', 5000, 0, 600_000),
    svg: v.get('svg'),
    timeoutSec: int('timeout-sec', 3600, 1, 86_400),
  };
}

async function api<T>(args: Args, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(args.url + path, {
    method,
    headers: { authorization: `Bearer ${args.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!r.ok) {
    const e = json?.error;
    throw new Error(`${method} ${path}: ${r.status} ${e ? `${e.code}: ${e.message}` : text.slice(0, 200)}`);
  }
  return json as T;
}

const secs = (v: number | null) => (v === null ? '-' : v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(2)} s`);
const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)} %`);

/** The side-by-side table, best answer ratio then fastest setup first. */
export function renderTable(rows: Row[]): string {
  const ranked = [...rows].sort(
    (a, b) => (b.answerRatio ?? -1) - (a.answerRatio ?? -1) || (a.setupToAnswer.p50 ?? Infinity) - (b.setupToAnswer.p50 ?? Infinity),
  );
  const head = ['#', 'provider', 'kind', 'calls', 'answered', 'ratio', 'ring p50', 'ring p95', 'answer p50', 'answer p95', 'API p50', 'API p95', 'failures'];
  const body = ranked.map((r, i) => [
    String(i + 1),
    `${r.name} (${r.providerId})`,
    r.kind,
    `${r.finished}/${r.placed}`,
    String(r.answered),
    pct(r.answerRatio),
    secs(r.setupToRinging.p50),
    secs(r.setupToRinging.p95),
    secs(r.setupToAnswer.p50),
    secs(r.setupToAnswer.p95),
    secs(r.apiLatency.p50),
    secs(r.apiLatency.p95),
    Object.entries(r.failures).map(([k, n]) => `${k} ${n}`).join(', ') + (r.error ? ` [stopped: ${r.error}]` : '') || '-',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((s, c) => (c >= 3 && c <= 11 ? s.padStart(widths[c]) : s.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Two panels (time to ringing, time to answer): for each provider, the share of its trial calls
 * that had reached the stage by time t — a cumulative distribution over a log time axis, so a
 * curve further left is a faster provider and a curve topping out low is one that answers less.
 */
export function renderSvg(rows: Row[], title: string): string {
  const W = 960;
  const panelH = 300;
  const m = { l: 64, r: 220, t: 56, b: 44 };
  const stages = [
    ['setupToRinging', 'Time to ringing'],
    ['setupToAnswer', 'Time to answer'],
  ] as const;
  const all = rows.flatMap((r) => [...(r.distributions?.setupToRinging ?? []), ...(r.distributions?.setupToAnswer ?? [])].map(([t]) => t));
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.001, Math.min(...all, 1))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, lo * 10)));
  const plotW = W - m.l - m.r;
  const x = (t: number) => m.l + ((Math.log10(Math.max(t, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
  const H = m.t + stages.length * (panelH + m.b) + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${m.l}" y="42" fill="#555">Share of each provider's trial calls that reached the stage within t (log scale); dashed: p50 and p95</text>`,
  ];
  stages.forEach(([stage, label], s) => {
    const top = m.t + s * (panelH + m.b) + 10;
    const y = (share: number) => top + panelH - share * panelH;
    out.push(`<g class="panel" data-stage="${stage}">`);
    out.push(`<text x="${m.l}" y="${top - 4}" font-weight="bold">${label}</text>`);
    out.push(`<rect x="${m.l}" y="${top}" width="${plotW}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (let share = 0; share <= 1.0001; share += 0.25) {
      out.push(`<line x1="${m.l}" x2="${m.l + plotW}" y1="${y(share)}" y2="${y(share)}" stroke="#eee"/>`);
      out.push(`<text x="${m.l - 6}" y="${y(share) + 4}" text-anchor="end">${Math.round(share * 100)}%</text>`);
    }
    for (let t = lo; t <= hi * 1.0001; t *= 10) {
      out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${top + panelH}" stroke="#eee"/>`);
      out.push(`<text x="${x(t)}" y="${top + panelH + 16}" text-anchor="middle">${secs(t)}</text>`);
    }
    rows.forEach((r, i) => {
      const color = COLORS[i % COLORS.length];
      const hist = r.distributions?.[stage] ?? [];
      const total = r.finished || r.placed || hist.reduce((a, [, n]) => a + n, 0);
      if (hist.length && total) {
        // a step curve: flat until a bucket's upper bound, then up by its share
        let seen = 0;
        const pts: string[] = [`${x(lo).toFixed(1)},${y(0).toFixed(1)}`];
        for (const [t, n] of hist) {
          pts.push(`${x(t).toFixed(1)},${y(seen / total).toFixed(1)}`);
          seen += n;
          pts.push(`${x(t).toFixed(1)},${y(seen / total).toFixed(1)}`);
        }
        pts.push(`${(m.l + plotW).toFixed(1)},${y(seen / total).toFixed(1)}`);
        out.push(`<polyline data-provider="${esc(r.providerId)}" points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
      }
      for (const q of ['p50', 'p95'] as const) {
        const v = r[stage][q];
        if (v !== null) out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${top}" y2="${top + panelH}" stroke="${color}" stroke-dasharray="4 3" opacity="0.6"><title>${esc(r.name)} ${q} ${secs(v)}</title></line>`);
      }
    });
    out.push('</g>');
  });
  rows.forEach((r, i) => {
    const ly = m.t + 20 + i * 36;
    const lx = W - m.r + 16;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="14" height="14" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 20}" y="${ly + 2}">${esc(r.name)} (${esc(r.kind)})</text>`);
    out.push(`<text x="${lx + 20}" y="${ly + 18}" fill="#555">answered ${pct(r.answerRatio)}, p50 ${secs(r.setupToAnswer.p50)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
  const { id } = await api<{ id: string }>(args, 'POST', '/v1/trials', {
    providerIds: args.providers,
    to: args.to,
    calls: args.calls,
    concurrency: args.concurrency,
    hangUpAfterMs: args.hangUpAfterMs,
  });
  process.stdout.write(`trial ${id}: ${args.calls} calls through each of ${args.providers.join(', ')} to ${args.to}, ${args.concurrency} at a time\n`);
  const deadline = Date.now() + args.timeoutSec * 1000;
  const tty = process.stdout.isTTY;
  let trial: Trial;
  let last = '';
  for (;;) {
    trial = await api<Trial>(args, 'GET', `/v1/trials/${encodeURIComponent(id)}`);
    const { placed, finished, total } = trial.progress;
    const line = `progress: ${finished}/${total} finished, ${placed} placed`;
    if (line !== last) process.stdout.write(tty ? `\r${line}` : `${line}\n`);
    last = line;
    if (trial.status === 'completed') break;
    if (Date.now() > deadline) {
      process.stderr.write(`\ntrial ${id} still running after ${args.timeoutSec} s; see GET /v1/trials/${id}\n`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (tty) process.stdout.write('\n');
  process.stdout.write(`\n${renderTable(trial.report)}\n`);
  const file = args.svg ?? `trial-${id}.svg`;
  writeFileSync(file, renderSvg(trial.report, `dialgate trial ${id}: ${args.calls} calls per provider to ${args.to}`));
  process.stdout.write(`\nsetup-time chart written to ${file}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`provider-trial: ${e.message}\n`);
  process.exit(1);
});
