// The dial policy as a table: destinations × policies (org, narrowed by provider and user) → the
// decision and the rule that made it. Every example number's type is checked against
// libphonenumber-js/max here, so a metadata update that reclassifies a number fails loudly
// instead of leaving the table silently wrong. Decisions go through PolicyService.decide, the
// same path dispatch, trials and routing explain use.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getExampleNumber, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import mobileExamples from 'libphonenumber-js/mobile/examples';
import { parsePhone } from '../../src/domain/phone.js';
import type { Provider, User } from '../../src/domain/types.js';
import { DomainError } from '../../src/domain/errors.js';
import { OrgSnapshot } from '../../src/directory/org-config.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { evaluate, type DialPolicy } from '../../src/policy/dial-policy.js';
import { isEmergencyNumber } from '../../src/policy/emergency.js';
import { ORG_POLICY, PolicyService, providerPolicyName } from '../../src/policy/policy-service.js';
import { createMemoryBackend } from '../../src/store/memory/backend.js';

interface Row {
  name: string;
  to: string;
  /** libphonenumber-js/max's getType() for `to` (checked): the table cannot claim a type it lacks */
  type: string;
  /** the caller's region (default US) */
  region?: string;
  /** the regions of the org's users (default: just the caller's) */
  orgRegions?: string[];
  org?: DialPolicy;
  provider?: DialPolicy;
  user?: DialPolicy;
  /** true, or the refusing rule: exact, or "<rule>:" to match its key only */
  expect: true | string;
  /** for allowed rows: the rule that allowed it, when it is not plain "allowed" */
  by?: string;
}

// Example numbers from libphonenumber's metadata (PhoneNumberMetadata.xml <exampleNumber>s and
// ranges), written in E.164.
const N = {
  usLocal: '+14155550123',
  usTollFree: '+18002345678',
  usPremium: '+19002345678',
  caLocal: '+14165550123',
  jmMobile: '+18762345678',
  gbMobile: '+447400123456',
  gbFixed: '+442012345678',
  gbTollFree: '+448001234567',
  gbPremium: '+449098765432',
  gbVoip: '+445612345678',
  gbPersonal: '+447012345678',
  imMobile: '+447624123456',
  frMobile: '+33612345678',
  frFixed: '+33123456789',
  frTollFree: '+33801234567',
  frPremium: '+33891123456',
  frShared: '+33810123456',
  dePremium: '+499001234567',
  deShared: '+4918011234567',
  deMobile: '+4915123456789',
  esPremium: '+34803123456',
  esShared: '+34901123456',
  itShared: '+39848123456',
  bePremium: '+3290012345',
  auPremium: '+611902123456',
  auShared: '+611300123456',
  cuFixed: '+5321234567',
  iridium: '+881612345678',
  uifnTollFree: '+80012345678',
};

const ROWS: Row[] = [
  // ---- a new org: no policy at all — only its users' countries, no premium-rate ----------------
  { name: 'new org: home-country local number', to: N.usLocal, type: 'FIXED_LINE_OR_MOBILE', expect: true },
  { name: 'new org: home-country toll-free', to: N.usTollFree, type: 'TOLL_FREE', expect: true },
  { name: 'new org: another country', to: N.gbMobile, type: 'MOBILE', expect: 'default.countries: GB is not a region of this org\'s users' },
  { name: 'new org: a country of another user of the org', to: N.gbMobile, type: 'MOBILE', orgRegions: ['US', 'GB'], expect: true },
  { name: 'new org: the caller\'s own region even if no other user has it', to: N.frFixed, type: 'FIXED_LINE', region: 'FR', orgRegions: ['US'], expect: true },
  { name: 'new org: Jamaica shares +1 but is not the US (one-ring scams)', to: N.jmMobile, type: 'MOBILE', expect: 'default.countries: JM is not a region of this org\'s users' },
  { name: 'new org: Canada shares +1 but is not the US', to: N.caLocal, type: 'FIXED_LINE_OR_MOBILE', expect: 'default.countries: CA is not a region of this org\'s users' },
  { name: 'new org: Isle of Man shares +44 but is not GB', to: N.imMobile, type: 'MOBILE', region: 'GB', expect: 'default.countries: IM is not a region of this org\'s users' },
  { name: 'new org: satellite (Iridium +881) has no country', to: N.iridium, type: 'MOBILE', expect: 'default.countries: unknown country is not a region of this org\'s users' },
  { name: 'new org: international freephone (+800) has no country', to: N.uifnTollFree, type: 'TOLL_FREE', expect: 'default.countries:' },
  { name: 'new org: US premium-rate (+1 900)', to: N.usPremium, type: 'PREMIUM_RATE', expect: 'default.numberTypes:' },
  { name: 'new org: GB premium-rate (+44 909)', to: N.gbPremium, type: 'PREMIUM_RATE', region: 'GB', expect: 'default.numberTypes:' },
  { name: 'new org: FR premium-rate (+33 89)', to: N.frPremium, type: 'PREMIUM_RATE', region: 'FR', expect: 'default.numberTypes:' },
  { name: 'new org: DE premium-rate (+49 900)', to: N.dePremium, type: 'PREMIUM_RATE', region: 'DE', expect: 'default.numberTypes:' },
  { name: 'new org: ES premium-rate (+34 803)', to: N.esPremium, type: 'PREMIUM_RATE', region: 'ES', expect: 'default.numberTypes:' },
  { name: 'new org: BE premium-rate (+32 900)', to: N.bePremium, type: 'PREMIUM_RATE', region: 'BE', expect: 'default.numberTypes:' },
  { name: 'new org: AU premium-rate (+61 190)', to: N.auPremium, type: 'PREMIUM_RATE', region: 'AU', expect: 'default.numberTypes:' },
  { name: 'new org: FR shared-cost (+33 810)', to: N.frShared, type: 'SHARED_COST', region: 'FR', expect: 'default.numberTypes:' },
  { name: 'new org: DE shared-cost (+49 180)', to: N.deShared, type: 'SHARED_COST', region: 'DE', expect: 'default.numberTypes:' },
  { name: 'new org: ES shared-cost (+34 901)', to: N.esShared, type: 'SHARED_COST', region: 'ES', expect: 'default.numberTypes:' },
  { name: 'new org: IT shared-cost (+39 848)', to: N.itShared, type: 'SHARED_COST', region: 'IT', expect: 'default.numberTypes:' },
  { name: 'new org: AU shared-cost (+61 1300)', to: N.auShared, type: 'SHARED_COST', region: 'AU', expect: 'default.numberTypes:' },
  { name: 'new org: GB mobile, fixed line, toll-free, VoIP, personal', to: N.gbVoip, type: 'VOIP', region: 'GB', expect: true },
  { name: 'new org: GB personal number', to: N.gbPersonal, type: 'PERSONAL_NUMBER', region: 'GB', expect: true },
  { name: 'new org: GB fixed line', to: N.gbFixed, type: 'FIXED_LINE', region: 'GB', expect: true },
  { name: 'new org: GB toll-free', to: N.gbTollFree, type: 'TOLL_FREE', region: 'GB', expect: true },

  // ---- org countries -----------------------------------------------------------------------
  { name: 'org allow-list replaces the default countries', to: N.gbMobile, type: 'MOBILE', org: { countries: { allow: ['GB', 'FR'] } }, expect: true },
  { name: 'org allow-list: the home country is not implied', to: N.usLocal, type: 'FIXED_LINE_OR_MOBILE', org: { countries: { allow: ['GB', 'FR'] } }, expect: 'org.countries.allow: US is not listed' },
  { name: 'org deny-list', to: N.cuFixed, type: 'FIXED_LINE', orgRegions: ['US', 'CU'], org: { countries: { deny: ['CU'] } }, expect: 'org.countries.deny: CU' },
  { name: 'org deny wins over its own allow', to: N.gbMobile, type: 'MOBILE', org: { countries: { allow: ['GB', 'FR'], deny: ['GB'] } }, expect: 'org.countries.deny: GB' },
  { name: 'org deny-list alone keeps the default countries', to: N.gbMobile, type: 'MOBILE', org: { countries: { deny: ['CU'] } }, expect: 'default.countries:' },
  { name: 'org allow-list still refuses premium-rate there', to: N.gbPremium, type: 'PREMIUM_RATE', org: { countries: { allow: ['GB'] } }, expect: 'default.numberTypes:' },
  { name: 'org allow-list: satellite numbers have no country to list', to: N.iridium, type: 'MOBILE', org: { countries: { allow: ['US'] } }, expect: 'org.countries.allow: unknown country is not listed' },

  // ---- provider layer: narrows, never widens -------------------------------------------------
  { name: 'provider narrows the org\'s countries', to: N.frMobile, type: 'MOBILE', org: { countries: { allow: ['GB', 'FR'] } }, provider: { countries: { allow: ['GB'] } }, expect: 'provider.countries.allow: FR is not listed' },
  { name: 'provider allows what the org allows', to: N.gbMobile, type: 'MOBILE', org: { countries: { allow: ['GB', 'FR'] } }, provider: { countries: { allow: ['GB'] } }, expect: true },
  { name: 'provider deny-list', to: N.usLocal, type: 'FIXED_LINE_OR_MOBILE', provider: { countries: { deny: ['US'] } }, expect: 'provider.countries.deny: US' },
  { name: 'provider cannot widen the org\'s countries (allow-list)', to: N.gbMobile, type: 'MOBILE', provider: { countries: { allow: ['GB', 'US'] } }, expect: 'default.countries:' },
  { name: 'provider cannot widen the org\'s explicit countries', to: N.frMobile, type: 'MOBILE', org: { countries: { allow: ['GB'] } }, provider: { countries: { allow: ['FR'] } }, expect: 'org.countries.allow: FR is not listed' },
  { name: 'provider cannot widen the org\'s countries (prefix)', to: N.gbMobile, type: 'MOBILE', provider: { prefixes: { allow: ['+44'] } }, expect: 'default.countries:' },
  { name: 'provider cannot lift the premium-rate default (number type)', to: N.usPremium, type: 'PREMIUM_RATE', provider: { numberTypes: { allow: ['PREMIUM_RATE', 'FIXED_LINE_OR_MOBILE'] } }, expect: 'default.numberTypes:' },
  { name: 'provider cannot lift the premium-rate default (prefix)', to: N.usPremium, type: 'PREMIUM_RATE', provider: { prefixes: { allow: ['+1900'] } }, expect: 'default.numberTypes:' },
  { name: 'provider prefix allow-list narrows', to: N.usLocal, type: 'FIXED_LINE_OR_MOBILE', provider: { prefixes: { allow: ['+1212'] } }, expect: 'provider.prefixes.allow: no prefix matches' },
  { name: 'provider number-type deny', to: N.usTollFree, type: 'TOLL_FREE', provider: { numberTypes: { deny: ['TOLL_FREE'] } }, expect: 'provider.numberTypes.deny: TOLL_FREE' },

  // ---- user layer: narrows, never widens -----------------------------------------------------
  { name: 'user narrows the org\'s countries', to: N.gbMobile, type: 'MOBILE', orgRegions: ['US', 'GB'], user: { countries: { allow: ['US'] } }, expect: 'user.countries.allow: GB is not listed' },
  { name: 'user cannot widen the org\'s countries', to: N.frMobile, type: 'MOBILE', user: { countries: { allow: ['US', 'FR'] } }, expect: 'default.countries:' },
  { name: 'user number-type deny', to: N.usTollFree, type: 'TOLL_FREE', user: { numberTypes: { deny: ['TOLL_FREE'] } }, expect: 'user.numberTypes.deny: TOLL_FREE' },
  { name: 'user cannot lift the premium-rate default', to: N.usPremium, type: 'PREMIUM_RATE', user: { numberTypes: { allow: ['PREMIUM_RATE'] } }, expect: 'default.numberTypes:' },
  { name: 'user cannot lift the premium-rate default (prefix)', to: N.usPremium, type: 'PREMIUM_RATE', user: { prefixes: { allow: ['+1900234'] } }, expect: 'default.numberTypes:' },
  { name: 'user narrows what the org explicitly allowed', to: N.usPremium, type: 'PREMIUM_RATE', org: { numberTypes: { allow: ['PREMIUM_RATE', 'FIXED_LINE_OR_MOBILE'] } }, user: { numberTypes: { deny: ['PREMIUM_RATE'] } }, expect: 'user.numberTypes.deny: PREMIUM_RATE' },

  // ---- org number types ------------------------------------------------------------------
  { name: 'org allows premium-rate explicitly', to: N.usPremium, type: 'PREMIUM_RATE', org: { numberTypes: { allow: ['PREMIUM_RATE', 'FIXED_LINE_OR_MOBILE'] } }, expect: true },
  { name: 'org number-type allow-list refuses the rest', to: N.usTollFree, type: 'TOLL_FREE', org: { numberTypes: { allow: ['PREMIUM_RATE', 'FIXED_LINE_OR_MOBILE'] } }, expect: 'org.numberTypes.allow: TOLL_FREE is not listed' },
  { name: 'org allows shared-cost explicitly', to: N.frShared, type: 'SHARED_COST', region: 'FR', org: { numberTypes: { allow: ['SHARED_COST', 'MOBILE', 'FIXED_LINE'] } }, expect: true },
  { name: 'org allowing premium-rate does not allow shared-cost', to: N.frShared, type: 'SHARED_COST', region: 'FR', org: { numberTypes: { allow: ['PREMIUM_RATE', 'MOBILE'] } }, expect: 'org.numberTypes.allow: SHARED_COST is not listed' },
  { name: 'org denies mobiles', to: N.gbMobile, type: 'MOBILE', region: 'GB', org: { numberTypes: { deny: ['MOBILE'] } }, expect: 'org.numberTypes.deny: MOBILE' },
  { name: 'org denying mobiles leaves fixed lines', to: N.gbFixed, type: 'FIXED_LINE', region: 'GB', org: { numberTypes: { deny: ['MOBILE'] } }, expect: true },
  { name: 'org denies toll-free', to: N.frTollFree, type: 'TOLL_FREE', region: 'FR', org: { numberTypes: { deny: ['TOLL_FREE'] } }, expect: 'org.numberTypes.deny: TOLL_FREE' },
  { name: 'org fixed-line-only policy', to: N.deMobile, type: 'MOBILE', region: 'DE', org: { numberTypes: { allow: ['FIXED_LINE'] } }, expect: 'org.numberTypes.allow: MOBILE is not listed' },

  // ---- prefixes ----------------------------------------------------------------------------
  { name: 'org prefix allow beats the premium-rate default', to: N.gbPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+44909'] } }, expect: true, by: 'org.prefixes.allow: +44909' },
  { name: 'org prefix allow without "+"', to: N.gbPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['44909'] } }, expect: true, by: 'org.prefixes.allow: 44909' },
  { name: 'org prefix allow-list refuses what it does not list', to: N.gbMobile, type: 'MOBILE', org: { prefixes: { allow: ['+44909'] } }, expect: 'org.prefixes.allow: no prefix matches' },
  { name: 'a whole-country prefix allows the country…', to: N.gbMobile, type: 'MOBILE', org: { prefixes: { allow: ['+44'] } }, expect: true, by: 'org.prefixes.allow: +44' },
  { name: '…but not its premium-rate numbers (+1 would open +1 900)', to: N.usPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+1'] } }, expect: 'default.numberTypes:' },
  { name: 'the most specific org prefix counts', to: N.usPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+1', '+1900'] } }, expect: true, by: 'org.prefixes.allow: +1900' },
  { name: 'org prefix deny', to: N.usLocal, type: 'FIXED_LINE_OR_MOBILE', org: { prefixes: { deny: ['+1415'] } }, expect: 'org.prefixes.deny: +1415' },
  { name: 'prefix deny beats the org\'s own prefix, country and type allows', to: N.usLocal, type: 'FIXED_LINE_OR_MOBILE', org: { prefixes: { allow: ['+1415555'], deny: ['+1415'] }, countries: { allow: ['US'] }, numberTypes: { allow: ['FIXED_LINE_OR_MOBILE'] } }, expect: 'org.prefixes.deny: +1415' },
  { name: 'a user\'s prefix deny beats the org\'s prefix allow', to: N.gbPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+44909'] } }, user: { prefixes: { deny: ['+449'] } }, expect: 'user.prefixes.deny: +449' },
  { name: 'a provider\'s prefix deny beats the org\'s prefix allow', to: N.gbPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+44909'] } }, provider: { prefixes: { deny: ['+44909876'] } }, expect: 'provider.prefixes.deny: +44909876' },
  { name: 'an explicit country deny beats a prefix allow', to: N.gbPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+44909'] }, countries: { deny: ['GB'] } }, expect: 'org.countries.deny: GB' },
  { name: 'an explicit number-type deny beats a prefix allow', to: N.gbPremium, type: 'PREMIUM_RATE', org: { prefixes: { allow: ['+44909'] }, numberTypes: { deny: ['PREMIUM_RATE'] } }, expect: 'org.numberTypes.deny: PREMIUM_RATE' },
];

function deps() {
  const backend = createMemoryBackend({ queuePrefix: '{t}', queueShards: 1, callRetentionSec: 60 });
  const metrics = new Metrics({ defaultMetrics: false });
  const service = new PolicyService({ settings: backend.settings, limits: backend.limits, audit: backend.audit, metrics });
  return { service, audit: backend.audit, metrics };
}

/** The org as the call path sees it: its users' regions and its policies. */
function snapshot(orgId: string, regions: string[], org?: DialPolicy, prov?: DialPolicy): OrgSnapshot {
  const settings: Record<string, unknown> = {};
  if (org) settings[ORG_POLICY] = org;
  if (prov) settings[providerPolicyName(PROVIDER_ID)] = prov;
  return new OrgSnapshot(orgId, { version: 1, providers: [], settings, regions }, Date.now());
}

const PROVIDER_ID = 'prov-1';
function provider(orgId: string): Provider {
  const now = new Date().toISOString();
  return { id: PROVIDER_ID, orgId, kind: 'sim', name: 'p', config: {}, regions: {}, priority: 0, scope: 'all', futureUsers: false, createdAt: now, updatedAt: now };
}
function user(region: string, dialPolicy?: DialPolicy): User {
  const now = new Date().toISOString();
  return { id: 'agent', region, numbers: [], providerId: PROVIDER_ID, createdAt: now, updatedAt: now, ...(dialPolicy ? { dialPolicy } : {}) } as User;
}

function matches(rule: string, expected: string): boolean {
  return expected.endsWith(':') ? rule.startsWith(expected) : rule === expected;
}

describe('dial policy: destinations × policies', () => {
  const { service } = deps();
  let n = 0;
  for (const row of ROWS) {
    test(row.name, async () => {
      const region = row.region ?? 'US';
      // the table's own claim, checked against libphonenumber's metadata
      const parsed = parsePhoneNumberFromString(row.to);
      assert.ok(parsed && parsed.isValid(), `${row.to} is a valid number`);
      assert.equal(parsed.getType(), row.type, `${row.to} is ${row.type} in libphonenumber-js/max`);

      const orgId = `org-${++n}`;
      const snap = snapshot(orgId, row.orgRegions ?? [region], row.org, row.provider);
      const num = parsePhone(row.to, region);
      assert.ok(num);
      const d = service.decide({ snapshot: snap, raw: row.to, number: num, user: user(region, row.user), provider: provider(orgId) });
      assert.equal(d.numberType, row.type);
      if (row.expect === true) {
        assert.equal(d.allowed, true, `allowed, but refused by ${d.rule}`);
        assert.equal(d.rule, row.by ?? 'allowed');
      } else {
        assert.equal(d.allowed, false, `refused by ${row.expect}, but allowed (${d.rule})`);
        assert.ok(matches(d.rule, row.expect), `rule "${d.rule}", expected ${row.expect}`);
      }
    });
  }
});

describe("dial policy: the agent's own leg (the user's phone, rung first)", () => {
  const CASES: Array<{ name: string; phone: string; org?: DialPolicy; user?: DialPolicy; to?: string; expect: true | string }> = [
    { name: 'an ordinary phone', phone: '+14155550100', expect: true },
    { name: 'a premium-rate "phone"', phone: N.usPremium, expect: 'agent_phone: default.numberTypes:' },
    { name: 'a shared-cost "phone"', phone: N.frShared, expect: 'agent_phone: default.numberTypes: SHARED_COST' + " numbers are refused unless the org's policy allows them" },
    { name: 'destination allow-lists say whom the org calls, not where agents sit', phone: '+14155550100', to: N.gbMobile, org: { countries: { allow: ['GB'] }, numberTypes: { allow: ['MOBILE'] }, prefixes: { allow: ['+44'] } }, expect: true },
    { name: 'an org prefix deny covers agent phones too', phone: '+14155550100', org: { prefixes: { deny: ['+1415555'] } }, to: N.usTollFree, expect: 'agent_phone: org.prefixes.deny: +1415555' },
    { name: "a user's number-type deny covers their phone", phone: '+14155550100', user: { numberTypes: { deny: ['FIXED_LINE_OR_MOBILE'] } }, to: N.usTollFree, expect: 'agent_phone: user.numberTypes.deny: FIXED_LINE_OR_MOBILE' },
    { name: 'the org may allow premium-rate explicitly', phone: N.usPremium, org: { numberTypes: { allow: ['PREMIUM_RATE', 'FIXED_LINE_OR_MOBILE'] } }, expect: true },
    { name: 'a refused destination is reported first', phone: N.usPremium, to: N.gbMobile, expect: 'default.countries:' },
  ];
  const { service } = deps();
  let n = 0;
  for (const c of CASES) {
    test(c.name, async () => {
      const orgId = `agent-org-${++n}`;
      const snap = snapshot(orgId, ['US'], c.org);
      const u = { ...user('US', c.user), phone: c.phone };
      const to = c.to ?? N.usLocal;
      const d = service.decide({ snapshot: snap, raw: to, number: parsePhone(to, 'US'), user: u, provider: provider(orgId) });
      if (c.expect === true) assert.equal(d.allowed, true, `refused by ${d.rule}`);
      else {
        assert.equal(d.allowed, false);
        assert.ok(matches(d.rule, c.expect), `rule "${d.rule}", expected ${c.expect}`);
      }
    });
  }
});

describe('dial policy: numbers of unknown type', () => {
  // parsePhone keeps only valid numbers, whose type libphonenumber knows; evaluate still treats a
  // number without a type as UNKNOWN (risky) rather than as anything allowed
  const unknown = parsePhoneNumberFromString('+4420123', 'GB')!;

  test('a number libphonenumber cannot type is UNKNOWN and refused by default', () => {
    assert.equal(unknown.getType(), undefined);
    const d = evaluate(unknown, [{ scope: 'org', policy: { prefixes: { allow: ['+44'] } } }], ['GB']);
    assert.deepEqual([d.allowed, d.numberType], [false, 'UNKNOWN']);
    assert.match(d.rule, /^default\.numberTypes: UNKNOWN/);
  });

  test('…unless the org allows UNKNOWN explicitly', () => {
    const d = evaluate(unknown, [{ scope: 'org', policy: { prefixes: { allow: ['+44'] }, numberTypes: { allow: ['UNKNOWN'] } } }], ['GB']);
    assert.equal(d.allowed, true, d.rule);
  });
});

describe('emergency numbers: never through click-to-call', () => {
  const EMERGENCY: Array<[raw: string, region: string]> = [
    ['911', 'US'],
    ['+1 911', 'US'],
    ['1-911', 'US'],
    ['911', 'CA'],
    ['112', 'DE'],
    ['112', 'FR'],
    ['112#', 'GB'],
    ['999', 'GB'],
    ['+44 999', 'GB'],
    ['000', 'AU'],
    ['+61 000', 'AU'],
    ['111', 'NZ'],
    ['110', 'DE'],
    ['15', 'FR'],
    ['17', 'FR'],
    ['190', 'BR'],
    ['10111', 'ZA'],
    // whatever the caller's region: an agent abroad must not reach the wrong service either
    ['911', 'GB'],
    ['112', 'US'],
  ];
  const NOT_EMERGENCY: Array<[raw: string, region: string]> = [
    ['+1 415 555 0123', 'US'],
    ['+49 30 1120000', 'DE'],
    ['+44 20 7946 0999', 'GB'],
    ['+61 2 9000 0000', 'AU'],
  ];

  for (const [raw, region] of EMERGENCY) {
    test(`"${raw}" (region ${region}) → refused, rule "emergency", told to dial from a phone`, async () => {
      assert.equal(isEmergencyNumber(raw, region), true);
      const { service, audit, metrics } = deps();
      const snap = snapshot('o1', [region]);
      const d = service.decide({ snapshot: snap, raw, number: parsePhone(raw, region), user: user(region), provider: null });
      assert.deepEqual([d.allowed, d.rule], [false, 'emergency']);
      const err = await service.enforce({ snapshot: snap, raw, number: parsePhone(raw, region), user: user(region), provider: null, actor: 'test', path: 'click-to-call' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof DomainError, 'enforce refuses it');
      assert.equal(err.code, 'destination_not_allowed');
      assert.equal(err.status, 403);
      assert.equal(err.details?.rule, 'emergency');
      assert.match(err.message, /emergency/i);
      assert.match(err.message, /from a phone/i);
      const [entry] = (await audit.list('o1', { limit: 10 })).items;
      assert.equal(entry.action, 'call.refused');
      assert.equal((entry.detail as { rule: string }).rule, 'emergency');
      const counted = (await metrics.callsRefused.get()).values.find((v) => v.labels.reason === 'emergency');
      assert.equal(counted?.value, 1);
    });
  }

  test("no country's example mobile number is taken for an emergency code, in any written form", () => {
    let checked = 0;
    for (const country of Object.keys(mobileExamples) as CountryCode[]) {
      const ex = getExampleNumber(country, mobileExamples);
      if (!ex) continue;
      for (const form of [ex.number, ex.formatInternational(), ex.formatNational(), ex.nationalNumber]) {
        assert.equal(isEmergencyNumber(form, country), false, `${country} ${form}`);
      }
      checked++;
    }
    assert.ok(checked > 200, `${checked} countries`);
  });

  for (const [raw, region] of NOT_EMERGENCY) {
    test(`"${raw}" (region ${region}) is an ordinary number`, () => {
      assert.ok(parsePhone(raw, region), 'valid');
      assert.equal(isEmergencyNumber(raw, region), false);
    });
  }
});
