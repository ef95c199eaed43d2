// Provider health on Redis: the org's health hash, changed by one script (breaker.lua).

import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { DEFAULT_BREAKER, type BreakerPolicy, type BreakerView, type HealthStore } from './port.js';
import { viewOf, type HealthRecord } from './rules.js';

function record(r: unknown[]): HealthRecord {
  return { failures: Number(r[0]), openUntil: Number(r[1]), successes: Number(r[2]), trialUntil: Number(r[3]) };
}

/** "failures:openUntil:successes:trialUntil" as stored */
function parse(v: string): HealthRecord {
  const [failures, openUntil, successes, trialUntil] = v.split(':').map(Number);
  return { failures, openUntil, successes, trialUntil };
}

export class RedisHealth implements HealthStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  private async op(orgId: string, op: string, providerId: string, p: BreakerPolicy = DEFAULT_BREAKER): Promise<{ rec: HealthRecord; ok: boolean; trial: boolean }> {
    const r = (await this.conn.run('breaker', [this.keys.org(orgId).health], [op, providerId, Date.now(), p.threshold, p.openMs, p.closeAfter])) as unknown[];
    return { rec: record(r), ok: Number(r[4]) === 1, trial: Number(r[5]) === 1 };
  }

  async get(orgId: string, providerId: string): Promise<BreakerView> {
    const v = await this.conn.client.hget(this.keys.org(orgId).health, providerId);
    return viewOf(v ? parse(v) : undefined, Date.now());
  }

  async all(orgId: string): Promise<Map<string, BreakerView>> {
    const h = await this.conn.client.hgetall(this.keys.org(orgId).health);
    const now = Date.now();
    return new Map(Object.entries(h).map(([id, v]) => [id, viewOf(parse(v), now)]));
  }

  async failure(orgId: string, providerId: string, policy: BreakerPolicy): Promise<BreakerView> {
    return viewOf((await this.op(orgId, 'failure', providerId, policy)).rec, Date.now());
  }

  async success(orgId: string, providerId: string, policy: BreakerPolicy): Promise<BreakerView> {
    return viewOf((await this.op(orgId, 'success', providerId, policy)).rec, Date.now());
  }

  async claim(orgId: string, providerId: string): Promise<{ ok: boolean; trial: boolean; view: BreakerView }> {
    const r = await this.op(orgId, 'claim', providerId);
    return { ok: r.ok, trial: r.trial, view: viewOf(r.rec, Date.now()) };
  }

  async releaseTrial(orgId: string, providerId: string): Promise<void> {
    await this.op(orgId, 'release', providerId);
  }

  async reset(orgId: string, providerId: string): Promise<void> {
    await this.op(orgId, 'reset', providerId);
  }
}
