// What calls cost: rate tables per provider (PUT/GET /v1/providers/{id}/rates), each ended
// outbound call's cost (settled by the call-log job, before the CRM log is written, so the log
// and the webhook carry it), and per-provider figures over a window with the what-if: the same
// calls re-priced with every installed provider's table.

import type { OrgConfigCache } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import type { Call } from '../domain/types.js';
import type { CostEntry, CostStore } from '../store/costs/port.js';
import { fromMicros, priceCall, rateFor, priceMicros, type Cost, type Money, type RateTable } from './rates.js';

/** how long ended calls stay in the cost ledger (the longest window a report can cover) */
export const LEDGER_DAYS = 90;
const DAY_MS = 24 * 3600 * 1000;
/** calls a window report reads at most */
export const MAX_WINDOW_CALLS = 200_000;

/** "90m", "24h", "7d" → ms; at most LEDGER_DAYS. */
export function parseWindow(w: string): number {
  const m = /^([1-9][0-9]{0,5})(m|h|d)$/.exec(w);
  const ms = m ? Number(m[1]) * { m: 60_000, h: 3_600_000, d: DAY_MS }[m[2] as 'm' | 'h' | 'd'] : NaN;
  if (!(ms > 0) || ms > LEDGER_DAYS * DAY_MS) throw new DomainError('validation_failed', `window "${w}" must be minutes, hours or days ("90m", "24h", "7d"), at most ${LEDGER_DAYS}d`);
  return ms;
}

/** The cost of an ended call: the provider's reported price, else its rate table's; null if neither. */
export function costOf(call: Pick<Call, 'to' | 'durationSec' | 'providerPrice'>, table: RateTable | null): { cost: Cost | null; billedSec: number } {
  const talk = call.durationSec ?? 0;
  const rated = table ? priceCall(table, call.to, talk) : null;
  const billedSec = rated?.billedSec ?? Math.ceil(talk);
  if (call.providerPrice) return { cost: { amount: Math.abs(call.providerPrice.amount), currency: call.providerPrice.currency, source: 'provider' }, billedSec };
  return { cost: rated ? { ...rated.money, source: 'rates' } : null, billedSec };
}

/**
 * Settles an ended outbound call's cost (the call-log job, before the CRM log: a call that has
 * one keeps it) and records it in the ledger. Returns the call with its cost.
 */
export async function settleCost(store: CostStore, orgId: string, call: Call, now = Date.now()): Promise<Call> {
  if (call.direction !== 'outbound' || call.trial || call.cost) return call;
  const table = await store.getRates(orgId, call.providerId);
  const { cost, billedSec } = costOf(call, table);
  const country = parsePhone(call.to)?.country;
  const entry: CostEntry = {
    callId: call.id,
    providerId: call.providerId,
    to: call.to,
    ...(country ? { country } : {}),
    endedAtMs: Date.parse(call.endedAt ?? call.updatedAt) || now,
    talkSec: call.durationSec ?? 0,
    billedSec,
    cost,
  };
  await store.record(orgId, entry, now - LEDGER_DAYS * DAY_MS);
  return cost ? { ...call, cost } : call;
}

interface Sum {
  micros: Map<string, number>;
}
const addTo = (s: Sum, m: Money) => s.micros.set(m.currency, (s.micros.get(m.currency) ?? 0) + Math.round(m.amount * 1e6));
/** one currency: {amount, currency}; several (a provider's price beside its table's): the largest, with the others listed */
function total(s: Sum): (Money & { others?: Money[] }) | null {
  const all = [...s.micros].map(([currency, micros]) => ({ amount: fromMicros(micros), currency })).sort((a, b) => b.amount - a.amount);
  if (all.length === 0) return null;
  return all.length === 1 ? all[0] : { ...all[0], others: all.slice(1) };
}

/** Calls through one provider priced one by one (a trial's): the total and the mean per call. */
export interface CallsCost {
  /** ended calls counted (unanswered ones cost 0) */
  calls: number;
  billedMinutes: number;
  total: (Money & { others?: Money[] }) | null;
  /** total / calls priced, per currency */
  perCall: (Money & { others?: Money[] }) | null;
  /** calls with no cost (no rate matched, no price reported) */
  unpriced: number;
}

export function costOfCalls(calls: Pick<Call, 'to' | 'durationSec' | 'providerPrice'>[], table: RateTable | null): CallsCost {
  const sum: Sum = { micros: new Map() };
  const count = new Map<string, number>();
  let billedSec = 0;
  let unpriced = 0;
  for (const c of calls) {
    const r = costOf(c, table);
    billedSec += r.billedSec;
    if (!r.cost) {
      unpriced++;
      continue;
    }
    addTo(sum, r.cost);
    count.set(r.cost.currency, (count.get(r.cost.currency) ?? 0) + 1);
  }
  const mean: Sum = { micros: new Map([...sum.micros].map(([cur, m]) => [cur, m / count.get(cur)!])) };
  return { calls: calls.length, billedMinutes: Math.round((billedSec / 60) * 100) / 100, total: total(sum), perCall: total(mean), unpriced };
}

export interface ProviderCosts {
  calls: number;
  billedMinutes: number;
  cost: (Money & { others?: Money[] }) | null;
  /** calls with no cost (no rate matched, no price reported) */
  unpriced: number;
}

export interface CostReport {
  window: { from: string; to: string };
  providers: Record<string, ProviderCosts>;
  /** every call of the window re-priced on each provider's table: "what we would have paid" */
  whatIf: Record<string, Money & { unpriced: number }>;
  byCountry: Record<string, { calls: number; whatIf: Record<string, Money> }>;
  truncated: boolean;
}

export class CostService {
  constructor(
    private readonly store: CostStore,
    private readonly configs: OrgConfigCache,
    private readonly clock: () => number = Date.now,
  ) {}

  private async provider(orgId: string, providerId: string): Promise<void> {
    if (!(await this.configs.get(orgId)).provider(providerId) && !(await this.configs.load(orgId)).provider(providerId)) {
      throw new DomainError('provider_not_found', `provider ${providerId} not found`);
    }
  }

  async putRates(orgId: string, providerId: string, table: RateTable): Promise<RateTable> {
    await this.provider(orgId, providerId);
    await this.store.putRates(orgId, providerId, table);
    return table;
  }

  async getRates(orgId: string, providerId: string): Promise<RateTable> {
    await this.provider(orgId, providerId);
    const t = await this.store.getRates(orgId, providerId);
    if (!t) throw new DomainError('not_found', `provider ${providerId} has no rate table`);
    return t;
  }

  async deleteRates(orgId: string, providerId: string): Promise<void> {
    await this.provider(orgId, providerId);
    await this.store.delRates(orgId, providerId);
  }

  /** GET /v1/providers/costs: per provider over the window, and the what-if on every table. */
  async report(orgId: string, windowMs: number): Promise<CostReport> {
    const to = this.clock();
    const from = to - windowMs;
    const [entries, tables, snap] = await Promise.all([this.store.ledger(orgId, from, to, MAX_WINDOW_CALLS + 1), this.store.allRates(orgId), this.configs.get(orgId)]);
    const truncated = entries.length > MAX_WINDOW_CALLS;
    if (truncated) entries.length = MAX_WINDOW_CALLS;
    const installed = snap.providers().map((p) => p.id);
    const providers: Record<string, ProviderCosts> = {};
    const sums = new Map<string, Sum>();
    const ifSums = new Map<string, { micros: number; unpriced: number }>();
    const countries: CostReport['byCountry'] = {};
    const countryMicros = new Map<string, Map<string, number>>();
    for (const e of entries) {
      const p = (providers[e.providerId] ??= { calls: 0, billedMinutes: 0, cost: null, unpriced: 0 });
      p.calls++;
      p.billedMinutes += e.billedSec / 60;
      if (e.cost) {
        let s = sums.get(e.providerId);
        if (!s) sums.set(e.providerId, (s = { micros: new Map() }));
        addTo(s, e.cost);
      } else p.unpriced++;
      const c = e.country ?? 'unknown';
      (countries[c] ??= { calls: 0, whatIf: {} }).calls++;
      for (const id of installed) {
        const t = tables[id];
        if (!t) continue;
        const row = rateFor(t, e.to);
        const w = ifSums.get(id) ?? { micros: 0, unpriced: 0 };
        ifSums.set(id, w);
        if (!row) {
          w.unpriced++;
          continue;
        }
        const micros = priceMicros(row, e.talkSec);
        w.micros += micros;
        let cm = countryMicros.get(c);
        if (!cm) countryMicros.set(c, (cm = new Map()));
        cm.set(id, (cm.get(id) ?? 0) + micros);
      }
    }
    for (const [id, s] of sums) providers[id].cost = total(s);
    for (const p of Object.values(providers)) p.billedMinutes = Math.round(p.billedMinutes * 100) / 100;
    const whatIf: CostReport['whatIf'] = {};
    for (const [id, w] of ifSums) whatIf[id] = { amount: fromMicros(w.micros), currency: tables[id].currency, unpriced: w.unpriced };
    for (const [c, cm] of countryMicros) for (const [id, micros] of cm) countries[c].whatIf[id] = { amount: fromMicros(micros), currency: tables[id].currency };
    return { window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() }, providers, whatIf, byCountry: countries, truncated };
  }
}
