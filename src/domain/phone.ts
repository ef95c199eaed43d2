// Phone numbers normalised to E.164 with libphonenumber-js (full metadata: number types are
// needed by the dial policy), using the user's region as the default country.
import { parsePhoneNumberFromString, type CountryCode, type NumberType, type PhoneNumber } from 'libphonenumber-js/max';

// With full metadata a number is valid exactly when it matches one of its country's number
// types (libphonenumber-js isValid is getType() !== undefined). The type found while validating
// is kept, so the dial policy does not run the same patterns again on every click.
const TYPES = new WeakMap<PhoneNumber, NonNullable<NumberType>>();

export function parsePhone(input: string, defaultRegion?: string): PhoneNumber | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const p = parsePhoneNumberFromString(input, defaultRegion as CountryCode | undefined);
  const type = p?.getType();
  if (!p || type === undefined) return undefined;
  TYPES.set(p, type);
  return p;
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
