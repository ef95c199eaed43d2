// Splitting "<providerId>|<field>" counters back into per-provider figures (both backends store
// them that way: hash fields on Redis, map keys in memory).

import { addInto, type Counters } from '../../perf/codec.js';

export /** Splits `${providerId}|${field}` hash fields into per-provider counters. */
function mergeHash(into: Map<string, Counters>, hash: Record<string, string> | Map<string, number>): void {
  const entries = hash instanceof Map ? hash.entries() : Object.entries(hash);
  for (const [k, v] of entries) {
    const bar = k.indexOf('|');
    if (bar <= 0) continue;
    const pid = k.slice(0, bar);
    let c = into.get(pid);
    if (!c) into.set(pid, (c = new Map()));
    addInto(c, k.slice(bar + 1), Number(v));
  }
}

