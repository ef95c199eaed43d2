// The live figures in local mode, with the same windows and expiry as on Redis.

import { addInto, fieldsOf, type Counters, type PerfSample } from '../../perf/codec.js';
import { mergeHash } from './merge.js';
import { HOUR, HOUR_TTL_SEC, MINUTE, MINUTE_TTL_SEC, TRIAL_TTL_SEC, periodsOf, type PerfStore, type PerfWindow } from './port.js';

const key = {
  minute: (orgId: string, m: number) => `${orgId}|m|${m}`,
  hour: (orgId: string, h: number) => `${orgId}|h|${h}`,
  trial: (orgId: string, t: string) => `${orgId}|t|${t}`,
};

interface MemEntry {
  fields: Map<string, number>;
  expiresAt: number;
}

export class MemoryPerfStore implements PerfStore {
  private readonly data = new Map<string, MemEntry>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  record(orgId: string, providerId: string, sample: PerfSample, trialId?: string, at = this.now()): void {
    const fields = fieldsOf(sample);
    if (fields.length === 0) return;
    const targets: Array<[string, number]> = [
      [key.minute(orgId, Math.floor(at / MINUTE)), MINUTE_TTL_SEC],
      [key.hour(orgId, Math.floor(at / HOUR)), HOUR_TTL_SEC],
    ];
    if (trialId) targets.push([key.trial(orgId, trialId), TRIAL_TTL_SEC]);
    const now = this.now();
    for (const [key, ttl] of targets) {
      let e = this.live(key, now);
      if (!e) this.data.set(key, (e = { fields: new Map(), expiresAt: 0 }));
      e.expiresAt = now + ttl * 1000;
      for (const [f, n] of fields) addInto(e.fields, `${providerId}|${f}`, n);
    }
    this.sweep(now);
  }

  private live(key: string, now: number): MemEntry | undefined {
    const e = this.data.get(key);
    if (e && e.expiresAt <= now) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < MINUTE) return;
    this.lastSweep = now;
    for (const [k, e] of this.data) if (e.expiresAt <= now) this.data.delete(k);
  }

  async window(orgId: string, window: PerfWindow, now = this.now()): Promise<Map<string, Counters>> {
    const { unit, ids } = periodsOf(window, now);
    const out = new Map<string, Counters>();
    for (const id of ids) {
      const e = this.live(unit === 'm' ? key.minute(orgId, id) : key.hour(orgId, id), this.now());
      if (e) mergeHash(out, e.fields);
    }
    return out;
  }

  async trial(orgId: string, trialId: string): Promise<Map<string, Counters>> {
    await this.flush();
    const out = new Map<string, Counters>();
    const e = this.live(key.trial(orgId, trialId), this.now());
    if (e) mergeHash(out, e.fields);
    return out;
  }

  async flush(): Promise<void> {}
}
