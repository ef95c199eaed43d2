// Settings on Redis: the org's settings hash; each write bumps the org's config version in the
// same MULTI (one slot), so a click decided on the old value is refused by its script.

import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import type { SettingsStore } from './port.js';

export class RedisSettings implements SettingsStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  async get<T>(orgId: string, name: string): Promise<T | null> {
    const v = await this.conn.client.hget(this.keys.org(orgId).settings, name);
    return v === null ? null : (JSON.parse(v) as T);
  }

  async put(orgId: string, name: string, value: unknown): Promise<void> {
    const k = this.keys.org(orgId);
    await this.conn.client.multi().hset(k.settings, name, JSON.stringify(value)).incr(k.ver).exec();
  }

  async del(orgId: string, name: string): Promise<void> {
    const k = this.keys.org(orgId);
    await this.conn.client.multi().hdel(k.settings, name).incr(k.ver).exec();
  }
}
