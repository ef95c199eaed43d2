// The audit log on Redis: one stream per org, capped; newest first.

import { DomainError } from '../../domain/errors.js';
import type { Page } from '../../domain/types.js';
import type { KeyLayout } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { clampLimit } from '../rules.js';
import { MAX_AUDIT_ENTRIES, type AuditEntry, type AuditInput, type AuditLog } from './port.js';

export class RedisAudit implements AuditLog {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
  ) {}

  async append(orgId: string, entry: AuditInput): Promise<void> {
    await this.conn.client.xadd(this.keys.org(orgId).audit, 'MAXLEN', '~', String(MAX_AUDIT_ENTRIES), '*', 'e', JSON.stringify({ at: new Date().toISOString(), ...entry }));
  }

  async list(orgId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    // stream ids are "<ms>-<seq>"; the cursor is the last id returned (exclusive)
    if (q.cursor !== undefined && !/^\d+-\d+$/.test(q.cursor)) throw new DomainError('invalid_cursor', 'cursor is not one this listing gave out');
    const end = q.cursor ? `(${q.cursor}` : '+';
    const limit = clampLimit(q.limit);
    const rows = (await this.conn.client.xrevrange(this.keys.org(orgId).audit, end, '-', 'COUNT', limit + 1)) as [string, string[]][];
    const items = rows.slice(0, limit).map(([id, fields]) => ({ id, ...(JSON.parse(fields[1]) as Omit<AuditEntry, 'id'>) }));
    return { items, nextCursor: rows.length > limit ? items[items.length - 1].id : null };
  }
}
