// Zoho wire formats: phone forms to search for, criteria escaping, Calls field values and the
// PhoneBridge timestamp.

import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Call } from '../../../src/domain/types.js';

/**
 * The forms a number may be stored in by people typing it into Zoho: E.164, international
 * formatted, national formatted and national digits. Deduplicated, E.164 first.
 */
export function phoneForms(e164: string): string[] {
  const forms = [e164];
  const p = parsePhoneNumberFromString(e164);
  if (p) {
    forms.push(p.formatInternational(), p.formatNational(), String(p.nationalNumber));
    // Many CRMs keep the national form with the trunk prefix as typed (e.g. "020 7946 0958")
    const nationalDigits = p.formatNational().replace(/\D/g, '');
    forms.push(nationalDigits);
  }
  return [...new Set(forms.filter((f) => f.length > 0))];
}

/** Zoho criteria values: backslash-escape `(`, `)` and `,` (and the backslash itself). */
export function escapeCriteriaValue(v: string): string {
  return v.replace(/[\\(),]/g, (c) => `\\${c}`);
}

/** `((F1:equals:v1)or(F2:equals:v1)or...)`, at most 10 conditions as Zoho allows. */
export function phoneCriteria(fields: string[], forms: string[]): string {
  const conds: string[] = [];
  for (const form of forms) for (const f of fields) conds.push(`(${f}:equals:${escapeCriteriaValue(form)})`);
  const limited = conds.slice(0, 10);
  return limited.length === 1 ? limited[0] : `(${limited.join('or')})`;
}

export type DurationFormat = 'mm:ss' | 'hh:mm';

/**
 * Call_Duration. Sources disagree (PROTOCOLS.md §3: Kaizen #38 says hh:mm, Bigin's Calls docs say
 * mm:ss). We default to "mm:ss" because Zoho derives the read-only Call_Duration_in_seconds from
 * it and PhoneBridge-logged calls show seconds; minutes are not wrapped at 60 ("75:03" for 75 min
 * 3 s), which every reading parses. "hh:mm" (rounded up to the minute) is a config switch.
 */
export function formatDuration(seconds: number, format: DurationFormat = 'mm:ss'): string {
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number) => String(n).padStart(2, '0');
  if (format === 'hh:mm') {
    const minutes = Math.ceil(s / 60);
    return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
  }
  return `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}

/** ISO 8601 with an explicit offset and no milliseconds (Zoho refuses "Z" and fractions). */
export function zohoDateTime(iso: string): string {
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 19)}+00:00`;
}

/** PhoneBridge start_time: `yyyy-MM-dd HH:mm:ss` in GMT. */
export function phonebridgeTime(iso: string): string {
  return new Date(iso).toISOString().slice(0, 19).replace('T', ' ');
}

export type ZohoCallType = 'Outbound' | 'Inbound' | 'Missed';

/** An inbound call nobody answered is a missed call; every outbound attempt is Outbound. */
export function callType(call: Call): ZohoCallType {
  if (call.direction === 'outbound') return 'Outbound';
  return call.answeredAt || call.status === 'completed' ? 'Inbound' : 'Missed';
}

/** The number on the customer's side of the call. */
export function customerNumber(call: Call): string | undefined {
  return call.direction === 'outbound' ? call.to : call.from;
}

export const CALL_ID_MARKER = 'dialgate-call-id:';

export function callIdMarker(callId: string): string {
  return `${CALL_ID_MARKER} ${callId}`;
}
