// The do-not-call list: numbers normalised to E.164 and kept in the backend (src/store/compliance),
// where the click script refuses them in the same atomic step that would create the call.
// Uploads are forgiving: the good lines are applied and the bad ones listed (with their line
// numbers), so a 100,000-line file with a few typos does not have to be sent twice.

import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import type { ComplianceStore } from '../store/compliance/port.js';

/** international form, digits only: already what a click's destination is normalised to */
const E164 = /^\+[1-9][0-9]{6,14}$/;

/**
 * A number as a click's destination would be: E.164. A line already written that way is taken
 * as it is (full validation costs ~20 µs a number, most of a 100,000-line upload; a number that
 * cannot exist never matches a click anyway); anything else is parsed with the default region.
 */
export function dncNumber(raw: string, region?: string): string | undefined {
  const compact = raw.replace(/[\s-]/g, '');
  if (E164.test(compact)) return compact;
  return parsePhone(raw, region)?.number;
}

/** bad lines named in an answer at most (the count covers them all) */
export const MAX_LISTED_INVALID = 100;

export interface DncChange {
  add?: string[];
  remove?: string[];
  /** default region for numbers not written in international form (e.g. "US") */
  region?: string;
}

/**
 * Bad lines do not stop an upload with good ones; one with no valid number at all (a wrong file,
 * a garbled body) is refused whole, naming its first bad lines, and changes nothing.
 */
function nothingValid(valid: number, out: DncResult): void {
  if (valid > 0) return;
  const first = out.invalid.slice(0, 5).map((b) => `line ${b.line}: "${b.value.slice(0, 40)}"`).join(', ');
  throw new DomainError('validation_failed', out.invalidCount ? `no valid phone number in the upload (${first})` : 'no phone number in the upload', { invalidCount: out.invalidCount, invalid: out.invalid });
}

export interface DncResult {
  added: number;
  removed: number;
  /** numbers on the list now */
  total: number;
  invalidCount: number;
  /** the first MAX_LISTED_INVALID bad entries: line (1-based; for JSON, the index + 1 in its array) and value */
  invalid: { line: number; value: string; list?: 'add' | 'remove' }[];
}

export class DncService {
  constructor(private readonly store: ComplianceStore) {}

  private normalise(values: string[], region: string | undefined, list: 'add' | 'remove' | undefined, lineOf: (i: number) => number, out: DncResult): string[] {
    const good: string[] = [];
    values.forEach((raw, i) => {
      const e164 = dncNumber(raw.trim(), region);
      if (e164) good.push(e164);
      else {
        if (out.invalid.length < MAX_LISTED_INVALID) out.invalid.push({ line: lineOf(i), value: raw.slice(0, 64), ...(list ? { list } : {}) });
        out.invalidCount++;
      }
    });
    return good;
  }

  /** PUT /v1/dnc with JSON {add, remove}. */
  async change(orgId: string, c: DncChange): Promise<DncResult> {
    const out: DncResult = { added: 0, removed: 0, total: 0, invalidCount: 0, invalid: [] };
    const add = this.normalise(c.add ?? [], c.region, 'add', (i) => i + 1, out);
    const remove = this.normalise(c.remove ?? [], c.region, 'remove', (i) => i + 1, out);
    nothingValid(add.length + remove.length, out);
    out.added = await this.store.dncAdd(orgId, add);
    out.removed = await this.store.dncRemove(orgId, remove);
    out.total = await this.store.dncCount(orgId);
    return out;
  }

  /**
   * PUT /v1/dnc with a text or CSV body: one number per line (a CSV's first column), added. A
   * first line that is not a number (a header) is skipped; blank lines are ignored.
   */
  async upload(orgId: string, text: string, region?: string): Promise<DncResult> {
    const out: DncResult = { added: 0, removed: 0, total: 0, invalidCount: 0, invalid: [] };
    const lines = text.split(/\r?\n/);
    const values: string[] = [];
    const lineNos: number[] = [];
    lines.forEach((l, i) => {
      const cell = l.split(',')[0].trim().replace(/^"(.*)"$/, '$1');
      if (cell === '') return;
      if (i === 0 && !/[0-9]/.test(cell)) return; // a header
      values.push(cell);
      lineNos.push(i + 1);
    });
    const add = this.normalise(values, region, undefined, (i) => lineNos[i], out);
    nothingValid(add.length, out);
    out.added = await this.store.dncAdd(orgId, add);
    out.total = await this.store.dncCount(orgId);
    return out;
  }

  /** GET /v1/dnc/{number}: null when the input is not a number. */
  async check(orgId: string, raw: string, region?: string): Promise<{ number: string; listed: boolean } | null> {
    const e164 = dncNumber(raw, region);
    if (!e164) return null;
    return { number: e164, listed: await this.store.dncHas(orgId, e164) };
  }

  count(orgId: string): Promise<number> {
    return this.store.dncCount(orgId);
  }
}
