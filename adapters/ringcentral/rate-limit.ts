// RingCentral throttles per user and app in groups (Light, Medium, Heavy, Auth...). After a 429
// the whole group is in a penalty window, and any request sent inside it restarts the penalty, so
// every gateway instance must hold back: the window lives in SharedState. Group names may change,
// so the group of each operation is learned from X-Rate-Limit-Group and the spec's
// x-throttling-group values below are only the starting guess.

import type { SharedState } from '../../src/store/state/port.js';

/** Our operation names and their x-throttling-group in the official spec. */
export const DEFAULT_GROUPS: Record<string, string> = {
  token: 'Auth',
  createRingOut: 'Heavy',
  readRingOut: 'Light',
  deleteRingOut: 'Heavy',
  createSubscription: 'Medium',
  readSubscription: 'Light',
  renewSubscription: 'Light',
  deleteSubscription: 'Medium',
  deleteCallSession: 'Light',
};

/** Without Retry-After RingCentral's documented penalty is 60 s; a guess is never under 30 s. */
export const DEFAULT_PENALTY_SEC = 60;
export const MIN_PENALTY_SEC = 30;

export class RateLimits {
  private readonly learned = new Map<string, string>();

  constructor(
    private readonly shared: SharedState,
    /** prefix that scopes keys to one provider and credential set */
    private readonly prefix: string,
  ) {}

  private penaltyKey(group: string): string {
    return `${this.prefix}:penalty:${group}`;
  }

  async groupOf(operation: string): Promise<string> {
    const known = this.learned.get(operation);
    if (known) return known;
    const stored = await this.shared.get(`${this.prefix}:group:${operation}`);
    const group = stored ?? DEFAULT_GROUPS[operation] ?? 'Unknown';
    this.learned.set(operation, group);
    return group;
  }

  /** Records the group RingCentral named for an operation. */
  async learn(operation: string, group: string | undefined): Promise<void> {
    if (!group || this.learned.get(operation) === group) return;
    this.learned.set(operation, group);
    await this.shared.set(`${this.prefix}:group:${operation}`, group, 24 * 3600_000);
  }

  /** Seconds left in the group's penalty window (0 when none). */
  async penaltyLeft(group: string): Promise<number> {
    const v = await this.shared.get(this.penaltyKey(group));
    if (!v) return 0;
    const left = Number(v) - Date.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  async penalize(group: string, seconds: number): Promise<void> {
    const sec = Math.max(1, seconds);
    const until = Date.now() + sec * 1000;
    // keep the later deadline if another instance already recorded one
    const current = Number((await this.shared.get(this.penaltyKey(group))) ?? 0);
    if (current >= until) return;
    await this.shared.set(this.penaltyKey(group), String(until), sec * 1000);
  }
}

/**
 * The penalty to respect after a 429: Retry-After as given (delta-seconds or HTTP date); when it
 * is absent, the group's X-Rate-Limit-Window or 60 s, and never under 30 s.
 */
export function penaltySeconds(headers: Record<string, string | string[] | undefined>): number {
  const one = (h: string) => {
    const v = headers[h];
    return Array.isArray(v) ? v[0] : v;
  };
  const ra = one('retry-after');
  if (ra) {
    const n = Number(ra);
    if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
    const d = Date.parse(ra);
    if (!Number.isNaN(d)) return Math.max(1, Math.ceil((d - Date.now()) / 1000));
  }
  const win = Number(one('x-rate-limit-window'));
  if (Number.isFinite(win) && win > 0) return Math.max(MIN_PENALTY_SEC, Math.ceil(win));
  return DEFAULT_PENALTY_SEC;
}
