// The one encoding of per-provider figures shared by both perf stores: a sample becomes a few
// counter increments (attempts, answers, failures by cause, log-scale histogram buckets), and
// merged counters become the figures the API shows. Keeping timings as fixed buckets lets any
// number of minutes, instances and hourly rollups merge by plain addition.
//
// Resolution: bucket i (i ≥ 1) holds durations in (2^((i-1)/8), 2^(i/8)] ms, so each bucket spans
// a factor 2^(1/8) ≈ 1.09; a percentile is reported as its bucket's geometric midpoint, within
// ±4.4 % of the true order statistic. Bucket 0 holds everything up to 1 ms (reported as 0.5 ms);
// the last bucket (2^25 ms ≈ 9.3 h) takes anything longer.

export const BUCKETS_PER_DOUBLING = 8;
const MAX_BUCKET = 25 * BUCKETS_PER_DOUBLING;

/** What one call event contributes to a provider's figures. Durations in seconds. */
export interface PerfSample {
  attempt?: boolean;
  answered?: boolean;
  /** a terminal status (busy, no-answer, failed, canceled) or a dial error code */
  failure?: string;
  setupToRinging?: number;
  setupToAnswer?: number;
  apiLatency?: number;
  /** an active health probe's result (src/providers/prober.ts) */
  probe?: 'ok' | 'failed';
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface PerfFigures {
  attempts: number;
  answered: number;
  /** answered / attempts (answer-seizure ratio); null without attempts */
  answerRatio: number | null;
  setupToRinging: Percentiles;
  setupToAnswer: Percentiles;
  apiLatency: Percentiles;
  failures: Record<string, number>;
  /** active health probes in the window and how many failed */
  probes: { ok: number; failed: number };
}

/** Raw counters of one provider: field → count. */
export type Counters = Map<string, number>;

const TIMINGS = { setupToRinging: 'r', setupToAnswer: 'a', apiLatency: 'l' } as const;

export function bucketOf(seconds: number): number {
  const ms = seconds * 1000;
  if (!(ms > 1)) return 0;
  return Math.min(MAX_BUCKET, Math.ceil(Math.log2(ms) * BUCKETS_PER_DOUBLING));
}

/** The value a bucket stands for, in seconds. */
export function bucketValue(i: number): number {
  if (i <= 0) return 0.0005;
  return 2 ** ((i - 0.5) / BUCKETS_PER_DOUBLING) / 1000;
}

/** Cause names are kept to a safe alphabet: they become hash fields and metric labels. */
export function causeName(raw: string): string {
  const c = raw.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 48);
  return c || 'unknown';
}

/** The counter increments one sample makes. */
export function fieldsOf(s: PerfSample): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  if (s.attempt) out.push(['att', 1]);
  if (s.answered) out.push(['ans', 1]);
  if (s.failure) out.push([`f:${causeName(s.failure)}`, 1]);
  if (s.probe) out.push([s.probe === 'ok' ? 'pok' : 'pfail', 1]);
  for (const [name, tag] of Object.entries(TIMINGS)) {
    const v = s[name as keyof typeof TIMINGS];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out.push([`${tag}:${bucketOf(v)}`, 1]);
  }
  return out;
}

export function addInto(into: Counters, field: string, n: number): void {
  into.set(field, (into.get(field) ?? 0) + n);
}

function rounded(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function percentiles(c: Counters, tag: string): Percentiles {
  const buckets: Array<[number, number]> = [];
  let total = 0;
  for (const [f, n] of c) {
    if (!f.startsWith(tag + ':') || n <= 0) continue;
    buckets.push([Number(f.slice(tag.length + 1)), n]);
    total += n;
  }
  if (total === 0) return { p50: null, p95: null };
  buckets.sort((a, b) => a[0] - b[0]);
  const at = (q: number): number => {
    // nearest-rank: the smallest value with at least q of the samples at or below it
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (const [i, n] of buckets) {
      seen += n;
      if (seen >= rank) return rounded(bucketValue(i));
    }
    return rounded(bucketValue(buckets[buckets.length - 1][0]));
  };
  return { p50: at(0.5), p95: at(0.95) };
}

/** A timing's histogram as [upper bound in seconds, count] pairs, ascending (charts). */
export function distributionOf(c: Counters | undefined, timing: keyof typeof TIMINGS): Array<[number, number]> {
  const tag = TIMINGS[timing];
  const out: Array<[number, number]> = [];
  for (const [f, n] of c ?? []) {
    if (f.startsWith(tag + ':') && n > 0) {
      const i = Number(f.slice(tag.length + 1));
      out.push([rounded(i <= 0 ? 0.001 : 2 ** (i / BUCKETS_PER_DOUBLING) / 1000), n]);
    }
  }
  return out.sort((a, b) => a[0] - b[0]);
}

export function figuresOf(c: Counters | undefined): PerfFigures {
  const counters = c ?? new Map<string, number>();
  const attempts = counters.get('att') ?? 0;
  const answered = counters.get('ans') ?? 0;
  const failures: Record<string, number> = {};
  for (const [f, n] of counters) if (f.startsWith('f:') && n > 0) failures[f.slice(2)] = n;
  return {
    attempts,
    answered,
    answerRatio: attempts > 0 ? rounded(answered / attempts) : null,
    setupToRinging: percentiles(counters, TIMINGS.setupToRinging),
    setupToAnswer: percentiles(counters, TIMINGS.setupToAnswer),
    apiLatency: percentiles(counters, TIMINGS.apiLatency),
    failures,
    probes: { ok: counters.get('pok') ?? 0, failed: counters.get('pfail') ?? 0 },
  };
}
