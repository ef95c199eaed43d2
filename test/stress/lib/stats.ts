// Figures: percentiles, a seeded PRNG (failures reproduce from the printed seed) and the table
// each scenario prints at the end (with the machine's load average: figures from a busy shared
// machine are read differently).

import { cpus, loadavg } from 'node:os';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

export const round = (n: number, digits = 1) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n);

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Row {
  figure: string;
  value: string | number;
  /** what it must be, when it is a pass/fail figure */
  target?: string;
  ok?: boolean;
}

export interface ScenarioResult {
  name: string;
  params: string;
  rows: Row[];
  /** failed checks, in words; empty = the scenario passed */
  failures: string[];
  seconds: number;
}

/** Collects figures and checks for one scenario. */
export class Figures {
  readonly rows: Row[] = [];
  readonly failures: string[] = [];
  private readonly t0 = Date.now();

  constructor(
    readonly name: string,
    readonly params: string,
  ) {}

  /** A reported figure with no pass/fail target. */
  info(figure: string, value: string | number): void {
    this.rows.push({ figure, value: typeof value === 'number' ? round(value) : value });
  }

  /** A figure with a target; a miss is recorded as a failure. */
  check(figure: string, value: string | number, target: string, ok: boolean, detail?: string): void {
    this.rows.push({ figure, value: typeof value === 'number' ? round(value) : value, target, ok });
    if (!ok) this.failures.push(`${this.name}: ${figure} = ${value} (target ${target})${detail ? ` — ${detail}` : ''}`);
  }

  fail(message: string): void {
    this.failures.push(`${this.name}: ${message}`);
  }

  result(): ScenarioResult {
    return { name: this.name, params: this.params, rows: this.rows, failures: this.failures, seconds: round((Date.now() - this.t0) / 1000) };
  }
}

export function formatTable(r: ScenarioResult): string {
  const head = ['figure', 'value', 'target', ''];
  const body = r.rows.map((x) => [x.figure, String(x.value), x.target ?? '', x.ok === undefined ? '' : x.ok ? 'ok' : 'FAIL']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  const out = [
    `### ${r.name}  (${r.params}; ${r.seconds} s; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs)`,
    '',
    line(head),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...body.map(line),
  ];
  if (r.failures.length) out.push('', ...r.failures.map((f) => `FAILED: ${f}`));
  return out.join('\n') + '\n';
}

/** Prints a scenario's table to stdout (node:test shows it) and returns it. */
export function printTable(r: ScenarioResult): string {
  const t = formatTable(r);
  process.stdout.write('\n' + t + '\n');
  return t;
}
