// Phone numbers normalised to E.164 with libphonenumber-js (full metadata: number types are
// needed by the dial policy), using the user's region as the default country.
import { parsePhoneNumberFromString, type CountryCode, type NumberType, type PhoneNumber } from 'libphonenumber-js/max';

// With full metadata a number is valid exactly when it matches one of its country's number
// types (libphonenumber-js isValid is getType() !== undefined). The type found while validating
// is kept, so the dial policy does not run the same patterns again on every click.
const TYPES = new WeakMap<PhoneNumber, NonNullable<NumberType>>();

// Parsing is the dearest step of a click or a screen pop (≈ 36 µs for a +1 number: the library
// compiles its patterns again on every call), and the same numbers come back: an org's DIDs on
// every inbound call, a destination at the click and again when its cost is settled, a customer
// called back. So parses are kept, valid or not, in a bounded map (the oldest goes first).
// The PhoneNumber objects handed out are shared: nothing may change them.
const MAX_CACHED = 10_000;
const parsed = new Map<string, PhoneNumber | null>();

/** how many parses are kept (tests) */
export function cachedParses(): number {
  return parsed.size;
}

export function parsePhone(input: string, defaultRegion?: string): PhoneNumber | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  // a number in international form means the same whatever the default region: one entry
  const key = defaultRegion && !input.startsWith('+') ? `${input}|${defaultRegion}` : input;
  const hit = parsed.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const p = parsePhoneNumberFromString(input, defaultRegion as CountryCode | undefined);
  const type = p?.getType();
  const out = p && type !== undefined ? p : undefined;
  if (out) TYPES.set(out, type!);
  if (parsed.size >= MAX_CACHED) parsed.delete(parsed.keys().next().value!);
  parsed.set(key, out ?? null);
  // and under its E.164 form, which the call keeps and later steps parse again
  if (out && out.number !== key && parsed.size < MAX_CACHED) parsed.set(out.number, out);
  return out;
}

/** The number's type (MOBILE, FIXED_LINE, PREMIUM_RATE...), 'UNKNOWN' when none matches. */
export function numberTypeOf(p: PhoneNumber): NonNullable<NumberType> | 'UNKNOWN' {
  return TYPES.get(p) ?? p.getType() ?? 'UNKNOWN';
}

/** E.164 form, or null when the input is not a valid number. */
export function toE164(input: string, defaultRegion?: string): string | null {
  return parsePhone(input, defaultRegion)?.number ?? null;
}

/** National significant forms a CRM may have stored, for matching (E.164 first). */
export function phoneForms(e164: string): string[] {
  const p = parsePhone(e164);
  if (!p) return [e164];
  return [...new Set([p.number, p.formatNational(), p.nationalNumber, p.formatInternational()])];
}
