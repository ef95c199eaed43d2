// The one key layout of the Redis backend (like BullMQ's QueueKeys): every key the gateway
// writes is spelled here and nowhere else.
//
// Every key of an org shares its hash tag, `<prefix>{org:<orgId>}:`, so the org lives in one
// Redis Cluster slot and every Lua script can declare every key it touches. Per-org structures
// are a fixed set of keys (hashes and sorted sets keyed by id inside), so a script never has to
// build a key name it was not given; the only per-item keys are a call's own hash (`c:<callId>`),
// whose id the caller always knows, and the time-bucketed figures and trial keys, written with
// MULTI by code that computes them.
//
//   org        string  the org (JSON)
//   ver        string  config version: bumped by every change to providers, settings (dial and
//                      routing policies, provider limits, CRM) and the set of the org's regions;
//                      in-process snapshots of those are verified against it by the call scripts
//   users      zset    user ids (score 0, lexicographic)
//   profile    hash    user id → user JSON (without providerId)
//   uver       hash    user id → profile version (bumped by every put)
//   region     hash    user id → region          prov   hash  user id → provider id (absent: none)
//   regions    hash    region → number of users  dids   hash  DID (E.164) → user id
//   providers  hash    provider id → provider JSON
//   pmeta      hash    provider id → "future|priority|createdAt|,allow,|,deny,|kind" (what Lua needs)
//   pu         zset    "<providerId> <userId>" (score 0): a provider's users, by lexicographic range
//   settings   hash    name → JSON (dialPolicy, routingPolicy, provider:<id>:..., crm)
//   c:<callId> hash    a call (src/store/calls/codec.ts: `_base` JSON, public fields, `_` internals)
//   calls      zset    "<15-digit ms>:<callId>" (score 0): calls newest first
//   ucalls     zset    "<userId> <15-digit ms>:<callId>": one user's calls
//   pc         hash    "<providerId>:<providerCallId>" → call id
//   livecalls  zset    call id → ms of its last news (live calls only; the reconciler reads it)
//   unresolved zset    call id → ms it got candidates: calls whose CRM record the agent has to pick
//   idem       hash    Idempotency-Key → {fp, callId?, error?} JSON   idemExp zset key → expiry ms
//   rl         hash    token buckets: "u:<userId>" | "org" | "d:<E.164>" | "p:<providerId>" →
//                      "tokens:ms:capacity:refillPerMs"
//   live       hash    user id → "callId@expiryMs,..." (live click-to-calls per user)
//   health     hash    provider id → breaker state (src/store/health)
//   outbox     zset    call id → ms it ended: call logs handed off and not yet settled
//   updbox     zset    "<callId>:<group>:<n>" → ms: CRM updates of ended calls not yet settled
//                      (one member per call and group: a later change replaces the earlier one)
//   expiry     zset    call id → ms when the ended, logged call is purged (retention)
//   audit      stream  the audit log
//   apikeys    hash    key id → key record JSON (the org's keys and agent tokens, listed)
//   rates      hash    provider id → rate table JSON (src/costs/rates.ts)
//   costs      hash    call id → cost ledger entry JSON   costIdx zset call id → ms it ended
//   dnc        set     do-not-call numbers (E.164); the click script refuses them
//   cid        hash    "<providerId>|<E.164 destination>" → "<caller id>|<expiry ms>" (sticky
//                      local-presence caller id; an expired or retired number is chosen anew)
//   apikeyExp  zset    agent token id → ms it expires (expired ones are pruned from apikeys)
//   tokver     hash    user id → agent-token version: bumped when the user is deleted, moved or
//                      unassigned, which revokes every token minted at an older version
//   events     shard channel of the org's call events (SPUBLISH / SSUBSCRIBE)
//   perf:m:<minute>, perf:h:<hour>   figures per period (hash "<providerId>|<field>" → count)
//   trial:<id>[:perf|:placed:<providerId>|:done:<providerId>|:out:<providerId>|:parts]   a trial
//                      and its progress (:out hash: call id → how the ended call went, for its cost)
// Global single keys: apikey:<keyId>, provider-org:<providerId>, orgs (set of org ids),
// shared:<key> (SharedState), lock:<name>.

export const DEFAULT_KEY_PREFIX = 'dg:';

export interface OrgKeys {
  readonly tag: string;
  readonly org: string;
  readonly ver: string;
  readonly users: string;
  readonly profile: string;
  readonly uver: string;
  readonly region: string;
  readonly prov: string;
  readonly regions: string;
  readonly dids: string;
  readonly providers: string;
  readonly pmeta: string;
  readonly pu: string;
  readonly settings: string;
  readonly calls: string;
  readonly ucalls: string;
  readonly pc: string;
  readonly livecalls: string;
  readonly unresolved: string;
  readonly idem: string;
  readonly idemExp: string;
  readonly rl: string;
  readonly live: string;
  readonly health: string;
  readonly outbox: string;
  readonly updbox: string;
  readonly expiry: string;
  readonly audit: string;
  readonly apikeys: string;
  readonly apikeyExp: string;
  readonly tokver: string;
  readonly events: string;
  readonly rates: string;
  readonly costs: string;
  readonly costIdx: string;
  readonly dnc: string;
  readonly cid: string;
  call(callId: string): string;
  perfMinute(minute: number): string;
  perfHour(hour: number): string;
  trial(trialId: string): string;
  trialPerf(trialId: string): string;
  trialPlaced(trialId: string, providerId: string): string;
  trialDone(trialId: string, providerId: string): string;
  trialOutcomes(trialId: string, providerId: string): string;
  trialParts(trialId: string): string;
}

function orgKeys(prefix: string, orgId: string): OrgKeys {
  const tag = `${prefix}{org:${orgId}}:`;
  return {
    tag,
    org: `${tag}org`,
    ver: `${tag}ver`,
    users: `${tag}users`,
    profile: `${tag}profile`,
    uver: `${tag}uver`,
    region: `${tag}region`,
    prov: `${tag}prov`,
    regions: `${tag}regions`,
    dids: `${tag}dids`,
    providers: `${tag}providers`,
    pmeta: `${tag}pmeta`,
    pu: `${tag}pu`,
    settings: `${tag}settings`,
    calls: `${tag}calls`,
    ucalls: `${tag}ucalls`,
    pc: `${tag}pc`,
    livecalls: `${tag}livecalls`,
    unresolved: `${tag}unresolved`,
    idem: `${tag}idem`,
    idemExp: `${tag}idemExp`,
    rl: `${tag}rl`,
    live: `${tag}live`,
    health: `${tag}health`,
    outbox: `${tag}outbox`,
    updbox: `${tag}updbox`,
    expiry: `${tag}expiry`,
    audit: `${tag}audit`,
    apikeys: `${tag}apikeys`,
    apikeyExp: `${tag}apikeyExp`,
    tokver: `${tag}tokver`,
    events: `${tag}events`,
    rates: `${tag}rates`,
    costs: `${tag}costs`,
    costIdx: `${tag}costIdx`,
    dnc: `${tag}dnc`,
    cid: `${tag}cid`,
    call: (callId) => `${tag}c:${callId}`,
    perfMinute: (m) => `${tag}perf:m:${m}`,
    perfHour: (h) => `${tag}perf:h:${h}`,
    trial: (t) => `${tag}trial:${t}`,
    trialPerf: (t) => `${tag}trial:${t}:perf`,
    trialPlaced: (t, p) => `${tag}trial:${t}:placed:${p}`,
    trialDone: (t, p) => `${tag}trial:${t}:done:${p}`,
    trialOutcomes: (t, p) => `${tag}trial:${t}:out:${p}`,
    trialParts: (t) => `${tag}trial:${t}:parts`,
  };
}

const MAX_CACHED_ORGS = 10_000;

export class KeyLayout {
  private readonly byOrg = new Map<string, OrgKeys>();

  constructor(readonly prefix: string = DEFAULT_KEY_PREFIX) {}

  /** An org's keys (memoised: the hot paths ask for them on every request). */
  org(orgId: string): OrgKeys {
    let k = this.byOrg.get(orgId);
    if (!k) {
      if (this.byOrg.size >= MAX_CACHED_ORGS) this.byOrg.clear();
      k = orgKeys(this.prefix, orgId);
      this.byOrg.set(orgId, k);
    }
    return k;
  }

  /** The org id of an org events channel, or null. */
  orgOfChannel(channel: string): string | null {
    const head = `${this.prefix}{org:`;
    if (!channel.startsWith(head) || !channel.endsWith('}:events')) return null;
    return channel.slice(head.length, -'}:events'.length);
  }

  apiKey(keyId: string): string {
    return `${this.prefix}apikey:${keyId}`;
  }

  providerOrg(providerId: string): string {
    return `${this.prefix}provider-org:${providerId}`;
  }

  /** every org id, for the housekeeping that walks all orgs */
  get orgs(): string {
    return `${this.prefix}orgs`;
  }

  shared(key: string): string {
    return `${this.prefix}shared:${key}`;
  }

  lock(name: string): string {
    return `${this.prefix}lock:${name}`;
  }
}

/** Members of the `pu` index: a provider's users by lexicographic range. */
export const providerUserMember = (providerId: string, userId: string): string => `${providerId} ${userId}`;
/** ZRANGEBYLEX bounds of one provider's users ('!' is the code unit after the ' ' separator). */
export const providerUserRange = (providerId: string): { min: string; max: string } => ({ min: `[${providerId} `, max: `(${providerId}!` });

/**
 * The call-log queue shard of an org: a stable hash of the org id, so an org's jobs always land
 * in the same queue (job id = call id then still guarantees one log).
 */
export function queueShardOf(orgId: string, shards: number): number {
  if (shards <= 1) return 0;
  // FNV-1a, 32 bit
  let h = 0x811c9dc5;
  for (let i = 0; i < orgId.length; i++) {
    h ^= orgId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

/**
 * The BullMQ prefix of one queue shard. The base is a hash tag such as `{dialgate}`; with more
 * than one shard each gets its own tag (`{dialgate-0}`, `{dialgate-1}`, ...), so the shards land
 * in different Redis Cluster slots and their load spreads over the masters.
 */
export function queueShardPrefix(base: string, shard: number, shards: number): string {
  if (shards <= 1) return base;
  const m = /^\{(.+)\}$/.exec(base);
  return m ? `{${m[1]}-${shard}}` : `${base}-${shard}`;
}

/** A call-log job's id (= the call): BullMQ refuses ':' in job ids, and URI-encoding both parts keeps it unambiguous. */
export function callLogJobId(orgId: string, callId: string): string {
  return `${encodeURIComponent(orgId)}|${encodeURIComponent(callId)}`;
}

/** The job id of one change of a logged call: one per (call, group, count). */
export function logUpdateJobId(orgId: string, callId: string, group: string, n: number): string {
  return `${callLogJobId(orgId, callId)}|${encodeURIComponent(group)}|${n}`;
}

/** A trial run's job id: one per (trial, provider). */
export function trialJobId(orgId: string, trialId: string, providerId: string): string {
  return [orgId, trialId, providerId].map(encodeURIComponent).join('|');
}
