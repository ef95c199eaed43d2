// The audit log: every admin change with its actor (API key id), time and before/after
// (secrets already redacted by the caller). Redis: one stream per org, capped; newest first.

import type { Redis } from 'ioredis';
import type { Page } from '../domain/types.js';

export interface AuditEntry {
  id: string;
  at: string;
  /** the API key id that made the change ("operator" for the operator token) */
  actor: string;
  action: string;
  target: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  detail?: unknown;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'at'>;

export interface AuditLog {
  append(orgId: string, entry: AuditInput): Promise<void>;
  list(orgId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>>;
}

const MAX_ENTRIES = 100_000;

export class MemoryAuditLog implements AuditLog {
  private readonly byOrg = new Map<string, AuditEntry[]>();
  private seq = 0;

  async append(orgId: string, entry: AuditInput): Promise<void> {
    let list = this.byOrg.get(orgId);
    if (!list) this.byOrg.set(orgId, (list = []));
    list.push({ id: String(++this.seq).padStart(12, '0'), at: new Date().toISOString(), ...entry });
    if (list.length > MAX_ENTRIES) list.shift();
  }

  async list(orgId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    const list = this.byOrg.get(orgId) ?? [];
    const newest = [...list].reverse();
    const start = q.cursor ? newest.findIndex((e) => e.id < q.cursor!) : 0;
    if (start < 0) return { items: [], nextCursor: null };
    const items = newest.slice(start, start + q.limit);
    const more = start + q.limit < newest.length;
    return { items: structuredClone(items), nextCursor: more ? items[items.length - 1].id : null };
  }
}

export class RedisAuditLog implements AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(orgId: string) {
    return `${this.prefix}{org:${orgId}}:audit`;
  }

  async append(orgId: string, entry: AuditInput): Promise<void> {
    await this.redis.xadd(this.key(orgId), 'MAXLEN', '~', String(MAX_ENTRIES), '*', 'e', JSON.stringify({ at: new Date().toISOString(), ...entry }));
  }

  async list(orgId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    // stream ids are "<ms>-<seq>"; the cursor is the last id returned (exclusive)
    const end = q.cursor && /^\d+-\d+$/.test(q.cursor) ? `(${q.cursor}` : '+';
    const rows = (await this.redis.xrevrange(this.key(orgId), end, '-', 'COUNT', q.limit + 1)) as [string, string[]][];
    const items = rows.slice(0, q.limit).map(([id, fields]) => ({ id, ...(JSON.parse(fields[1]) as Omit<AuditEntry, 'id'>) }));
    return { items, nextCursor: rows.length > q.limit ? items[items.length - 1].id : null };
  }
}
