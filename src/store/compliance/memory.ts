// Compliance in local mode, the twin of ./redis.ts.

import { done, type MemoryData } from '../memory/state.js';
import { stickyField, unexpiredSticky, type ComplianceStore } from './port.js';

export class MemoryCompliance implements ComplianceStore {
  constructor(private readonly data: MemoryData) {}

  dncAdd(orgId: string, numbers: string[]): Promise<number> {
    const set = this.data.org(orgId).dnc;
    const before = set.size;
    for (const n of numbers) set.add(n);
    return done(set.size - before);
  }

  dncRemove(orgId: string, numbers: string[]): Promise<number> {
    const set = this.data.orgs.get(orgId)?.dnc;
    let n = 0;
    for (const x of numbers) if (set?.delete(x)) n++;
    return done(n);
  }

  dncHas(orgId: string, number: string): Promise<boolean> {
    return done(this.data.orgs.get(orgId)?.dnc.has(number) ?? false);
  }

  dncCount(orgId: string): Promise<number> {
    return done(this.data.orgs.get(orgId)?.dnc.size ?? 0);
  }

  stickyCallerId(orgId: string, providerId: string, to: string, now: number): Promise<string | null> {
    return done(unexpiredSticky(this.data.orgs.get(orgId)?.callerIds.get(stickyField(providerId, to)), now));
  }

  sweepCallerIds(orgId: string, now: number): Promise<number> {
    const m = this.data.orgs.get(orgId)?.callerIds;
    let n = 0;
    for (const [field, v] of m ?? []) {
      if (unexpiredSticky(v, now) === null) {
        m!.delete(field);
        n++;
      }
    }
    return done(n);
  }
}
