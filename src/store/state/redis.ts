// Shared state on Redis: single global keys (any slot), locks with a holder token.

import { randomBytes } from 'node:crypto';
import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import type { SharedState } from './port.js';

export class RedisShared implements SharedState {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  private get redis() {
    return this.conn.client;
  }

  get(key: string): Promise<string | null> {
    return this.redis.get(this.keys.shared(key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs && ttlMs > 0) await this.redis.set(this.keys.shared(key), value, 'PX', Math.ceil(ttlMs));
    else await this.redis.set(this.keys.shared(key), value);
  }

  async del(key: string): Promise<void> {
    await this.redis.del(this.keys.shared(key));
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    const token = randomBytes(16).toString('hex');
    const ok = await this.redis.set(this.keys.shared(key), token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return ok === 'OK' ? token : null;
  }

  async renewLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.conn.run('renew_lock', [this.keys.shared(key)], [token, Math.max(1, Math.ceil(ttlMs))])) === 1;
  }

  async releaseLock(key: string, token: string): Promise<void> {
    await this.conn.run('release_lock', [this.keys.shared(key)], [token]);
  }
}
