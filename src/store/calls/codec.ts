// How a call is stored in its Redis hash, so the Lua scripts can change one field and build the
// call's public JSON without decoding anything (lib.lua: call_json):
//   _base        JSON of the fields fixed at creation (id, direction, to, createdAt, trial...)
//   <name>       every other public field: a string as is; a name ending in `_n` is a number and
//                in `_j` raw JSON (history_j, crmLog_j, ...)
//   _<name>      internal: _sk (sort key), _pcl (its provider link fields, "\n"-joined), _idem (its Idempotency-Key),
//                _ams (answered at, ms), _hms (the last history entry's time, ms: notBefore),
//                _trial ('1' for trial calls), _live; and the internal fields of Call, never
//                public (INTERNAL): _u (changes, JSON), _rr / _rv (recordingRef / voicemailRef)

import type { Call } from '../../domain/types.js';

const BASE_FIELDS = new Set<string>(['id', 'direction', 'to', 'createdAt', 'trial', 'trialId']);
/** Call fields stored under an internal name (left out of the public JSON the scripts build) */
const INTERNAL: Record<string, string> = { changes: '_u', recordingRef: '_rr', voicemailRef: '_rv' };
const INTERNAL_BY_FIELD: Record<string, string> = Object.fromEntries(Object.entries(INTERNAL).map(([k, v]) => [v, k]));

/** The hash's field/value pairs for a call (orgId is the key's, never stored); `omit` leaves fields out. */
export function encodeCall(call: Call, omit?: ReadonlySet<string>): string[] {
  const base: Record<string, unknown> = {};
  const fv: string[] = [];
  for (const [k, v] of Object.entries(call)) {
    if (v === undefined || k === 'orgId' || omit?.has(k)) continue;
    if (INTERNAL[k]) {
      fv.push(INTERNAL[k], typeof v === 'string' ? v : JSON.stringify(v));
      continue;
    }
    if (BASE_FIELDS.has(k)) {
      base[k] = v;
      continue;
    }
    if (typeof v === 'string') fv.push(k, v);
    else if (typeof v === 'number') fv.push(`${k}_n`, String(v));
    else fv.push(`${k}_j`, JSON.stringify(v));
  }
  fv.push('_base', JSON.stringify(base));
  if (call.trial) fv.push('_trial', '1');
  if (call.answeredAt !== undefined) {
    const ms = Date.parse(call.answeredAt);
    if (Number.isFinite(ms)) fv.push('_ams', String(ms));
  }
  const lastAt = call.history?.[call.history.length - 1]?.at;
  if (lastAt !== undefined) {
    const ms = Date.parse(lastAt);
    if (Number.isFinite(ms)) fv.push('_hms', String(ms));
  }
  return fv;
}

/** A call from its hash (a flat field/value reply), or null when the hash is empty. */
export function decodeCall(orgId: string, flat: readonly unknown[], from = 0): Call | null {
  let out: Record<string, unknown> | null = null;
  const fields: Record<string, unknown> = {};
  for (let i = from; i + 1 < flat.length; i += 2) {
    const f = String(flat[i]);
    const v = String(flat[i + 1]);
    if (f === '_base') out = JSON.parse(v) as Record<string, unknown>;
    else if (f === '_u') fields.changes = JSON.parse(v);
    else if (INTERNAL_BY_FIELD[f]) fields[INTERNAL_BY_FIELD[f]] = v;
    else if (f.charCodeAt(0) === 95 /* _ */) continue;
    else if (f.endsWith('_j')) fields[f.slice(0, -2)] = JSON.parse(v);
    else if (f.endsWith('_n')) fields[f.slice(0, -2)] = Number(v);
    else fields[f] = v;
  }
  if (!out) return null;
  return { ...out, ...fields, orgId } as unknown as Call;
}

/** The same from an HGETALL object reply. */
export function decodeCallHash(orgId: string, h: Record<string, string>): Call | null {
  if (h._base === undefined) return null;
  const flat: string[] = [];
  for (const [k, v] of Object.entries(h)) flat.push(k, v);
  return decodeCall(orgId, flat);
}

/** How a field is stored, by the type its values have (so a removal names the right hash field). */
const FIELD_SUFFIX: Record<string, '' | '_j' | '_n'> = {
  notes: '',
  disposition: '',
  subject: '',
  crmRecord: '_j',
  recording: '_j',
  voicemail: '_j',
  missed: '_j',
  match: '_j',
  candidates: '_j',
};

/**
 * One field of a call update as [hash field, encoded value | null (remove)]. Values are encoded exactly as encodeCall does, so
 * "unchanged" is a string comparison in the script.
 */
export function encodeFieldUpdate(name: string, value: unknown): [string, string | null] {
  const internal = INTERNAL[name];
  if (internal) return [internal, value === null || value === undefined ? null : typeof value === 'string' ? value : JSON.stringify(value)];
  const suffix = FIELD_SUFFIX[name] ?? (typeof value === 'string' ? '' : typeof value === 'number' ? '_n' : '_j');
  if (value === null || value === undefined) return [name + suffix, null];
  return [name + suffix, suffix === '' ? String(value) : JSON.stringify(value)];
}
