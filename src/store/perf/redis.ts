// The live figures on Redis: per-minute hashes (the 5 min and 1 h windows) and hourly rollups
// (the 24 h window), one hash per org and period with `${providerId}|${field}` fields, plus one
// all-time hash per trial, all under the org's hash tag. Counts wait in memory up to FLUSH_MS and
// go out in one MULTI, so a click costs no Redis command for its figures.

import type { Logger } from 'pino';
import { fieldsOf, type Counters, type PerfSample } from '../../perf/codec.js';
import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { mergeHash } from './merge.js';
import { HOUR, HOUR_TTL_SEC, MINUTE, MINUTE_TTL_SEC, TRIAL_TTL_SEC, periodsOf, type PerfStore, type PerfWindow } from './port.js';

/** how long counts wait in memory before one write to Redis */
const FLUSH_MS = 1000;

export class RedisPerfStore implements PerfStore {
  private readonly pending = new Set<Promise<unknown>>();
  private lastErrorLog = 0;
  private batch = new Map<string, { ttl: number; fields: Map<string, number> }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
    private readonly logger?: Logger,
  ) {}

  record(orgId: string, providerId: string, sample: PerfSample, trialId?: string, at = Date.now()): void {
    const fields = fieldsOf(sample);
    if (fields.length === 0) return;
    const targets: Array<[string, number]> = [
      [this.keys.org(orgId).perfMinute(Math.floor(at / MINUTE)), MINUTE_TTL_SEC],
      [this.keys.org(orgId).perfHour(Math.floor(at / HOUR)), HOUR_TTL_SEC],
    ];
    if (trialId) targets.push([this.keys.org(orgId).trialPerf(trialId), TRIAL_TTL_SEC]);
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

  /** Writes the counted batch: one MULTI per org (an org's keys share its hash tag). */
  private writeBatch(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.size === 0) return Promise.resolve();
    const batch = this.batch;
    this.batch = new Map();
    // one MULTI per org: a MULTI must stay in one slot on a cluster
    const byOrg = new Map<string, Array<[string, { ttl: number; fields: Map<string, number> }]>>();
    for (const e of batch) {
      const tag = e[0].slice(0, e[0].indexOf('}') + 1);
      let list = byOrg.get(tag);
      if (!list) byOrg.set(tag, (list = []));
      list.push(e);
    }
    const writes: Promise<unknown>[] = [];
    for (const entries of byOrg.values()) {
    const m = this.conn.client.multi();
    for (const [key, { ttl, fields }] of entries) {
      for (const [f, n] of fields) m.hincrby(key, f, n);
      m.expire(key, ttl);
    }
    writes.push(m.exec());
    }
    const p = Promise.all(writes).then(
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
    const k = this.keys.org(orgId);
    const p = this.conn.client.pipeline();
    for (const id of ids) p.hgetall(unit === 'm' ? k.perfMinute(id) : k.perfHour(id));
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
    mergeHash(out, await this.conn.client.hgetall(this.keys.org(orgId).trialPerf(trialId)));
    return out;
  }

  async flush(): Promise<void> {
    await this.writeBatch();
    await Promise.allSettled([...this.pending]);
  }
}

