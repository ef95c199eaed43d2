// The audit log: every admin change with its actor (the key or token id), time and before/after
// (secrets already redacted by the caller); newest first, capped per org.

import type { Page } from '../../domain/types.js';

export interface AuditEntry {
  id: string;
  at: string;
  /** the credential id that made the change ("operator" for the operator token) */
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
  /** a cursor the log did not give out is refused (DomainError invalid_cursor) */
  list(orgId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEntry>>;
}

export const MAX_AUDIT_ENTRIES = 100_000;
