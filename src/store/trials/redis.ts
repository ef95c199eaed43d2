// Trials on Redis: a hash per trial (meta, completion, per-part errors) and sets of call ids
// per provider, under the org's hash tag, expiring with the trial's figures.

import type { KeyLayout } from '../keys.js';
import { TRIAL_TTL_SEC } from '../perf/port.js';
import type { RedisConn } from '../redis/connection.js';
import type { TrialMeta, TrialOutcome, TrialState, TrialStore } from './port.js';

export class RedisTrialStore implements TrialStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  private get redis() {
    return this.conn.client;
  }

  async create(meta: TrialMeta): Promise<void> {
    const k = this.keys.org(meta.orgId).trial(meta.id);
    await this.redis.multi().hset(k, 'meta', JSON.stringify(meta)).expire(k, TRIAL_TTL_SEC).exec();
  }

  async get(orgId: string, trialId: string): Promise<TrialState | null> {
    const ok = this.keys.org(orgId);
    const k = ok.trial(trialId);
    const h = await this.redis.hgetall(k);
    if (!h.meta) return null;
    const meta = JSON.parse(h.meta) as TrialMeta;
    const p = this.redis.pipeline();
    for (const pid of meta.providerIds) {
      p.scard(ok.trialPlaced(trialId, pid)).scard(ok.trialDone(trialId, pid)).sismember(ok.trialParts(trialId), pid).hvals(ok.trialOutcomes(trialId, pid));
    }
    const res = ((await p.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    const parts = meta.providerIds.map((providerId, i) => {
      const [placed, done, part] = res.slice(i * 4, i * 4 + 3).map(Number);
      const outcomes = (res[i * 4 + 3] as string[]).map(decodeOutcome);
      return {
        providerId,
        placed,
        finished: Math.min(done, placed),
        done: part === 1,
        ...(h[`err:${providerId}`] ? { error: h[`err:${providerId}`] } : {}),
        ...(outcomes.length > 0 ? { outcomes } : {}),
      };
    });
    return { meta, completedAt: h.completedAt ?? null, parts };
  }

  async addPlaced(orgId: string, trialId: string, providerId: string, callId: string): Promise<void> {
    const k = this.keys.org(orgId).trialPlaced(trialId, providerId);
    await this.redis.multi().sadd(k, callId).expire(k, TRIAL_TTL_SEC).exec();
  }

  async markDone(orgId: string, trialId: string, providerId: string, callId: string, outcome?: TrialOutcome): Promise<void> {
    const ok = this.keys.org(orgId);
    const k = ok.trialDone(trialId, providerId);
    const m = this.redis.multi().sadd(k, callId).expire(k, TRIAL_TTL_SEC);
    if (outcome) {
      const o = ok.trialOutcomes(trialId, providerId);
      m.hset(o, callId, encodeOutcome(outcome)).expire(o, TRIAL_TTL_SEC);
    }
    await m.exec();
  }

  placedCount(orgId: string, trialId: string, providerId: string): Promise<number> {
    return this.redis.scard(this.keys.org(orgId).trialPlaced(trialId, providerId));
  }

  openCalls(orgId: string, trialId: string, providerId: string): Promise<string[]> {
    const k = this.keys.org(orgId);
    return this.redis.sdiff(k.trialPlaced(trialId, providerId), k.trialDone(trialId, providerId));
  }

  async finishPart(orgId: string, trialId: string, providerId: string, error?: string): Promise<boolean> {
    const ok = this.keys.org(orgId);
    const k = ok.trial(trialId);
    const parts = ok.trialParts(trialId);
    const m = this.redis.multi().sadd(parts, providerId).expire(parts, TRIAL_TTL_SEC);
    if (error) m.hset(k, `err:${providerId}`, error);
    m.scard(parts).hget(k, 'meta');
    const res = (await m.exec()) ?? [];
    const ended = Number(res[res.length - 2]?.[1] ?? 0);
    const meta = JSON.parse(String(res[res.length - 1]?.[1] ?? 'null')) as TrialMeta | null;
    if (!meta || ended < meta.providerIds.length) return false;
    // HSETNX: when two parts end at once, the first completion time stands and one caller reports it
    return (await this.redis.hsetnx(k, 'completedAt', new Date().toISOString())) === 1;
  }
}


/** "<talk s>" or "<talk s>|<price>|<currency>" */
function encodeOutcome(o: TrialOutcome): string {
  return o.price ? `${o.talkSec}|${o.price.amount}|${o.price.currency}` : String(o.talkSec);
}

function decodeOutcome(v: string): TrialOutcome {
  const [talk, amount, currency] = v.split('|');
  return { talkSec: Number(talk), ...(currency ? { price: { amount: Number(amount), currency } } : {}) };
}
