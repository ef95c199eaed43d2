// The audit log in local mode: a capped list per org, newest first.

import { DomainError } from '../../domain/errors.js';
import type { Page } from '../../domain/types.js';
import { clone, done, type MemoryData } from '../memory/state.js';
import { clampLimit } from '../rules.js';
import { MAX_AUDIT_ENTRIES, type AuditEntry, type AuditInput, type AuditLog } from './port.js';

export class MemoryAudit implements AuditLog {
  private lastMs = 0;
  private seq = 0;

  /** "<ms>-<seq>", always increasing, like a stream id XADD makes */
  private nextId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else {
      this.seq++;
    }
    return `${this.lastMs}-${this.seq}`;
  }

  constructor(private readonly data: MemoryData) {}

  append(orgId: string, entry: AuditInput): Promise<void> {
    const list = this.data.org(orgId).audit;
    // through JSON, as on Redis: fields set to undefined are absent, not present and undefined
    list.push({ id: this.nextId(), at: new Date().toISOString(), ...(JSON.parse(JSON.stringify(entry)) as AuditInput) });
    if (list.length > MAX_AUDIT_ENTRIES) list.shift();
    return done(undefined);
  }

  list(orgId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    if (q.cursor !== undefined && !/^\d+-\d+$/.test(q.cursor)) {
      return Promise.reject(new DomainError('invalid_cursor', 'cursor is not one this listing gave out'));
    }
    const newest = [...(this.data.orgs.get(orgId)?.audit ?? [])].reverse();
    // like XREVRANGE from "(cursor": the entries older than the cursor's id
    const start = q.cursor ? newest.findIndex((e) => olderThan(e.id, q.cursor!)) : 0;
    if (start < 0) return done({ items: [], nextCursor: null });
    const limit = clampLimit(q.limit);
    const items = newest.slice(start, start + limit);
    const more = start + limit < newest.length;
    return done({ items: clone(items), nextCursor: more ? items[items.length - 1].id : null });
  }
}

/** Whether stream-style id a ("<ms>-<seq>") comes before b. */
function olderThan(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am < bm || (am === bm && as < bs);
}
