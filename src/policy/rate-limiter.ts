// Call limits shared by every gateway instance: token buckets (per user, per org, per destination)
// and the per-user live-call cap, checked and consumed in ONE Lua script per click so two
// instances can never both take the last token. A refused check consumes nothing.

import type { Redis } from 'ioredis';
import { LuaScript } from '../store/redis/lua-script.js';

export interface Bucket {
  /** which limit, reported to the caller */
  name: string;
  key: string;
  capacity: number;
  /** tokens per millisecond */
  refillPerMs: number;
}

export interface LiveCap {
  key: string;
  max: number;
  member: string;
  /** a live entry older than this is dropped (a crashed call can't block an agent forever) */
  ttlMs: number;
}

export type LimitResult = { ok: true } | { ok: false; limit: string; retryAfterMs: number };

export interface RateLimiter {
  take(buckets: Bucket[], cap?: LiveCap): Promise<LimitResult>;
  /** frees a live-call slot when the call ends */
  release(capKey: string, member: string): Promise<void>;
  /** waits for a token of a single bucket (provider calls-per-second), up to maxWaitMs */
  acquire(bucket: Bucket, maxWaitMs: number): Promise<boolean>;
}

/** Waits for one token, sleeping as long as the bucket says, until maxWaitMs. */
async function acquireBucket(limiter: RateLimiter, bucket: Bucket, maxWaitMs: number): Promise<boolean> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const r = await limiter.take([bucket]);
    if (r.ok) return true;
    const wait = Math.min(r.retryAfterMs, deadline - Date.now());
    if (wait <= 0) return false;
    await new Promise((res) => setTimeout(res, wait));
  }
}

// KEYS: bucket keys..., [cap key]; ARGV: now, nBuckets, (capacity, refillPerMs)*, [capMax, member, ttlMs]
const TAKE_LUA = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local state = {}
for i = 1, n do
  local cap = tonumber(ARGV[1 + i * 2])
  local rate = tonumber(ARGV[2 + i * 2])
  local h = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tokens = tonumber(h[1]) or cap
  local ts = tonumber(h[2]) or now
  tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
  if tokens < 1 then
    return {0, i, math.ceil((1 - tokens) / rate)}
  end
  state[i] = {tokens, cap, rate}
end
local capKey = KEYS[n + 1]
if capKey then
  local base = 3 + n * 2
  local max = tonumber(ARGV[base])
  local member = ARGV[base + 1]
  local ttl = tonumber(ARGV[base + 2])
  redis.call('ZREMRANGEBYSCORE', capKey, '-inf', now)
  if redis.call('ZCARD', capKey) >= max and not redis.call('ZSCORE', capKey, member) then
    return {0, n + 1, 1000}
  end
  redis.call('ZADD', capKey, now + ttl, member)
  redis.call('PEXPIRE', capKey, ttl)
end
for i = 1, n do
  local s = state[i]
  redis.call('HSET', KEYS[i], 't', s[1] - 1, 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(s[2] / s[3]) + 1000)
end
return {1}
`;

// one script per key count (buckets, with or without the live cap): a LuaScript declares its keys
const takeScripts = new Map<number, LuaScript>();
function takeScript(nKeys: number): LuaScript {
  let s = takeScripts.get(nKeys);
  if (!s) takeScripts.set(nKeys, (s = new LuaScript('take_tokens', TAKE_LUA, nKeys)));
  return s;
}

export class RedisRateLimiter implements RateLimiter {
  constructor(private readonly redis: Redis) {}

  async take(buckets: Bucket[], cap?: LiveCap): Promise<LimitResult> {
    const keys = buckets.map((b) => b.key);
    const args: (string | number)[] = [Date.now(), buckets.length];
    for (const b of buckets) args.push(b.capacity, b.refillPerMs);
    if (cap) {
      keys.push(cap.key);
      args.push(cap.max, cap.member, cap.ttlMs);
    }
    const r = (await takeScript(keys.length).run(this.redis, keys, args)) as number[];
    if (r[0] === 1) return { ok: true };
    const idx = r[1] - 1;
    return { ok: false, limit: idx < buckets.length ? buckets[idx].name : 'concurrentCallsPerUser', retryAfterMs: r[2] };
  }

  async release(capKey: string, member: string): Promise<void> {
    await this.redis.zrem(capKey, member);
  }

  acquire(bucket: Bucket, maxWaitMs: number): Promise<boolean> {
    return acquireBucket(this, bucket, maxWaitMs);
  }
}

/** Local mode: the same rules in process. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { t: number; ts: number }>();
  private readonly caps = new Map<string, Map<string, number>>();

  async take(buckets: Bucket[], cap?: LiveCap): Promise<LimitResult> {
    const now = Date.now();
    const next: { t: number; ts: number }[] = [];
    for (const b of buckets) {
      const s = this.buckets.get(b.key) ?? { t: b.capacity, ts: now };
      const t = Math.min(b.capacity, s.t + Math.max(0, now - s.ts) * b.refillPerMs);
      if (t < 1) return { ok: false, limit: b.name, retryAfterMs: Math.ceil((1 - t) / b.refillPerMs) };
      next.push({ t, ts: now });
    }
    if (cap) {
      let live = this.caps.get(cap.key);
      if (!live) this.caps.set(cap.key, (live = new Map()));
      for (const [m, exp] of live) if (exp <= now) live.delete(m);
      if (live.size >= cap.max && !live.has(cap.member)) return { ok: false, limit: 'concurrentCallsPerUser', retryAfterMs: 1000 };
      live.set(cap.member, now + cap.ttlMs);
    }
    buckets.forEach((b, i) => this.buckets.set(b.key, { t: next[i].t - 1, ts: now }));
    return { ok: true };
  }

  async release(capKey: string, member: string): Promise<void> {
    this.caps.get(capKey)?.delete(member);
  }

  acquire(bucket: Bucket, maxWaitMs: number): Promise<boolean> {
    return acquireBucket(this, bucket, maxWaitMs);
  }
}
