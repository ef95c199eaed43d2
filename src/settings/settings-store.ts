// Small per-org JSON settings (dial policy, routing policy, per-provider dial policy and limits).
// One key per setting under the org's hash tag; read on the call path, so cached briefly in
// process (a change reaches every instance within CACHE_MS).

import type { Redis } from 'ioredis';

const CACHE_MS = 2000;

export interface SettingsStore {
  get<T>(orgId: string, name: string): Promise<T | null>;
  put(orgId: string, name: string, value: unknown): Promise<void>;
  del(orgId: string, name: string): Promise<void>;
}

abstract class Cached implements SettingsStore {
  private readonly cache = new Map<string, { v: unknown; until: number }>();

  protected abstract read(orgId: string, name: string): Promise<string | null>;
  protected abstract write(orgId: string, name: string, json: string | null): Promise<void>;

  async get<T>(orgId: string, name: string): Promise<T | null> {
    const k = `${orgId}\u0000${name}`;
    const hit = this.cache.get(k);
    if (hit && hit.until > Date.now()) return hit.v as T | null;
    const raw = await this.read(orgId, name);
    const v = raw === null ? null : (JSON.parse(raw) as T);
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(k, { v, until: Date.now() + CACHE_MS });
    return v;
  }

  async put(orgId: string, name: string, value: unknown): Promise<void> {
    await this.write(orgId, name, JSON.stringify(value));
    this.cache.delete(`${orgId}\u0000${name}`);
  }

  async del(orgId: string, name: string): Promise<void> {
    await this.write(orgId, name, null);
    this.cache.delete(`${orgId}\u0000${name}`);
  }
}

export class MemorySettingsStore extends Cached {
  private readonly data = new Map<string, string>();
  protected async read(orgId: string, name: string) {
    return this.data.get(`${orgId}\u0000${name}`) ?? null;
  }
  protected async write(orgId: string, name: string, json: string | null) {
    if (json === null) this.data.delete(`${orgId}\u0000${name}`);
    else this.data.set(`${orgId}\u0000${name}`, json);
  }
}

export class RedisSettingsStore extends Cached {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    super();
  }
  private key(orgId: string, name: string) {
    return `${this.prefix}{org:${orgId}}:setting:${name}`;
  }
  protected async read(orgId: string, name: string) {
    return this.redis.get(this.key(orgId, name));
  }
  protected async write(orgId: string, name: string, json: string | null) {
    if (json === null) await this.redis.del(this.key(orgId, name));
    else await this.redis.set(this.key(orgId, name), json);
  }
}
