// Each org's CRM adapter, built from its CRM config (the `crm` setting) by its kind's definition
// and reused while the config is unchanged: building one per job would throw away the adapter's
// in-process state (Zoho's token, kept beside the shared copy). Also the phone searches the call
// log and screen pops share (cached briefly in the backend, so a burst of calls searches once),
// and the CRM's live call notifications.

import type { Logger } from 'pino';
import type { Call, User } from '../domain/types.js';
import type { SharedState } from '../store/state/port.js';
import { CrmError, type CrmAdapter, type CrmKindDefinition, type CrmMatch } from './adapter.js';

export const CRM_SETTING = 'crm';

export interface CrmConnectorsDeps {
  kinds: CrmKindDefinition[];
  /** the org's CRM config (the `crm` setting), as fresh as the caller needs it */
  configOf: (orgId: string) => Promise<Record<string, unknown> | null>;
  shared: SharedState;
  logger: Logger;
  /** how long a phone-number match is cached (default 5 min; misses 1 min) */
  matchCacheTtlMs?: number;
}

interface CachedAdapter {
  configJson: string;
  kind: string;
  adapter: CrmAdapter;
}

const MAX_CACHED_ADAPTERS = 1000;
const DEFAULT_MATCH_TTL_MS = 5 * 60_000;
const MISS_TTL_MS = 60_000;

/** the shared cache entry of a phone match */
const matchKey = (orgId: string, e164: string): string => `crm:${orgId}:match:${e164}`;

/** An error message safe to store on a call and show through the API. */
export function safeReason(e: unknown): string {
  if (e instanceof CrmError) return e.message.slice(0, 500);
  // anything else may carry internals (a Redis address, a stack); keep only its kind
  return `internal error (${(e as Error)?.name ?? 'Error'})`;
}

/**
 * An adapter may declare `searchesByPhone = false` (a plain webhook has no search API): its
 * findByPhone always answers null, so neither the log nor a screen pop goes through the cache.
 */
export function searchesByPhone(adapter: CrmAdapter): boolean {
  return (adapter as { searchesByPhone?: boolean }).searchesByPhone !== false;
}

export class CrmConnectors {
  private readonly cache = new Map<string, CachedAdapter>();

  constructor(private readonly deps: CrmConnectorsDeps) {}

  get logger(): Logger {
    return this.deps.logger;
  }

  kind(kind: string): CrmKindDefinition | undefined {
    return this.deps.kinds.find((k) => k.kind === kind);
  }

  kindNames(): string[] {
    return this.deps.kinds.map((k) => k.kind);
  }

  /** The org's adapter for this config (as stored, when at hand: saves re-serialising it). */
  adapterFor(orgId: string, config: Record<string, unknown>, configJson = JSON.stringify(config)): { kind: string; adapter: CrmAdapter } {
    const hit = this.cache.get(orgId);
    if (hit && hit.configJson === configJson) return hit;
    const kind = String(config.kind ?? '');
    const def = this.kind(kind);
    if (!def) throw new CrmError(`unknown CRM kind "${kind}"`, false, undefined, 'unknown_crm_kind');
    const adapter = def.create({ orgId, config, shared: this.deps.shared, logger: this.deps.logger.child({ orgId, crm: kind }) });
    this.cache.delete(orgId);
    if (this.cache.size >= MAX_CACHED_ADAPTERS) this.cache.delete(this.cache.keys().next().value as string);
    const entry = { configJson, kind, adapter };
    this.cache.set(orgId, entry);
    return entry;
  }

  /** The org's adapter, or null when it has no CRM connection. */
  async forOrg(orgId: string): Promise<{ kind: string; adapter: CrmAdapter } | null> {
    const config = await this.deps.configOf(orgId);
    return config ? this.adapterFor(orgId, config) : null;
  }

  /** findByPhone through a short shared cache (hits and misses). */
  async findByPhone(orgId: string, adapter: CrmAdapter, e164: string): Promise<CrmMatch | null> {
    if (!searchesByPhone(adapter)) return null;
    const key = matchKey(orgId, e164);
    const { shared, matchCacheTtlMs } = this.deps;
    const hit = await shared.get(key);
    if (hit) {
      try {
        return (JSON.parse(hit) as { m: CrmMatch | null }).m;
      } catch {
        // unreadable cache entry: search again
      }
    }
    const m = await adapter.findByPhone(e164);
    await shared.set(key, JSON.stringify({ m }), m ? (matchCacheTtlMs ?? DEFAULT_MATCH_TTL_MS) : Math.min(MISS_TTL_MS, matchCacheTtlMs ?? MISS_TTL_MS));
    return m;
  }

  /**
   * The CRM record for an inbound caller, for the screen pop (`call.matched`), time-boxed: null
   * when there is no CRM, no match, an error, or no answer within `timeoutMs` (the search goes on
   * in the background and fills the cache).
   */
  async match(orgId: string, e164: string, timeoutMs: number): Promise<CrmMatch | null> {
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => {
      const crm = await this.forOrg(orgId);
      return crm ? this.findByPhone(orgId, crm.adapter, e164) : null;
    })().catch((e) => {
      this.deps.logger.warn({ orgId, reason: safeReason(e) }, 'caller lookup failed');
      return null;
    });
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Every record matching the customer's number, for a screen pop: one match, or several
   * candidates (no guess). Time-boxed like match(); null when the org's CRM cannot search at all.
   * One match is cached like findByPhone's, so the log and the next pop reuse it.
   */
  async matchAll(orgId: string, e164: string, callId: string, timeoutMs: number): Promise<{ match: CrmMatch | null; candidates: CrmMatch[] } | null> {
    const crm = await this.forOrg(orgId).catch(() => null);
    if (!crm || !searchesByPhone(crm.adapter)) return null;
    const { adapter } = crm;
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => {
      if (!adapter.findMatches) {
        const m = await this.findByPhone(orgId, adapter, e164);
        return { match: m, candidates: m ? [m] : [] };
      }
      const all = await adapter.findMatches(e164, callId);
      if (all.length === 1) await this.deps.shared.set(matchKey(orgId, e164), JSON.stringify({ m: all[0] }), this.deps.matchCacheTtlMs ?? DEFAULT_MATCH_TTL_MS);
      return { match: all.length === 1 ? all[0] : null, candidates: all };
    })().catch((e) => {
      this.deps.logger.warn({ orgId, reason: safeReason(e) }, 'caller lookup failed');
      return { match: null, candidates: [] };
    });
    const timeout = new Promise<{ match: null; candidates: CrmMatch[] }>((r) => {
      timer = setTimeout(() => r({ match: null, candidates: [] }), timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Live call events for CRMs that take them (Zoho PhoneBridge: ringing, answered). Never throws:
   * a CRM that is down must not disturb the call; the final outcome goes through the job.
   */
  async notify(orgId: string, call: Call, user: () => Promise<User | null>): Promise<void> {
    try {
      const crm = await this.forOrg(orgId);
      if (!crm?.adapter.notify) return;
      await crm.adapter.notify(call, await user());
    } catch (e) {
      this.deps.logger.warn({ orgId, callId: call.id, reason: safeReason(e) }, 'CRM live notification failed');
    }
  }
}
