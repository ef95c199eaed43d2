// Costs in local mode, the twin of ./redis.ts.

import { atomic, clone, done, type MemoryData } from '../memory/state.js';
import type { RateTable } from '../../costs/rates.js';
import type { CostEntry, CostStore } from './port.js';

/** ledger entries dropped per write at most (like cost_record.lua) */
const DROP_PER_WRITE = 100;

export class MemoryCosts implements CostStore {
  constructor(private readonly data: MemoryData) {}

  putRates(orgId: string, providerId: string, table: RateTable): Promise<void> {
    this.data.org(orgId).rates.set(providerId, clone(table));
    return done(undefined);
  }

  getRates(orgId: string, providerId: string): Promise<RateTable | null> {
    const t = this.data.orgs.get(orgId)?.rates.get(providerId);
    return done(t ? clone(t) : null);
  }

  allRates(orgId: string): Promise<Record<string, RateTable>> {
    return done(Object.fromEntries([...(this.data.orgs.get(orgId)?.rates ?? [])].map(([id, t]) => [id, clone(t)])));
  }

  delRates(orgId: string, providerId: string): Promise<void> {
    this.data.orgs.get(orgId)?.rates.delete(providerId);
    return done(undefined);
  }

  record(orgId: string, entry: CostEntry, dropBeforeMs: number): Promise<void> {
    return atomic(() => {
      const s = this.data.org(orgId);
      const c = s.calls.get(entry.callId);
      if (c) {
        if (entry.cost) c.cost = clone(entry.cost);
        else delete c.cost;
      }
      s.costLedger.set(entry.callId, clone(entry));
      let n = 0;
      for (const [id, e] of s.costLedger) {
        if (n >= DROP_PER_WRITE) break;
        if (e.endedAtMs < dropBeforeMs) {
          s.costLedger.delete(id);
          n++;
        }
      }
    });
  }

  ledger(orgId: string, fromMs: number, toMs: number, limit: number): Promise<CostEntry[]> {
    const all = [...(this.data.orgs.get(orgId)?.costLedger.values() ?? [])];
    return done(
      all
        .filter((e) => e.endedAtMs >= fromMs && e.endedAtMs <= toMs)
        .sort((a, b) => a.endedAtMs - b.endedAtMs || (a.callId < b.callId ? -1 : 1))
        .slice(0, limit)
        .map(clone),
    );
  }
}
