// A horizontal bar chart in plain SVG: one group per provider, one bar per series (p50 / p95).
// The numbers are also in the table next to it; the chart is the at-a-glance comparison.

import { h, s } from './dom.js';

export interface Series {
  name: string;
  cls: string;
}

export interface BarGroup {
  label: string;
  values: Array<number | null>;
}

export function barChart(opts: { title: string; series: Series[]; groups: BarGroup[]; unit: string; format: (v: number) => string }): HTMLElement {
  const { series, groups } = opts;
  const labelW = 170;
  const barH = 16;
  const gap = 4;
  const groupGap = 14;
  const width = 640;
  const plotW = width - labelW - 70;
  const max = Math.max(0, ...groups.flatMap((g) => g.values.filter((v): v is number => v !== null)));
  const scale = max > 0 ? plotW / max : 0;
  const groupH = series.length * (barH + gap) - gap;
  const height = groups.length * (groupH + groupGap) + 10;

  const rows = groups.map((g, gi) => {
    const y0 = 5 + gi * (groupH + groupGap);
    return s(
      'g',
      null,
      s('text', { x: labelW - 8, y: y0 + groupH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'chart-label' }, g.label.length > 24 ? g.label.slice(0, 23) + '…' : g.label),
      g.values.map((v, si) => {
        const y = y0 + si * (barH + gap);
        const w = v === null ? 0 : Math.max(1, v * scale);
        return s(
          'g',
          null,
          s('rect', { x: labelW, y, width: w, height: barH, class: `bar ${series[si].cls}` }, s('title', null, `${g.label} ${series[si].name}: ${v === null ? 'no data' : opts.format(v)}`)),
          s('text', { x: labelW + w + 6, y: y + barH / 2, 'dominant-baseline': 'middle', class: 'chart-value' }, v === null ? 'no data' : opts.format(v)),
        );
      }),
    );
  });
  const summary = groups
    .map((g) => `${g.label}: ${g.values.map((v, i) => `${series[i].name} ${v === null ? 'no data' : opts.format(v)}`).join(', ')}`)
    .join('; ');
  const svg = s(
    'svg',
    { viewBox: `0 0 ${width} ${Math.max(height, 30)}`, role: 'img', 'aria-label': `${opts.title}. ${summary}`, class: 'chart', preserveAspectRatio: 'xMinYMin meet' },
    s('line', { x1: labelW, x2: labelW, y1: 0, y2: Math.max(height, 30), class: 'axis' }),
    rows,
  );
  return h(
    'figure',
    { class: 'chart-figure' },
    svg,
    h('figcaption', null, opts.title, ' ', series.map((se) => h('span', { class: 'legend' }, h('span', { class: `swatch ${se.cls}`, 'aria-hidden': 'true' }), se.name))),
  );
}
