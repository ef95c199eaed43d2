// Small helpers shared by the benchmarks: latency percentiles and a plain-text table.

/** The q-quantile (0..1) of the samples, nearest-rank; NaN when there are none. */
export function percentile(samples: ArrayLike<number>, q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

export function fmtPct(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(1)} %` : '-';
}

/** A text table: the first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A table from an array of flat objects (for benchmark modules without their own formatter). */
export function tableOf(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(no rows)';
  const header = Object.keys(rows[0]);
  return table(
    header,
    rows.map((r) =>
      header.map((h) => {
        const v = r[h];
        return typeof v === 'number' ? (Number.isInteger(v) ? fmtInt(v) : v.toFixed(3)) : String(v ?? '');
      }),
    ),
  );
}
