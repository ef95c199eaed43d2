// Dial policy: where an org may call. Evaluated before any provider is asked to dial, on every
// outbound path. The org policy applies first; a provider's and a user's own policy can only
// narrow it (each layer must allow the call). Pure functions: no I/O here.

import type { PhoneNumber } from 'libphonenumber-js/max';
import { numberTypeOf } from '../domain/phone.js';
import type { CallingHours } from './calling-hours.js';

export interface ListRule {
  allow?: string[];
  deny?: string[];
}

export interface DialLimits {
  perUserPerMinute?: number;
  perOrgPerMinute?: number;
  perDestinationPerHour?: number;
  /** click-to-calls one agent may have live at once (default 1: an agent cannot be rung twice) */
  liveCallsPerUser?: number;
}

export interface DialPolicy {
  countries?: ListRule;
  numberTypes?: ListRule;
  prefixes?: ListRule;
  limits?: DialLimits;
  /** when a person may be called, in their local time (src/policy/calling-hours.ts) */
  callingHours?: CallingHours;
}

/** libphonenumber-js type names; UNKNOWN stands for numbers whose type the metadata cannot tell. */
export const NUMBER_TYPES = [
  'MOBILE',
  'FIXED_LINE',
  'FIXED_LINE_OR_MOBILE',
  'TOLL_FREE',
  'PREMIUM_RATE',
  'SHARED_COST',
  'VOIP',
  'PERSONAL_NUMBER',
  'PAGER',
  'UAN',
  'VOICEMAIL',
  'UNKNOWN',
] as const;

/** Denied unless a policy allows them explicitly: the toll-fraud classics. */
export const RISKY_TYPES: ReadonlySet<string> = new Set(['PREMIUM_RATE', 'SHARED_COST', 'UNKNOWN']);

export const DEFAULT_LIMITS: Required<DialLimits> = {
  perUserPerMinute: 10,
  perOrgPerMinute: 600,
  perDestinationPerHour: 20,
  liveCallsPerUser: 1,
};

export interface PolicyLayer {
  /** "org", "provider", "user" */
  scope: string;
  policy: DialPolicy;
}

export interface Decision {
  allowed: boolean;
  /** the rule that decided, e.g. "org.countries.deny: CU" or "default.numberTypes: PREMIUM_RATE" */
  rule: string;
  country?: string;
  numberType: string;
  /** calling hours: the next allowed moment (ISO 8601) */
  retryAt?: string;
  /** calling hours: the callee's zones and the window, in words */
  detail?: string;
}

function digitsOf(prefix: string): string {
  return prefix.startsWith('+') ? prefix.slice(1) : prefix;
}

function matchesPrefix(e164: string, prefix: string): boolean {
  return e164.startsWith(`+${digitsOf(prefix)}`);
}

/**
 * Decides whether `num` may be dialled under the layers. `defaultCountries` applies when the org
 * policy sets no country allow-list (the org's users' regions, by default).
 *
 * Only the org layer can lift a default (countries outside the users' regions, premium-rate,
 * shared-cost and unknown types): provider and user layers narrow, so a provider's or a user's
 * allow-lists are checked but never widen what the org allows. An org prefix allow lifts the
 * risky-type default only when it reaches past the country calling code: "+44909" says "these
 * premium-rate numbers", while "+1" says "North America" and must not open +1 900 with it.
 */
export function evaluate(num: PhoneNumber, layers: PolicyLayer[], defaultCountries: string[] | null): Decision {
  const e164 = num.number;
  const country = num.country;
  const numberType = numberTypeOf(num);
  const deny = (rule: string): Decision => ({ allowed: false, rule, country, numberType });

  // explicit prefix rules come first: the most specific thing an admin can say
  for (const { scope, policy } of layers) {
    const hitDeny = policy.prefixes?.deny?.find((p) => matchesPrefix(e164, p));
    if (hitDeny) return deny(`${scope}.prefixes.deny: ${hitDeny}`);
  }
  let orgPrefix: string | undefined;
  for (const { scope, policy } of layers) {
    const allow = policy.prefixes?.allow;
    if (!allow || allow.length === 0) continue;
    const hits = allow.filter((p) => matchesPrefix(e164, p));
    if (hits.length === 0) return deny(`${scope}.prefixes.allow: no prefix matches`);
    if (scope === 'org') orgPrefix = hits.reduce((a, b) => (digitsOf(b).length > digitsOf(a).length ? b : a));
  }
  const orgPrefixNamesRange = orgPrefix !== undefined && digitsOf(orgPrefix).length > String(num.countryCallingCode).length;

  for (const { scope, policy } of layers) {
    const c = policy.countries;
    if (c?.deny?.includes(country ?? '')) return deny(`${scope}.countries.deny: ${country}`);
    if (c?.allow && c.allow.length > 0 && !c.allow.includes(country ?? '')) return deny(`${scope}.countries.allow: ${country ?? 'unknown country'} is not listed`);
  }
  const orgCountries = layers.find((l) => l.scope === 'org')?.policy.countries?.allow;
  if (orgPrefix === undefined && (!orgCountries || orgCountries.length === 0) && defaultCountries) {
    if (!defaultCountries.includes(country ?? '')) {
      return deny(`default.countries: ${country ?? 'unknown country'} is not a region of this org's users`);
    }
  }

  let orgAllowsType = false;
  for (const { scope, policy } of layers) {
    const t = policy.numberTypes;
    if (t?.deny?.includes(numberType)) return deny(`${scope}.numberTypes.deny: ${numberType}`);
    if (t?.allow && t.allow.length > 0) {
      if (!t.allow.includes(numberType)) return deny(`${scope}.numberTypes.allow: ${numberType} is not listed`);
      if (scope === 'org') orgAllowsType = true;
    }
  }
  if (RISKY_TYPES.has(numberType) && !orgAllowsType && !orgPrefixNamesRange) {
    return deny(`default.numberTypes: ${numberType} numbers are refused unless the org's policy allows them`);
  }
  return { allowed: true, rule: orgPrefix !== undefined ? `org.prefixes.allow: ${orgPrefix}` : 'allowed', country, numberType };
}

/**
 * The agent's leg of a click-to-call is an outbound call too: the provider rings the user's phone
 * first, so a "phone" set to a premium-rate number would make every click a premium-rate call.
 * What concerns the number itself applies (prefix and number-type denials, the risky-type
 * default, which only the org's numberTypes.allow lifts); the allow-lists do not, as they say
 * whom the org calls, not where its agents sit.
 */
export function evaluateAgentPhone(num: PhoneNumber, layers: PolicyLayer[]): Decision {
  const country = num.country;
  const numberType = numberTypeOf(num);
  const deny = (rule: string): Decision => ({ allowed: false, rule, country, numberType });
  for (const { scope, policy } of layers) {
    const hit = policy.prefixes?.deny?.find((p) => matchesPrefix(num.number, p));
    if (hit) return deny(`${scope}.prefixes.deny: ${hit}`);
  }
  for (const { scope, policy } of layers) {
    if (policy.numberTypes?.deny?.includes(numberType)) return deny(`${scope}.numberTypes.deny: ${numberType}`);
  }
  const orgAllows = layers.find((l) => l.scope === 'org')?.policy.numberTypes?.allow?.includes(numberType) ?? false;
  if (RISKY_TYPES.has(numberType) && !orgAllows) {
    return deny(`default.numberTypes: ${numberType} numbers are refused unless the org's policy allows them`);
  }
  return { allowed: true, rule: 'allowed', country, numberType };
}

/** The effective limits: the org's, else the defaults. */
export function effectiveLimits(org: DialPolicy | null): Required<DialLimits> {
  return { ...DEFAULT_LIMITS, ...(org?.limits ?? {}) };
}
