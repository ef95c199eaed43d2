// Where the live per-provider figures live: per-minute hashes (the 5 min and 1 h windows) and
// hourly rollups written alongside them (the 24 h window), one hash per org and period with
// `${providerId}|${field}` fields, plus one all-time hash per trial. Redis makes every instance
// see the same numbers; the memory twin serves local mode. Both keep the same contract
// (test/perf/perf-store.test.ts runs it on each).
//
// record() is for the call path: it never awaits and never throws; a failed write is logged.

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { addInto, fieldsOf, type Counters, type PerfSample } from './codec.js';

export const PERF_WINDOWS = ['5m', '1h', '24h'] as const;
export type PerfWindow = (typeof PERF_WINDOWS)[number];

/** how long a trial's figures (and its progress) are kept */
export const TRIAL_TTL_SEC = 7 * 86_400;
const MINUTE_TTL_SEC = 2 * 3600;
const HOUR_TTL_SEC = 25 * 3600;
const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface PerfStore {
  /** Adds one sample to a provider's live windows and, with trialId, to that trial's totals. */
  record(orgId: string, providerId: string, sample: PerfSample, trialId?: string, at?: number): void;
  /** Merged counters per provider over a window ending now. */
  window(orgId: string, window: PerfWindow, now?: number): Promise<Map<string, Counters>>;
  /** A trial's counters per provider. */
  trial(orgId: string, trialId: string): Promise<Map<string, Counters>>;
  /** Resolves once the writes issued so far have landed (or failed). */
  flush(): Promise<void>;
}

export interface PerfKeys {
  minute(orgId: string, minute: number): string;
  hour(orgId: string, hour: number): string;
  trial(orgId: string, trialId: string): string;
}

export function perfKeys(prefix: string): PerfKeys {
  const base = (orgId: string) => `${prefix}{org:${orgId}}:perf`;
  return {
    minute: (orgId, m) => `${base(orgId)}:m:${m}`,
    hour: (orgId, h) => `${base(orgId)}:h:${h}`,
    trial: (orgId, t) => `${prefix}{org:${orgId}}:trial:${t}:perf`,
  };
}

/**
 * The periods a window reads: the current one and those before it, so "5m" covers the last four
 * to five minutes and "24h" the last 23 to 24 hours (whole buckets, never a partial one dropped).
 */
export function periodsOf(window: PerfWindow, now: number): { unit: 'm' | 'h'; ids: number[] } {
  const [unit, n, size] = window === '5m' ? (['m', 5, MINUTE] as const) : window === '1h' ? (['m', 60, MINUTE] as const) : (['h', 24, HOUR] as const);
  const cur = Math.floor(now / size);
  return { unit, ids: Array.from({ length: n }, (_, i) => cur - i) };
}

/** Splits `${providerId}|${field}` hash fields into per-provider counters. */
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

/** how long counts wait in memory before one write to Redis */
const FLUSH_MS = 1000;

export class RedisPerfStore implements PerfStore {
  private readonly keys: PerfKeys;
  private readonly pending = new Set<Promise<unknown>>();
  private lastErrorLog = 0;
  private batch = new Map<string, { ttl: number; fields: Map<string, number> }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly logger?: Logger,
  ) {
    this.keys = perfKeys(prefix);
  }

  record(orgId: string, providerId: string, sample: PerfSample, trialId?: string, at = Date.now()): void {
    const fields = fieldsOf(sample);
    if (fields.length === 0) return;
    const targets: Array<[string, number]> = [
      [this.keys.minute(orgId, Math.floor(at / MINUTE)), MINUTE_TTL_SEC],
      [this.keys.hour(orgId, Math.floor(at / HOUR)), HOUR_TTL_SEC],
    ];
    if (trialId) targets.push([this.keys.trial(orgId, trialId), TRIAL_TTL_SEC]);
    // Counted in memory and written once per FLUSH_MS: a click then costs no Redis command at
    // all (it cost 8), and every instance still sees the shared figures within FLUSH_MS.
    for (const [key, ttl] of targets) {
      let entry = this.batch.get(key);
      if (!entry) this.batch.set(key, (entry = { ttl, fields: new Map() }));
      for (const [f, n] of fields) {
        const field = `${providerId}|${f}`;
        entry.fields.set(field, (entry.fields.get(field) ?? 0) + n);
      }
    }
    if (!this.timer) {
      this.timer = setTimeout(() => void this.writeBatch(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes the counted batch in one MULTI (all of an org's keys share its hash tag). */
  private writeBatch(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.size === 0) return Promise.resolve();
    const batch = this.batch;
    this.batch = new Map();
    const m = this.redis.multi();
    for (const [key, { ttl, fields }] of batch) {
      for (const [f, n] of fields) m.hincrby(key, f, n);
      m.expire(key, ttl);
    }
    const p = m.exec().then(
      () => undefined,
      (e: Error) => {
        // a Redis blip must not flood the log: one line per 10 s at most
        if (Date.now() - this.lastErrorLog > 10_000) {
          this.lastErrorLog = Date.now();
          this.logger?.warn({ err: e.message }, 'perf figures write failed');
        }
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  async window(orgId: string, window: PerfWindow, now = Date.now()): Promise<Map<string, Counters>> {
    // this instance's own latest counts first, so a reader here never misses them
    await this.flush();
    const { unit, ids } = periodsOf(window, now);
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(unit === 'm' ? this.keys.minute(orgId, id) : this.keys.hour(orgId, id));
    const res = (await p.exec()) ?? [];
    const out = new Map<string, Counters>();
    for (const [err, hash] of res) {
      if (err) throw err;
      mergeHash(out, hash as Record<string, string>);
    }
    return out;
  }

  async trial(orgId: string, trialId: string): Promise<Map<string, Counters>> {
    await this.flush();
    const out = new Map<string, Counters>();
    mergeHash(out, await this.redis.hgetall(this.keys.trial(orgId, trialId)));
    return out;
  }

  async flush(): Promise<void> {
    await this.writeBatch();
    await Promise.allSettled([...this.pending]);
  }
}

interface MemEntry {
  fields: Map<string, number>;
  expiresAt: number;
}

export class MemoryPerfStore implements PerfStore {
  private readonly keys = perfKeys('');
  private readonly data = new Map<string, MemEntry>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  record(orgId: string, providerId: string, sample: PerfSample, trialId?: string, at = this.now()): void {
    const fields = fieldsOf(sample);
    if (fields.length === 0) return;
    const targets: Array<[string, number]> = [
      [this.keys.minute(orgId, Math.floor(at / MINUTE)), MINUTE_TTL_SEC],
      [this.keys.hour(orgId, Math.floor(at / HOUR)), HOUR_TTL_SEC],
    ];
    if (trialId) targets.push([this.keys.trial(orgId, trialId), TRIAL_TTL_SEC]);
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
      const e = this.live(unit === 'm' ? this.keys.minute(orgId, id) : this.keys.hour(orgId, id), this.now());
      if (e) mergeHash(out, e.fields);
    }
    return out;
  }

  async trial(orgId: string, trialId: string): Promise<Map<string, Counters>> {
    await this.flush();
    const out = new Map<string, Counters>();
    const e = this.live(this.keys.trial(orgId, trialId), this.now());
    if (e) mergeHash(out, e.fields);
    return out;
  }

  async flush(): Promise<void> {}
}
