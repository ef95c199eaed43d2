// Rate tables: what a provider charges per destination prefix, and the cost of one call under
// them. Pure functions: parsing (JSON or CSV, every bad row named by its line), the longest
// prefix match and the billing rule. Amounts are computed in millionths of the currency unit
// and given back rounded to 6 decimals, so sums over many calls do not drift.

import { DomainError } from '../domain/errors.js';

export interface RateRow {
  /** E.164 digits the destination starts with, e.g. "+44" or "+1212" */
  prefix: string;
  perMinute: number;
  /** seconds billed per step (talk time is rounded up to it); default 60 */
  increment?: number;
  /** seconds billed at least, for a call with any talk time; default 0 */
  minimum?: number;
  /** charged once per answered call; default 0 */
  connectFee?: number;
}

export interface RateTable {
  currency: string;
  rates: RateRow[];
}

export interface Money {
  amount: number;
  currency: string;
}

export interface Cost extends Money {
  source: 'rates' | 'provider';
}

export const DEFAULT_INCREMENT = 60;
export const MAX_RATE_ROWS = 100_000;
const PREFIX = /^\+[0-9]{1,15}$/;
const CSV_HEADER = ['prefix', 'perMinute', 'increment', 'minimum', 'connectFee'] as const;

let currencies: ReadonlySet<string> | null = null;
/** ISO 4217 codes as the runtime's ICU knows them (Intl.supportedValuesOf). */
export function isCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies.has(code);
}

function bad(message: string, line?: number): DomainError {
  return new DomainError('validation_failed', line !== undefined ? `line ${line}: ${message}` : message, line !== undefined ? { line } : undefined);
}

function checkCurrency(currency: unknown): string {
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency) || !isCurrency(currency)) {
    throw bad(`currency ${JSON.stringify(currency)} is not an ISO 4217 code`);
  }
  return currency;
}

/** One row checked; `line` names it in the error (1-based: the JSON array index + 1, or the CSV line). */
function checkRow(r: Record<string, unknown>, line: number, seen: Set<string>): RateRow {
  const prefix = typeof r.prefix === 'string' ? r.prefix.trim() : r.prefix;
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) throw bad(`prefix ${JSON.stringify(r.prefix ?? null)} is not "+" and 1 to 15 digits`, line);
  if (seen.has(prefix)) throw bad(`prefix ${prefix} is listed twice`, line);
  seen.add(prefix);
  const num = (name: keyof RateRow, required: boolean, integer: boolean, min: number): number | undefined => {
    const v = r[name];
    if (v === undefined || v === null || v === '') {
      if (required) throw bad(`${name} is missing`, line);
      return undefined;
    }
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(`${name} ${JSON.stringify(v)} is not a number`, line);
    if (n < min) throw bad(`${name} ${n} must be at least ${min}`, line);
    if (integer && !Number.isInteger(n)) throw bad(`${name} ${n} must be whole seconds`, line);
    if (n > 1e9) throw bad(`${name} ${n} is too large`, line);
    return n;
  };
  const row: RateRow = { prefix, perMinute: num('perMinute', true, false, 0)! };
  const increment = num('increment', false, true, 1);
  const minimum = num('minimum', false, true, 0);
  const connectFee = num('connectFee', false, false, 0);
  if (increment !== undefined) row.increment = increment;
  if (minimum !== undefined) row.minimum = minimum;
  if (connectFee !== undefined) row.connectFee = connectFee;
  return row;
}

/** A table from its JSON body ({currency, rates}); throws validation_failed naming the row. */
export function parseRateJson(body: { currency?: unknown; rates?: unknown }): RateTable {
  const currency = checkCurrency(body.currency);
  if (!Array.isArray(body.rates)) throw bad('rates must be an array');
  if (body.rates.length > MAX_RATE_ROWS) throw bad(`at most ${MAX_RATE_ROWS} rates`);
  const seen = new Set<string>();
  const rates = body.rates.map((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw bad('a rate is an object', i + 1);
    return checkRow(r as Record<string, unknown>, i + 1, seen);
  });
  return { currency, rates };
}

/** A table from CSV (header prefix,perMinute,increment,minimum,connectFee; the last three may be empty). */
export function parseRateCsv(text: string, currency: unknown): RateTable {
  const cur = checkCurrency(currency);
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  if (header.length > CSV_HEADER.length || header.some((h, i) => h !== CSV_HEADER[i]) || header.length < 2) {
    throw bad(`the header must be "${CSV_HEADER.join(',')}" (the last three columns optional)`, 1);
  }
  const seen = new Set<string>();
  const rates: RateRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length > header.length) throw bad(`${cells.length} columns, the header has ${header.length}`, i + 1);
    const r: Record<string, unknown> = {};
    header.forEach((h, j) => (r[h] = cells[j]));
    rates.push(checkRow(r, i + 1, seen));
    if (rates.length > MAX_RATE_ROWS) throw bad(`at most ${MAX_RATE_ROWS} rates`, i + 1);
  }
  return { currency: cur, rates };
}

export function rateCsv(table: RateTable): string {
  const rows = table.rates.map((r) => [r.prefix, r.perMinute, r.increment ?? '', r.minimum ?? '', r.connectFee ?? ''].join(','));
  return [CSV_HEADER.join(','), ...rows].join('\n') + '\n';
}

/** The row whose prefix is the longest that `e164` starts with. */
export function rateFor(table: RateTable, e164: string): RateRow | undefined {
  let best: RateRow | undefined;
  for (const r of table.rates) {
    if (e164.startsWith(r.prefix) && (!best || r.prefix.length > best.prefix.length)) best = r;
  }
  return best;
}

/** Seconds billed for `talkSec` of talk: rounded up to the increment, at least the minimum; 0 unanswered. */
export function billedSeconds(row: RateRow, talkSec: number): number {
  if (!(talkSec > 0)) return 0;
  const inc = row.increment ?? DEFAULT_INCREMENT;
  return Math.max(row.minimum ?? 0, Math.ceil(talkSec / inc) * inc);
}

/** A call's cost in millionths: the billed minutes at the rate plus the connect fee (answered calls only). */
export function priceMicros(row: RateRow, talkSec: number): number {
  const billed = billedSeconds(row, talkSec);
  if (billed === 0) return 0;
  return Math.round((row.perMinute * billed * 1e6) / 60) + Math.round((row.connectFee ?? 0) * 1e6);
}

export const fromMicros = (micros: number): number => Math.round(micros) / 1e6;

/** The cost of `talkSec` to `e164` under `table`; null when no prefix matches. */
export function priceCall(table: RateTable, e164: string, talkSec: number): { money: Money; billedSec: number } | null {
  const row = rateFor(table, e164);
  if (!row) return null;
  return { money: { amount: fromMicros(priceMicros(row, talkSec)), currency: table.currency }, billedSec: billedSeconds(row, talkSec) };
}
