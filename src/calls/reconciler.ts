// Stuck calls. A call hears about its progress from its provider (webhooks, SIP dialogs, the
// simulator's reports); when the instance that placed it dies, or a provider's report is lost,
// nothing moves it again, and its user keeps a live-call slot for ever. The reconciler, a
// housekeeping task (one instance at a time: src/housekeeping/housekeeper.ts), asks the provider
// about every live call with no news for `afterMs` (adapter fetchStatus) and applies the answer
// through the normal call-events path (one transition script: slot freed, call log handed off
// once); a call its provider does not know is ended failed, cause "stale". Calls answered longer
// than `maxCallMs` are hung up. POST /v1/calls/{id}/end and DELETE /v1/calls/{id} use the same
// steps for one call at once.

import type { Logger } from 'pino';
import type { OrgConfigCache } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { isTerminal } from '../domain/state-machine.js';
import type { Call, CallStatus, Provider } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { CallReport } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { CallStore } from '../store/calls/port.js';
import type { CallEvents } from './call-events.js';

export interface ReconcilerDeps {
  calls: CallStore;
  configs: OrgConfigCache;
  providers: ProviderRuntime;
  events: CallEvents;
  logger: Logger;
  metrics: Metrics;
  /** a live call with no news for this long is checked with its provider (DIALGATE_RECONCILE_AFTER_SEC) */
  afterMs: number;
  /** an answered call older than this is hung up (DIALGATE_MAX_CALL_SEC) */
  maxCallMs: number;
}

/** calls checked per org and round (the rest wait for the next round) */
const BATCH = 200;
/** how long one provider question may take before the call is left for the next round */
const ASK_TIMEOUT_MS = 10_000;

export type Outcome = 'ended' | 'updated' | 'unchanged' | 'unsure';

/** The end status a call gets when we end it ourselves: what a provider would report for it. */
function endStatus(call: Call): CallStatus {
  return call.status === 'answered' ? 'completed' : call.status === 'queued' ? 'failed' : 'canceled';
}

export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  /** One org's round (a housekeeping task). Returns how many calls it ended. */
  async org(orgId: string): Promise<number> {
    const { calls, afterMs, maxCallMs } = this.deps;
    const now = Date.now();
    // the max-duration rule needs the calls answered long ago even when they had news since
    const ids = await calls.staleLiveCalls(orgId, now - Math.min(afterMs, maxCallMs), BATCH);
    let ended = 0;
    for (const id of ids) {
      try {
        const outcome = await this.check(orgId, id, now);
        this.deps.metrics.callsReconciled.inc({ outcome });
        if (outcome === 'ended') ended++;
      } catch (e) {
        this.deps.logger.warn({ orgId, callId: id, err: (e as Error).message }, 'reconciler: could not check a call');
      }
    }
    if (ended > 0) this.deps.logger.info({ orgId, ended }, 'reconciler: ended stuck calls');
    return ended;
  }

  private async check(orgId: string, callId: string, now: number): Promise<Outcome> {
    const call = await this.deps.calls.getCall(orgId, callId);
    if (!call || isTerminal(call.status)) return 'unchanged';
    const answeredAt = call.answeredAt ? Date.parse(call.answeredAt) : NaN;
    if (call.status === 'answered' && now - answeredAt > this.deps.maxCallMs) {
      return this.end(orgId, call, 'max_duration');
    }
    const lastNews = Date.parse(call.updatedAt);
    if (Number.isFinite(lastNews) && now - lastNews < this.deps.afterMs) return 'unchanged';
    return this.ask(orgId, call);
  }

  /**
   * Asks the call's provider and applies what it says. A call the provider does not know is
   * ended as `gone` says: failed "stale" when nobody asked for its end, the end we asked for when
   * we just hung it up (the provider dropped it before reporting).
   */
  private async ask(orgId: string, call: Call, gone: { status: CallStatus; cause: string } = { status: 'failed', cause: 'stale' }): Promise<Outcome> {
    const provider = (await this.deps.configs.get(orgId)).provider(call.providerId);
    // never reached a provider (its instance died between the click and the dial), or the
    // provider was uninstalled: nobody can ever report on it
    if (!provider || !call.providerCallId) return this.finish(orgId, call, gone.status, gone.cause);
    const adapter = this.deps.providers.adapter(provider);
    if (!adapter.fetchStatus) return 'unsure';
    const report = await this.fetch(provider, call);
    if (report.state === 'unsure') {
      this.deps.logger.info({ callId: call.id, providerId: provider.id, detail: report.detail }, 'reconciler: the provider could not say; asking again next round');
      return 'unsure';
    }
    if (report.state === 'unknown') return this.finish(orgId, call, gone.status, gone.cause);
    if (report.status === call.status) return 'unchanged';
    const tr = await this.deps.events.apply(orgId, call.id, {
      status: report.status,
      at: report.at ?? new Date().toISOString(),
      ...(report.cause ? { cause: report.cause } : {}),
      ...(report.durationSec !== undefined ? { durationSec: report.durationSec } : {}),
      onlyProvider: provider.id,
    });
    return tr?.becameTerminal ? 'ended' : tr?.applied ? 'updated' : 'unchanged';
  }

  private async fetch(provider: Provider, call: Call): Promise<CallReport> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.deps.providers.adapter(provider).fetchStatus!(call),
        new Promise<CallReport>((r) => (timer = setTimeout(() => r({ state: 'unsure', detail: 'timed out' }), ASK_TIMEOUT_MS))),
      ]);
    } catch (e) {
      return { state: 'unsure', detail: (e as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends a call now, here first (the cause says who ended it; the provider's own report of the
   * hang-up then finds it ended), then asks its provider to hang up — best effort: the instance
   * holding it may be gone.
   */
  async end(orgId: string, call: Call, cause: string): Promise<Outcome> {
    const outcome = await this.finish(orgId, call, endStatus(call), cause);
    const provider = (await this.deps.configs.get(orgId)).provider(call.providerId);
    if (provider && call.providerCallId) {
      try {
        await this.deps.providers.adapter(provider).hangUp(call);
      } catch (e) {
        this.deps.logger.warn({ callId: call.id, providerId: provider.id, err: (e as Error).message }, 'reconciler: hang-up at the provider failed (the call is ended here)');
      }
    }
    return outcome;
  }

  /** The terminal move, unless the call already ended (the provider reported it meanwhile). */
  private async finish(orgId: string, call: Call, status: CallStatus, cause: string): Promise<Outcome> {
    const tr = await this.deps.events.apply(orgId, call.id, { status, at: new Date().toISOString(), cause });
    return tr?.becameTerminal ? 'ended' : 'unchanged';
  }

  /**
   * DELETE /v1/calls/{id}: the provider hangs up; when the call is still live afterwards (the
   * instance holding it died, so no report will come), the provider is asked where it stands, and
   * a call it does not know is ended here. POST /v1/calls/{id}/end: ends it at once regardless.
   */
  async hangUp(orgId: string, callId: string, force: boolean): Promise<Call> {
    const call = await this.deps.calls.getCall(orgId, callId);
    if (!call) throw new DomainError('call_not_found', `call ${callId} not found`);
    if (isTerminal(call.status)) throw new DomainError('call_not_active', `call ${callId} has already ended (${call.status})`);
    if (force) {
      await this.end(orgId, call, 'ended_by_admin');
    } else {
      const provider = (await this.deps.configs.get(orgId)).provider(call.providerId);
      if (!provider || !call.providerCallId) {
        await this.finish(orgId, call, 'canceled', 'canceled_by_api');
      } else {
        await this.deps.providers.adapter(provider).hangUp(call);
        const after = await this.deps.calls.getCall(orgId, callId);
        if (after && !isTerminal(after.status)) await this.ask(orgId, after, { status: endStatus(after), cause: after.status === 'answered' ? 'hung_up_by_api' : 'canceled_by_api' });
      }
    }
    return (await this.deps.calls.getCall(orgId, callId)) ?? call;
  }
}
