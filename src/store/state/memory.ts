// Shared state in local mode (one process: "shared" with itself).

import { randomBytes } from 'node:crypto';
import { done } from '../memory/state.js';
import type { SharedState } from './port.js';

export class MemoryShared implements SharedState {
  private readonly values = new Map<string, { value: string; expiresAt: number | null }>();

  private live(key: string): string | null {
    const e = this.values.get(key);
    if (!e) return null;
    if (e.expiresAt !== null && e.expiresAt <= Date.now()) {
      this.values.delete(key);
      return null;
    }
    return e.value;
  }

  get(key: string): Promise<string | null> {
    return done(this.live(key));
  }

  set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.set(key, { value, expiresAt: ttlMs ? Date.now() + ttlMs : null });
    return done(undefined);
  }

  del(key: string): Promise<void> {
    this.values.delete(key);
    return done(undefined);
  }

  acquireLock(key: string, ttlMs: number): Promise<string | null> {
    if (this.live(key) !== null) return done(null);
    const token = randomBytes(16).toString('hex');
    this.values.set(key, { value: token, expiresAt: Date.now() + ttlMs });
    return done(token);
  }

  renewLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    if (this.live(key) !== token) return done(false);
    this.values.set(key, { value: token, expiresAt: Date.now() + ttlMs });
    return done(true);
  }

  releaseLock(key: string, token: string): Promise<void> {
    if (this.live(key) === token) this.values.delete(key);
    return done(undefined);
  }
}
