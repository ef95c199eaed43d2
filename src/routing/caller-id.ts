// Local-presence caller id: the number a customer sees. A provider may carry a pool of numbers
// (provider field `callerIdPool`); the best match for a destination is a number of the same
// country, then the one sharing the longest prefix with it (the area code); equally good numbers
// are spread over destinations by a stable hash, so a destination always gets the same one. The
// click script (src/store/redis/lua/click.lua) keeps a destination on the number it was last
// shown for CALLER_ID_STICKY_MS, as long as that number stays in the pool. Without a pool: the
// provider's configured caller id.

import type { OrgSnapshot } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import type { Provider } from '../domain/types.js';

export const CALLER_ID_POOL = (providerId: string) => `provider:${providerId}:callerIdPool`;
/** how long a destination keeps the number it was shown, after its last call */
export const CALLER_ID_STICKY_MS = 30 * 24 * 3600 * 1000;
export const MAX_POOL = 1000;

export interface CallerIdChoice {
  callerId: string;
  pool: string[];
  reason: string;
}

// parsePhone keeps its parses: the pool's numbers and the destination cost a lookup
function countryOf(e164: string): string | undefined {
  return parsePhone(e164)?.country;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A pool normalised: E.164, no duplicates; throws validation_failed naming a bad number. */
export function checkPool(pool: string[]): string[] {
  const out: string[] = [];
  for (const n of pool) {
    const e = parsePhone(n)?.number;
    if (!e) throw new DomainError('validation_failed', `callerIdPool: "${n}" is not a valid E.164 number`);
    if (!out.includes(e)) out.push(e);
  }
  return out;
}

/** The pool number that best matches `to`, and why. */
export function bestOfPool(pool: string[], to: string): { callerId: string; reason: string } {
  const country = countryOf(to);
  const same = pool.filter((n) => country !== undefined && countryOf(n) === country);
  const candidates = same.length > 0 ? same : pool;
  let best = -1;
  let tied: string[] = [];
  for (const n of candidates) {
    const l = commonPrefix(n, to);
    if (l > best) [best, tied] = [l, [n]];
    else if (l === best) tied.push(n);
  }
  const callerId = tied[hash(to) % tied.length];
  const why = same.length > 0 ? `same country (${country}), ${best - 1} leading digits in common` : `no pool number in ${country ?? 'its country'}; ${best - 1} leading digits in common`;
  return { callerId, reason: `pool number ${callerId}: ${why}` };
}

/** What the click script is given for `provider` and destination `to`. */
export function callerIdFor(snap: OrgSnapshot, provider: Provider, to: string): CallerIdChoice {
  const pool = snap.setting<string[]>(CALLER_ID_POOL(provider.id)) ?? [];
  if (pool.length > 0) return { ...bestOfPool(pool, to), pool };
  const own = provider.config.callerId;
  if (typeof own === 'string' && own !== '') return { callerId: own, pool: [], reason: `no caller id pool: the provider's configured caller id ${own}` };
  return { callerId: '', pool: [], reason: "no caller id pool and no configured caller id: the provider's default" };
}
