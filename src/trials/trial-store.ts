// A trial's definition and progress: which calls were placed through each provider and which of
// them have ended, and which providers' runs are over. Sets of call ids (not counters) so a
// repeated write — a resumed run, an event seen twice — never counts twice. Redis keys share the
// org's hash tag and expire with the trial's figures; the memory twin serves local mode.

import type { Redis } from 'ioredis';
import { TRIAL_TTL_SEC } from '../perf/perf-store.js';

export interface TrialSpec {
  providerIds: string[];
  /** E.164 */
  to: string;
  calls: number;
  concurrency: number;
  hangUpAfterMs: number;
}

export interface TrialMeta extends TrialSpec {
  id: string;
  orgId: string;
  createdAt: string;
  /** the API key id that started it */
  actor: string;
}

export interface TrialPart {
  providerId: string;
  placed: number;
  finished: number;
  /** this provider's run is over */
  done: boolean;
  /** why the run stopped early (e.g. the destination became refused), when it did */
  error?: string;
}

export interface TrialState {
  meta: TrialMeta;
  completedAt: string | null;
  parts: TrialPart[];
}

export interface TrialStore {
  create(meta: TrialMeta): Promise<void>;
  get(orgId: string, trialId: string): Promise<TrialState | null>;
  addPlaced(orgId: string, trialId: string, providerId: string, callId: string): Promise<void>;
  markDone(orgId: string, trialId: string, providerId: string, callId: string): Promise<void>;
  /** how many calls of this provider's run were placed so far */
  placedCount(orgId: string, trialId: string, providerId: string): Promise<number>;
  /** calls placed and not yet ended (a resumed run waits for them) */
  openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]>;
  /** Marks one provider's run over; true when that made the whole trial complete. */
  finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean>;
}

export class RedisTrialStore implements TrialStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private base(orgId: string, trialId: string) {
    return `${this.prefix}{org:${orgId}}:trial:${trialId}`;
  }

  async create(meta: TrialMeta): Promise<void> {
    const k = this.base(meta.orgId, meta.id);
    await this.redis.multi().hset(k, 'meta', JSON.stringify(meta)).expire(k, TRIAL_TTL_SEC).exec();
  }

  async get(orgId: string, trialId: string): Promise<TrialState | null> {
    const k = this.base(orgId, trialId);
    const h = await this.redis.hgetall(k);
    if (!h.meta) return null;
    const meta = JSON.parse(h.meta) as TrialMeta;
    const p = this.redis.pipeline();
    for (const pid of meta.providerIds) p.scard(`${k}:placed:${pid}`).scard(`${k}:done:${pid}`).sismember(`${k}:parts`, pid);
    const res = ((await p.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return Number(v);
    });
    const parts = meta.providerIds.map((providerId, i) => ({
      providerId,
      placed: res[i * 3],
      finished: Math.min(res[i * 3 + 1], res[i * 3]),
      done: res[i * 3 + 2] === 1,
      ...(h[`err:${providerId}`] ? { error: h[`err:${providerId}`] } : {}),
    }));
    return { meta, completedAt: h.completedAt ?? null, parts };
  }

  async addPlaced(orgId: string, trialId: string, providerId: string, callId: string): Promise<void> {
    const k = `${this.base(orgId, trialId)}:placed:${providerId}`;
    await this.redis.multi().sadd(k, callId).expire(k, TRIAL_TTL_SEC).exec();
  }

  async markDone(orgId: string, trialId: string, providerId: string, callId: string): Promise<void> {
    const k = `${this.base(orgId, trialId)}:done:${providerId}`;
    await this.redis.multi().sadd(k, callId).expire(k, TRIAL_TTL_SEC).exec();
  }

  placedCount(orgId: string, trialId: string, providerId: string): Promise<number> {
    return this.redis.scard(`${this.base(orgId, trialId)}:placed:${providerId}`);
  }

  openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]> {
    const k = this.base(orgId, trialId);
    return this.redis.sdiff(`${k}:placed:${providerId}`, `${k}:done:${providerId}`);
  }

  async finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean> {
    const k = this.base(orgId, trialId);
    const m = this.redis.multi().sadd(`${k}:parts`, providerId).expire(`${k}:parts`, TRIAL_TTL_SEC);
    if (error) m.hset(k, `err:${providerId}`, error);
    m.scard(`${k}:parts`).hget(k, 'meta');
    const res = (await m.exec()) ?? [];
    const parts = Number(res[res.length - 2]?.[1] ?? 0);
    const meta = JSON.parse(String(res[res.length - 1]?.[1] ?? 'null')) as TrialMeta | null;
    if (!meta || parts < meta.providerIds.length) return false;
    // HSETNX: when two parts end at once, the first completion time stands and one caller reports it
    return (await this.redis.hsetnx(k, 'completedAt', new Date().toISOString())) === 1;
  }
}

interface MemTrial {
  meta: TrialMeta;
  completedAt: string | null;
  placed: Map<string, Set<string>>;
  done: Map<string, Set<string>>;
  parts: Set<string>;
  errors: Map<string, string>;
}

export class MemoryTrialStore implements TrialStore {
  private readonly trials = new Map<string, MemTrial>();

  private key(orgId: string, trialId: string) {
    return `${orgId}/${trialId}`;
  }

  private set(map: Map<string, Set<string>>, pid: string): Set<string> {
    let s = map.get(pid);
    if (!s) map.set(pid, (s = new Set()));
    return s;
  }

  async create(meta: TrialMeta): Promise<void> {
    this.trials.set(this.key(meta.orgId, meta.id), { meta: structuredClone(meta), completedAt: null, placed: new Map(), done: new Map(), parts: new Set(), errors: new Map() });
  }

  async get(orgId: string, trialId: string): Promise<TrialState | null> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return null;
    const parts = t.meta.providerIds.map((providerId) => {
      const placed = t.placed.get(providerId)?.size ?? 0;
      const err = t.errors.get(providerId);
      return { providerId, placed, finished: Math.min(placed, t.done.get(providerId)?.size ?? 0), done: t.parts.has(providerId), ...(err ? { error: err } : {}) };
    });
    return { meta: structuredClone(t.meta), completedAt: t.completedAt, parts };
  }

  async addPlaced(orgId: string, trialId: string, providerId: string, callId: string): Promise<void> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (t) this.set(t.placed, providerId).add(callId);
  }

  async markDone(orgId: string, trialId: string, providerId: string, callId: string): Promise<void> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (t) this.set(t.done, providerId).add(callId);
  }

  async placedCount(orgId: string, trialId: string, providerId: string): Promise<number> {
    return this.trials.get(this.key(orgId, trialId))?.placed.get(providerId)?.size ?? 0;
  }

  async openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return [];
    const done = t.done.get(providerId) ?? new Set<string>();
    return [...(t.placed.get(providerId) ?? [])].filter((id) => !done.has(id));
  }

  async finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean> {
    const t = this.trials.get(this.key(orgId, trialId));
    if (!t) return false;
    t.parts.add(providerId);
    if (error) t.errors.set(providerId, error);
    if (t.parts.size < t.meta.providerIds.length || t.completedAt) return false;
    t.completedAt = new Date().toISOString();
    return true;
  }
}
