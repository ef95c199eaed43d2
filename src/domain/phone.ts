// Phone numbers normalised to E.164 with libphonenumber-js (full metadata: number types are
// needed by the dial policy), using the user's region as the default country.
import { parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from 'libphonenumber-js/max';

export function parsePhone(input: string, defaultRegion?: string): PhoneNumber | undefined {
  if (typeof input !== 'string' || input.length > 64) return undefined;
  const p = parsePhoneNumberFromString(input, defaultRegion as CountryCode | undefined);
  return p && p.isValid() ? p : undefined;
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
