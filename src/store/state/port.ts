// Small shared-state primitives for adapters and housekeeping (OAuth tokens shared by every
// instance, one refresher or one housekeeper at a time) without handing anyone a Redis client.

export interface SharedState {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  del(key: string): Promise<void>;
  /** SET NX PX: returns a token when acquired, null when someone else holds it. */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  /** Extends a lock still held with this token; false when it was lost. */
  renewLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  releaseLock(key: string, token: string): Promise<void>;
}
