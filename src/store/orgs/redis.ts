// Orgs and credentials on Redis. A credential's record has a global key (found by id alone on
// every request) and a copy in its org's apikeys hash (the listing); revocation removes the
// global key first, so a revoked credential is refused everywhere at once.

import type { ApiKeyRecord, Org } from '../../domain/types.js';
import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { expired, type OrgStore } from './port.js';

const PRUNE_BATCH = 500;

export class RedisOrgs implements OrgStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  private get redis() {
    return this.conn.client;
  }

  async createOrg(org: Org, key: ApiKeyRecord): Promise<void> {
    const k = this.keys.org(org.id);
    await this.redis.set(k.org, JSON.stringify(org));
    await this.putApiKey(key);
    await this.redis.sadd(this.keys.orgs, org.id);
  }

  async getOrg(orgId: string): Promise<Org | null> {
    const v = await this.redis.get(this.keys.org(orgId).org);
    return v ? (JSON.parse(v) as Org) : null;
  }

  async listOrgIds(cursor: string, count: number): Promise<{ ids: string[]; next: string | null }> {
    const [next, ids] = await this.redis.sscan(this.keys.orgs, cursor === '' ? '0' : cursor, 'COUNT', count);
    return { ids, next: next === '0' ? null : next };
  }

  async getApiKey(keyId: string): Promise<ApiKeyRecord | null> {
    const v = await this.redis.get(this.keys.apiKey(keyId));
    return v ? (JSON.parse(v) as ApiKeyRecord) : null;
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    const json = JSON.stringify(key);
    const k = this.keys.org(key.orgId);
    await this.redis.hset(k.apikeys, key.keyId, json);
    if (key.expiresAt === undefined) {
      await this.redis.set(this.keys.apiKey(key.keyId), json);
      return;
    }
    // an agent token: its global key expires with it; one already expired (or unparseable) is not findable at all
    const expiresMs = Date.parse(key.expiresAt);
    const ttlMs = expiresMs - Date.now();
    if (ttlMs > 0) await this.redis.set(this.keys.apiKey(key.keyId), json, 'PX', Math.ceil(ttlMs));
    else await this.redis.del(this.keys.apiKey(key.keyId));
    await this.redis.zadd(k.apikeyExp, Number.isFinite(expiresMs) ? expiresMs : 0, key.keyId);
    await this.pruneExpired(key.orgId);
  }

  /** Agents sign in all day: expired tokens leave the org's listing (a bounded batch per put), or it grows for ever. */
  private async pruneExpired(orgId: string): Promise<void> {
    const k = this.keys.org(orgId);
    const gone = await this.redis.zrangebyscore(k.apikeyExp, '-inf', Date.now(), 'LIMIT', 0, PRUNE_BATCH);
    if (gone.length === 0) return;
    await this.redis.multi().hdel(k.apikeys, ...gone).zrem(k.apikeyExp, ...gone).exec();
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    const h = await this.redis.hgetall(this.keys.org(orgId).apikeys);
    const now = Date.now();
    return Object.values(h)
      .map((v) => JSON.parse(v) as ApiKeyRecord)
      .filter((r) => !expired(r, now))
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.keyId < b.keyId ? -1 : 1));
  }

  async deleteApiKey(orgId: string, keyId: string, opts: { keepLastAdmin?: boolean } = {}): Promise<'deleted' | 'missing' | 'last_admin'> {
    const k = this.keys.org(orgId);
    const r = (await this.conn.run('delete_api_key', [k.apikeys, k.apikeyExp], [keyId, opts.keepLastAdmin ? '1' : ''])) as 'deleted' | 'missing' | 'last_admin';
    // the global lookup entry is in another slot: gone after the org's own record
    if (r === 'deleted') await this.redis.del(this.keys.apiKey(keyId));
    return r;
  }

}
