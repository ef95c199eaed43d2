// Provider figures: live per-provider performance side by side (table + chart), what calls cost
// per provider over a period beside what they would have cost on every provider's rates (the
// what-if, also per destination country), and trials that put calls through several providers at
// once and report the same figures with the cost per call. Gateways without these endpoints
// answer 404: the page says so instead of failing.

import { api, ApiError, enc, type CostReport, type Figures, type Money, type Percentiles, type Total, type Trial } from '../api.js';
import { barChart } from '../chart.js';
import { h, plural, replace, uid } from '../dom.js';
import { alertBox, errorText, field, FormError } from '../forms.js';
import { providerName, refreshProviders, state } from '../state.js';
import type { PageContext } from './page.js';

type Metric = 'setupToAnswer' | 'setupToRinging' | 'apiLatency' | 'answerRatio';
const METRICS: Array<[Metric, string]> = [
  ['setupToAnswer', 'Time to answer'],
  ['setupToRinging', 'Time to ringing'],
  ['apiLatency', 'Provider API latency'],
  ['answerRatio', 'Answer rate'],
];

const secs = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v < 1 ? `${Math.round(v * 1000)} ms` : `${v.toFixed(2)} s`);
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${Math.round(v * 100)}%`);
const pp = (p: Percentiles | undefined) => `${secs(p?.p50)} / ${secs(p?.p95)}`;
const money = (m: Money | null | undefined) => {
  if (!m) return '–';
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: m.currency, maximumFractionDigits: 4 }).format(m.amount);
  } catch {
    return `${m.amount} ${m.currency}`;
  }
};
/** a sum over several currencies: the largest, then the others */
const total = (t: Total | undefined) => (t ? [t, ...(t.others ?? [])].map(money).join(' + ') : '–');
// the installed name when the console knows it, else the name the figures carry
const nameOf = (f: Figures) => (f.name && providerName(f.providerId) === f.providerId ? f.name : providerName(f.providerId));

function unavailable(what: string, path: string): HTMLElement {
  return h(
    'div',
    { class: 'alert alert-info unavailable', role: 'status' },
    h('p', null, h('strong', null, `${what} are not available on this gateway.`)),
    h('p', null, `It answered 404 to ${path}: this gateway version does not offer them yet. Everything else in the console works.`),
  );
}

function figuresTable(items: Figures[], id: string): HTMLElement {
  // trial reports price their calls: the cost per call goes beside the figures
  const costs = items.some((f) => f.cost);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table', id },
      h('caption', { class: 'sr-only' }, 'Figures per provider; times are median / 95th percentile'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Provider', 'Attempts', 'Answered', 'Answer rate', 'Time to ringing (p50 / p95)', 'Time to answer (p50 / p95)', 'API latency (p50 / p95)', 'Failures', ...(costs ? ['Cost per call'] : [])].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        items.map((f) => {
          const failures = Object.entries(f.failures ?? {}).filter(([, n]) => n > 0);
          return h(
            'tr',
            { 'data-provider-id': f.providerId },
            h('th', { scope: 'row' }, nameOf(f), f.error ? h('p', { class: 'danger-text' }, f.error) : null),
            h('td', { class: 'num' }, String(f.attempts ?? 0)),
            h('td', { class: 'num' }, String(f.answered ?? 0)),
            h('td', { class: 'num' }, pct(f.answerRatio)),
            h('td', { class: 'num' }, pp(f.setupToRinging)),
            h('td', { class: 'num' }, pp(f.setupToAnswer)),
            h('td', { class: 'num' }, pp(f.apiLatency)),
            h('td', null, failures.length ? failures.map(([c, n]) => `${c}: ${n}`).join(', ') : 'none'),
            costs ? h('td', { class: 'num' }, f.cost?.perCall ? total(f.cost.perCall) : f.cost?.unpriced ? 'no rate' : '–') : null,
          );
        }),
      ),
    ),
  );
}

function figuresChart(items: Figures[], metric: Metric): HTMLElement {
  const label = METRICS.find(([m]) => m === metric)![1];
  if (metric === 'answerRatio') {
    return barChart({
      title: `${label} per provider`,
      series: [{ name: 'answered', cls: 's1' }],
      groups: items.map((f) => ({ label: nameOf(f), values: [f.answerRatio ?? null] })),
      unit: '%',
      format: (v) => pct(v),
    });
  }
  return barChart({
    title: `${label} per provider (lower is better)`,
    series: [
      { name: 'median (p50)', cls: 's1' },
      { name: 'p95', cls: 's2' },
    ],
    groups: items.map((f) => {
      const p = f[metric] as Percentiles | undefined;
      return { label: nameOf(f), values: [p?.p50 ?? null, p?.p95 ?? null] };
    }),
    unit: 's',
    format: (v) => secs(v),
  });
}

/** Table + chart with a metric switch; redraws when given new figures. */
function figuresView(tableId: string): { el: HTMLElement; show(items: Figures[]): void } {
  let metric: Metric = 'setupToAnswer';
  let items: Figures[] = [];
  const chartSlot = h('div', { class: 'chart-slot' });
  const tableSlot = h('div');
  const name = uid('metric');
  const switcher = h(
    'fieldset',
    { class: 'metric-switch' },
    h('legend', null, 'Chart'),
    METRICS.map(([m, label]) => {
      const input = h('input', { type: 'radio', name, value: m, id: `${name}-${m}`, checked: m === metric, onchange: () => ((metric = m), draw()) });
      return h('span', { class: 'check' }, input, h('label', { for: input.id }, label));
    }),
  );
  const draw = () => {
    if (!items.length) {
      replace(tableSlot, h('p', { class: 'muted' }, 'No calls in this period yet.'));
      chartSlot.replaceChildren();
      return;
    }
    replace(tableSlot, figuresTable(items, tableId));
    replace(chartSlot, figuresChart(items, metric));
  };
  return {
    el: h('div', { class: 'figures' }, tableSlot, switcher, chartSlot),
    show(next) {
      items = next;
      draw();
    },
  };
}

export async function figuresPage(ctx: PageContext): Promise<void> {
  ctx.main.append(h('h1', null, 'Provider figures'), h('p', { class: 'lead' }, 'Compare providers before a rollout: live figures from real calls, what calls cost on each provider, and trials that call a test number through several providers side by side.'));
  ctx.setTitle('Provider figures');
  await refreshProviders();
  if (ctx.signal.aborted) return;

  // ---- live performance ----------------------------------------------------------------------
  const perfSection = h('section', { class: 'card', 'aria-labelledby': 'perf-h' });
  const windowSel = h('select', { id: 'perf-window' }, [['5m', 'Last 5 minutes'], ['1h', 'Last hour'], ['24h', 'Last 24 hours']].map(([v, l]) => h('option', { value: v }, l)));
  windowSel.value = '1h';
  const perfAlert = alertBox();
  const perfBody = h('div', { 'aria-live': 'polite', 'aria-busy': 'false' });
  const view = figuresView('perf-table');
  let perfAvailable = true;
  const loadPerf = async () => {
    const path = `/v1/providers/performance?window=${enc(windowSel.value)}`;
    try {
      const r = await api<{ items: Figures[] }>('GET', path);
      perfAlert.clear();
      if (!perfBody.contains(view.el)) replace(perfBody, view.el);
      view.show(r.items);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        perfAvailable = false;
        replace(perfBody, unavailable('Live provider figures', 'GET /v1/providers/performance'));
        windowSel.disabled = true;
      } else perfAlert.show(errorText(e));
    }
  };
  windowSel.addEventListener('change', () => void loadPerf());
  replace(perfSection, h('h2', { id: 'perf-h' }, 'Live figures'), h('div', { class: 'filters' }, field('Period', windowSel)), perfAlert.el, perfBody);
  ctx.main.append(perfSection);
  await loadPerf();
  const refresh = setInterval(() => {
    if (perfAvailable && !document.hidden) void loadPerf();
  }, 15_000);
  ctx.signal.addEventListener('abort', () => clearInterval(refresh));

  // ---- costs ---------------------------------------------------------------------------------
  ctx.main.append(costSection(ctx));

  // ---- trials --------------------------------------------------------------------------------
  const trialSection = h('section', { class: 'card', 'aria-labelledby': 'trial-h' });
  const trialAlert = alertBox();
  const progress = h('div', { class: 'trial-progress', 'aria-live': 'polite', id: 'trial-progress' });
  const report = figuresView('trial-table');
  const reportSlot = h('div');
  const boxes = state.providers.map((p) => {
    const input = h('input', { type: 'checkbox', id: uid('trial-p'), value: p.id, checked: state.providers.length <= 4 });
    return { input, el: h('div', { class: 'check' }, input, h('label', { for: input.id }, p.name)) };
  });
  const to = h('input', { type: 'tel', id: 'trial-to', required: true, placeholder: '+1 555 0100', autocomplete: 'off' });
  const calls = h('input', { type: 'number', id: 'trial-calls', min: 1, max: 1000, value: '5' });
  const concurrency = h('input', { type: 'number', id: 'trial-concurrency', min: 1, max: 50, value: '2' });
  const hangUp = h('input', { type: 'number', id: 'trial-hangup', min: 0, max: 600_000, value: '3000' });
  const start = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Start trial');
  const form = h(
    'form',
    { novalidate: true },
    trialAlert.el,
    state.providers.length
      ? h('fieldset', null, h('legend', null, 'Providers to compare'), boxes.map((b) => b.el))
      : h('p', { class: 'muted' }, 'Install providers first; a trial compares installed providers.'),
    h(
      'div',
      { class: 'filters' },
      field('Number to call', to, 'A test number you own: every provider calls it.'),
      field('Calls per provider', calls),
      field('At once', concurrency),
      field('Hang up after answer (ms)', hangUp),
    ),
    h('div', { class: 'actions' }, start),
  );

  const int = (input: HTMLInputElement, label: string): number => {
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < Number(input.min) || n > Number(input.max)) throw new FormError(`${label} must be a whole number from ${input.min} to ${input.max}.`, input);
    return n;
  };

  const follow = async (id: string) => {
    let delay = 1000;
    for (;;) {
      if (ctx.signal.aborted) return;
      let t: Trial;
      try {
        t = await api<Trial>('GET', `/v1/trials/${enc(id)}`);
      } catch (e) {
        replace(progress, h('p', null, `Lost track of trial ${id}: ${errorText(e)}`));
        return;
      }
      const reportItems = Array.isArray(t.report) ? t.report : [];
      const done = t.progress?.finished ?? reportItems.reduce((n, f) => n + (f.finished ?? f.attempts ?? 0), 0);
      const placed = t.progress?.placed ?? done;
      const total = t.progress?.total;
      if (reportItems.length) {
        if (!reportSlot.contains(report.el)) replace(reportSlot, h('h3', null, 'Report'), report.el);
        report.show(reportItems);
      }
      if (t.status !== 'running') {
        replace(progress, h('p', { class: 'ok-text' }, `Trial ${id} ${t.status}: ${plural(placed, 'call')} placed, ${done} finished.`));
        start.disabled = false;
        return;
      }
      replace(
        progress,
        h('p', null, `Trial ${id} running: ${plural(placed, 'call')} placed${total ? ` of ${total}` : ''}, ${done} finished…`),
        total ? h('progress', { max: total, value: done, 'aria-label': 'Trial progress' }) : h('progress', { 'aria-label': 'Trial progress' }),
      );
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 1.2, 3000);
    }
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    trialAlert.clear();
    let body: Record<string, unknown>;
    try {
      const providerIds = boxes.filter((b) => b.input.checked).map((b) => b.input.value);
      if (!providerIds.length) throw new FormError('Choose at least one provider.', boxes[0]?.input);
      if (!to.value.trim()) throw new FormError('Enter the number to call.', to);
      body = {
        providerIds,
        to: to.value.trim(),
        calls: int(calls, 'Calls per provider'),
        concurrency: int(concurrency, 'At once'),
        hangUpAfterMs: int(hangUp, 'Hang up after'),
      };
    } catch (err) {
      if (err instanceof FormError) {
        trialAlert.show(err.message);
        err.input?.focus();
        return;
      }
      throw err;
    }
    start.disabled = true;
    try {
      const r = await api<{ id: string }>('POST', '/v1/trials', body);
      replace(progress, h('p', null, `Trial ${r.id} started.`));
      reportSlot.replaceChildren();
      await follow(r.id);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) replace(trialSection, h('h2', { id: 'trial-h' }, 'Trials'), unavailable('Trials', 'POST /v1/trials'));
      else trialAlert.show(errorText(err));
    } finally {
      start.disabled = false;
    }
  });

  replace(
    trialSection,
    h('h2', { id: 'trial-h' }, 'Trials'),
    h('p', null, 'A trial places real calls to one number through each chosen provider, a few at a time, and hangs up after the answer. Use a number you own.'),
    form,
    progress,
    reportSlot,
  );
  ctx.main.append(trialSection);
}

/** Paid per provider over a period, beside every provider's rates applied to the same calls. */
function costSection(ctx: PageContext): HTMLElement {
  const section = h('section', { class: 'card', 'aria-labelledby': 'cost-h' });
  const windowSel = h('select', { id: 'cost-window' }, [['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['90d', 'Last 90 days']].map(([v, l]) => h('option', { value: v }, l)));
  windowSel.value = '7d';
  const alert = alertBox();
  const body = h('div', { 'aria-live': 'polite', id: 'cost-body' });
  const load = async () => {
    const path = `/v1/providers/costs?window=${enc(windowSel.value)}`;
    try {
      const r = await api<CostReport>('GET', path);
      if (ctx.signal.aborted) return;
      alert.clear();
      replace(body, costTables(r));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        replace(body, unavailable('Costs', 'GET /v1/providers/costs'));
        windowSel.disabled = true;
      } else alert.show(errorText(e));
    }
  };
  windowSel.addEventListener('change', () => void load());
  replace(
    section,
    h('h2', { id: 'cost-h' }, 'Costs'),
    h('p', null, "What the period's outbound calls cost on the provider that carried them, and what the same calls would have cost on each provider's rate table."),
    h('div', { class: 'filters' }, field('Costs over', windowSel)),
    alert.el,
    body,
  );
  void load();
  return section;
}

function costTables(r: CostReport): HTMLElement {
  const ids = [...new Set([...Object.keys(r.providers), ...Object.keys(r.whatIf)])];
  if (!ids.length) return h('p', { class: 'muted' }, 'No calls in this period yet, and no rate tables.');
  const th = (c: string) => h('th', { scope: 'col' }, c);
  const countries = Object.entries(r.byCountry).sort((a, b) => b[1].calls - a[1].calls);
  const whatIfIds = Object.keys(r.whatIf);
  return h(
    'div',
    null,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table', id: 'cost-table' },
        h('caption', { class: 'sr-only' }, 'Costs per provider: what was paid, and the same calls on its rates'),
        h('thead', null, h('tr', null, ['Provider', 'Calls', 'Billed minutes', 'Cost', 'All calls on its rates'].map(th))),
        h(
          'tbody',
          null,
          ids.map((id) => {
            const p = r.providers[id];
            const w = r.whatIf[id];
            return h(
              'tr',
              { 'data-provider-id': id },
              h('th', { scope: 'row' }, providerName(id)),
              h('td', { class: 'num' }, String(p?.calls ?? 0)),
              h('td', { class: 'num' }, String(p?.billedMinutes ?? 0)),
              h('td', { class: 'num' }, p ? total(p.cost) : '–', p?.unpriced ? h('span', { class: 'muted' }, ` (${plural(p.unpriced, 'call')} unpriced)`) : null),
              h('td', { class: 'num' }, w ? money(w) : 'no rate table', w?.unpriced ? h('span', { class: 'muted' }, ` (${plural(w.unpriced, 'call')} not covered)`) : null),
            );
          }),
        ),
      ),
    ),
    countries.length && whatIfIds.length
      ? h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table', id: 'cost-country-table' },
            h('caption', null, 'Per destination country, on each provider\'s rates'),
            h('thead', null, h('tr', null, th('Country'), th('Calls'), whatIfIds.map((id) => th(providerName(id))))),
            h(
              'tbody',
              null,
              countries.map(([c, v]) =>
                h('tr', { 'data-country': c }, h('th', { scope: 'row' }, c), h('td', { class: 'num' }, String(v.calls)), whatIfIds.map((id) => h('td', { class: 'num' }, money(v.whatIf[id])))),
              ),
            ),
          ),
        )
      : null,
    r.truncated ? h('p', { class: 'muted' }, 'Only the first 200,000 calls of the period are counted.') : null,
  );
}
