// Emergency numbers are never placed through click-to-call: a gateway call carries no reliable
// caller location and may ring an agent first. The caller is told to dial from a phone.
// Checked on the raw input, before normalisation (short codes are not E.164 numbers).

import { getCountries, getCountryCallingCode } from 'libphonenumber-js/max';

const GLOBAL = ['911', '112', '999', '000', '110', '119', '08', '118', '100', '101', '102', '108', '111', '999', '190', '192', '193', '17', '15', '18', '113', '115', '120', '122', '123', '911'];

/** Per-country emergency short codes (ITU / national plans), on top of the global set. */
const BY_COUNTRY: Record<string, string[]> = {
  US: ['911', '933'],
  CA: ['911'],
  GB: ['999', '112'],
  IE: ['999', '112'],
  AU: ['000', '112', '106'],
  NZ: ['111'],
  IN: ['112', '100', '101', '102', '108'],
  CN: ['110', '119', '120', '122'],
  JP: ['110', '119', '118'],
  KR: ['112', '119'],
  BR: ['190', '192', '193', '199'],
  FR: ['15', '17', '18', '112', '114', '115', '196'],
  DE: ['110', '112'],
  IT: ['112', '113', '115', '118'],
  ES: ['112', '091', '092', '061', '080', '085'],
  MX: ['911', '065', '066'],
  ZA: ['10111', '10177', '112'],
};

const ALL = new Set([...GLOBAL, ...Object.values(BY_COUNTRY).flat()]);

// every country calling code, to read "+44 999" or "00 61 000" as a country's emergency code
const CALLING_CODES = new Set(getCountries().map((c) => getCountryCallingCode(c) as string));

/** true when the dialled string is an emergency code (e.g. "911", "+1 911", "+44 999", "112#"). */
export function isEmergencyNumber(raw: string, region?: string): boolean {
  const digits = raw.replace(/[^\d+]/g, '');
  if (digits.length === 0 || digits.length > 10) return false;
  const plain = digits.replace(/^\+/, '');
  const candidates = new Set<string>();
  if (!digits.startsWith('+') && plain.length <= 6) candidates.add(plain);
  // "1911" / "1-911": the NANP trunk prefix before a short code
  if (/^1\d{2,5}$/.test(plain) && !digits.startsWith('+')) candidates.add(plain.slice(1));
  // international forms: "+1 911", "+44 999", "0044 999", "011 52 911"
  const intl = digits.startsWith('+') ? plain : /^(00|011)/.test(plain) ? plain.replace(/^(00|011)/, '') : null;
  if (intl !== null) {
    for (let cc = 1; cc <= 3; cc++) {
      const rest = intl.slice(cc);
      if (CALLING_CODES.has(intl.slice(0, cc)) && rest.length >= 2 && rest.length <= 5) candidates.add(rest);
    }
  }
  for (const c of candidates) {
    if (region && BY_COUNTRY[region]?.includes(c)) return true;
    if (ALL.has(c)) return true;
  }
  return false;
}
