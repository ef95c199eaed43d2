// What may change on a call after it was created, beside its status, and which change reaches
// the CRM as which update. Fields are grouped: one PATCH of notes and disposition is one change
// of the "notes" group, sent to the CRM as one update (Idempotency-Key `<callId>:notes:<n>`).
// Fields without a group (the screen pop's match and candidates, missed) ride on the first log
// only. Each group's counter lives on the call (Call.changes), moved only when a value really
// changes, so sending the same values again sends nothing.

import type { Call } from './types.js';

export const UPDATE_GROUPS = {
  notes: 'notes',
  disposition: 'notes',
  subject: 'notes',
  crmRecord: 'record',
  recording: 'recording',
  voicemail: 'voicemail',
  match: '',
  candidates: '',
  missed: '',
} as const;

export type UpdatableField = keyof typeof UPDATE_GROUPS;
export type UpdateGroup = 'notes' | 'record' | 'recording' | 'voicemail';

/** The wrap-up fields' limits (characters), as PATCH /v1/calls/{id} checks them. */
export const WRAPUP_LIMITS = { disposition: 100, subject: 200, notes: 10_000 } as const;

/** The fields of one group, as they stand on the call (what an update sends). */
export function groupFields(call: Call, group: UpdateGroup): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [f, g] of Object.entries(UPDATE_GROUPS)) {
    if (g !== group) continue;
    const v = (call as unknown as Record<string, unknown>)[f];
    out[f] = v === undefined ? null : v;
  }
  return out;
}

/** The CRM-facing key of one change: `<callId>:<group>:<n>` (the first log's key is the call id). */
export function updateKey(callId: string, group: string, n: number): string {
  return `${callId}:${group}:${n}`;
}

/** One change's key read back (the update outbox lists changes by it); null when malformed. */
export function parseUpdateKey(key: string): { callId: string; group: string; n: number } | null {
  const j = key.lastIndexOf(':');
  const i = key.lastIndexOf(':', j - 1);
  const n = Number(key.slice(j + 1));
  if (i <= 0 || !Number.isInteger(n) || n < 1) return null;
  return { callId: key.slice(0, i), group: key.slice(i + 1, j), n };
}
