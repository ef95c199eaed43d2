// The providers' side of a call: the sink every adapter reports into (webhooks and SIP dialogs
// alike), the one state machine applied to what they report, inbound routing with its screen
// pop, and the hand-off of every ended call to the call log. Each provider event is one backend
// round trip when the adapter knows our call id (Twilio's callback URLs, SIP, the simulator):
// the transition script finds, moves, publishes and hands off in one step.

import type { Logger } from 'pino';
import { newId } from '../domain/random.js';
import { toE164 } from '../domain/phone.js';
import { ringTimeoutOf, toPublicCall, type Call, type CallStatus, type CrmCandidate, type MediaState, type Provider } from '../domain/types.js';
import type { CallUpdates } from './call-updates.js';
import { handOff } from './hand-off.js';
import type { Metrics } from '../metrics/metrics.js';
import type { CallEventSink, InboundEvent, InboundRoute, MediaEvent, StatusEvent } from '../providers/adapter.js';
import type { CallStore, TransitionInput, TransitionResult } from '../store/calls/port.js';
import type { DirectoryStore } from '../store/directory/port.js';
import { callEventJson, type EventBus } from '../store/events/port.js';
import type { CallLogQueue } from '../store/queues/port.js';

/** Watches calls (live per-provider figures, trials, CRM live notifications). */
export interface CallObserver {
  /** one provider API dial request finished (errorCode set when it failed) */
  dialed(call: Call, provider: Provider, apiSeconds: number, errorCode?: string): void;
  /** a status change was applied to a call */
  transitioned(call: Call, status: CallStatus): void;
}

/** What a screen pop's search found: one match, or several candidates (no guess). */
export interface CallerMatch {
  match: CrmCandidate | null;
  candidates: CrmCandidate[];
}

/** Finds the customer's CRM records for a screen pop, time-boxed by the caller; null when the org's CRM cannot search. */
export type CallerMatcher = (orgId: string, call: Call) => Promise<CallerMatch | null>;

/** The gateway's own link to a recording or voicemail (src/calls/recording-links.ts). */
export type MediaLinker = (orgId: string, callId: string, kind: 'recording' | 'voicemail') => string;

export interface CallEventsDeps {
  calls: CallStore;
  directory: DirectoryStore;
  events: EventBus;
  metrics: Metrics;
  logger: Logger;
  /** where ended calls go to be logged in the CRM (none: calls are not logged) */
  callLog?: CallLogQueue;
  observers?: CallObserver[];
  matcher?: CallerMatcher;
  /** the screen pop's match, recordings: changes beside the status */
  updates?: CallUpdates;
  mediaLink?: MediaLinker;
}

const MATCH_TIMEOUT_MS = 2000;
/** a provider's callback may race the dial response that links its call id: look again this often */
const LINK_RETRIES_MS = [25, 50, 75, 100];

/** A provider's event time as ISO 8601; an unparseable one is "now". */
function eventTime(at: string): string {
  return Number.isFinite(Date.parse(at)) ? at : new Date().toISOString();
}

export class CallEvents {
  private readonly observers: CallObserver[];

  constructor(private readonly deps: CallEventsDeps) {
    this.observers = deps.observers ?? [];
  }

  observe(): CallObserver {
    return {
      dialed: (call, provider, apiSeconds, errorCode) => {
        for (const o of this.observers) o.dialed(call, provider, apiSeconds, errorCode);
      },
      transitioned: (call, status) => {
        for (const o of this.observers) o.transitioned(call, status);
      },
    };
  }

  /**
   * Applies one status change (one backend step: the transition, its event, and on the end the
   * live-slot release and the hand-off to the call log), then what happens in this process:
   * metrics, observers, and the call-log job. The job is also in the backend's outbox, so a job
   * lost here (a crash, Redis blinking) is enqueued again by housekeeping: never lost, and logged
   * once (job id = call id, and the worker looks at the call's crmLog first).
   */
  async apply(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null> {
    const tr = await this.deps.calls.transition(orgId, callId, input);
    if (!tr) return null;
    if (tr.applied) {
      this.observeSetup(tr.call, input.status);
      for (const o of this.observers) o.transitioned(tr.call, input.status);
    }
    if (tr.becameTerminal) {
      this.deps.metrics.calls.inc({ provider_kind: tr.call.providerKind, provider_id: tr.call.providerId, direction: tr.call.direction, outcome: tr.call.status });
      if (this.deps.callLog && !tr.call.trial) await handOff(this.deps.callLog, this.deps.logger, orgId, callId);
    }
    return tr;
  }

  private observeSetup(call: Call, status: CallStatus): void {
    if (call.direction !== 'outbound' || (status !== 'ringing' && status !== 'answered')) return;
    const dialedAt = call.history.find((h) => h.status === 'dialing')?.at ?? call.createdAt;
    const at = call.history[call.history.length - 1]?.at;
    if (!at) return;
    const secs = (Date.parse(at) - Date.parse(dialedAt)) / 1000;
    if (secs >= 0) this.deps.metrics.callSetup.observe({ provider_kind: call.providerKind, provider_id: call.providerId, stage: status }, secs);
  }

  /** The sink one provider's adapter reports into. */
  sinkFor(provider: Provider): CallEventSink {
    const orgId = provider.orgId;
    const { calls, directory } = this.deps;
    return {
      status: (ev) => this.onStatus(provider, ev),
      inbound: (ev) => this.onInbound(provider, ev),
      media: (ev) => this.onMedia(provider, ev),
      findCall: async (pcid) => {
        const id = await calls.callIdByProviderCallId(orgId, provider.id, pcid);
        return id ? calls.getCall(orgId, id) : null;
      },
      getCall: async (callId) => {
        const c = await calls.getCall(orgId, callId);
        return c && c.providerId === provider.id ? c : null;
      },
      getUser: (userId) => directory.getUser(orgId, userId),
    };
  }

  private async onStatus(provider: Provider, ev: StatusEvent): Promise<Call | null> {
    const orgId = provider.orgId;
    let callId = ev.callId ?? null;
    for (let i = 0; !callId && i <= LINK_RETRIES_MS.length; i++) {
      callId = await this.deps.calls.callIdByProviderCallId(orgId, provider.id, ev.providerCallId);
      if (!callId && i < LINK_RETRIES_MS.length) await new Promise((r) => setTimeout(r, LINK_RETRIES_MS[i]));
    }
    const tr = callId
      ? await this.apply(orgId, callId, {
          status: ev.status,
          at: eventTime(ev.at),
          cause: ev.cause,
          providerCallId: ev.providerCallId,
          durationSec: ev.durationSec,
          ...(ev.price ? { providerPrice: ev.price } : {}),
          onlyProvider: provider.id,
        })
      : null;
    if (!tr) this.deps.logger.warn({ providerId: provider.id, status: ev.status }, 'status event for an unknown provider call');
    return tr?.call ?? null;
  }

  private async onInbound(provider: Provider, ev: InboundEvent): Promise<InboundRoute | null> {
    const started = performance.now();
    const orgId = provider.orgId;
    const did = toE164(ev.to) ?? ev.to;
    const now = new Date().toISOString();
    const route = await this.deps.calls.inbound({
      did,
      call: {
        id: newId('call'),
        orgId,
        userId: '',
        providerId: provider.id,
        providerKind: provider.kind,
        direction: 'inbound',
        from: toE164(ev.from) ?? ev.from,
        to: did,
        status: 'ringing',
        providerCallId: ev.providerCallId,
        createdAt: now,
        updatedAt: now,
        history: [
          { status: 'queued', at: now },
          { status: 'ringing', at: now },
        ],
      },
    });
    if (!route) {
      this.deps.metrics.inboundUnknown.inc({ provider_kind: provider.kind });
      return null;
    }
    this.deps.metrics.screenPop.observe({ provider_kind: provider.kind }, (performance.now() - started) / 1000);
    if (this.deps.matcher) void this.matchLater(orgId, route.call);
    // the user came back with the call (no extra read): its ring timeout rides on the route
    return { ...route, ringTimeoutSec: ringTimeoutOf(route.user) };
  }

  /**
   * A recording or voicemail a provider reports: stored with the gateway's own link once it is
   * available (call.recording goes out), and sent to the CRM as an update when the call is logged.
   */
  private async onMedia(provider: Provider, ev: MediaEvent): Promise<Call | null> {
    const orgId = provider.orgId;
    const callId = ev.callId ?? (ev.providerCallId ? await this.deps.calls.callIdByProviderCallId(orgId, provider.id, ev.providerCallId) : null);
    if (!callId || !this.deps.updates) return null;
    const state: MediaState = { status: ev.status };
    if (ev.durationSec !== undefined) state.durationSec = ev.durationSec;
    if (ev.status === 'available' && this.deps.mediaLink) state.url = this.deps.mediaLink(orgId, callId, ev.kind);
    const set: Record<string, unknown> = { [ev.kind]: state };
    if (ev.ref) set[`${ev.kind}Ref`] = ev.ref;
    const r = await this.deps.updates.apply(orgId, callId, set, { event: 'call.recording' });
    return r.kind === 'ok' ? r.call : null;
  }

  /**
   * The screen pop of a click without a CRM record: the customer's number searched like an
   * inbound caller's (only when the org's CRM can search), so the log is linked the same way.
   */
  searchLater(orgId: string, call: Call): void {
    if (this.deps.matcher && !call.crmRecord && !call.trial) void this.matchLater(orgId, call, true);
  }

  private async matchLater(orgId: string, call: Call, onlyIfSearched = false): Promise<void> {
    let found: CallerMatch | null = null;
    try {
      let timer: NodeJS.Timeout | undefined;
      found = await Promise.race([
        this.deps.matcher!(orgId, call),
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), MATCH_TIMEOUT_MS);
          timer.unref();
        }),
      ]).finally(() => clearTimeout(timer));
    } catch (e) {
      this.deps.logger.warn({ callId: call.id, err: (e as Error).message }, 'caller match failed');
    }
    if (!found && onlyIfSearched) return;
    // one match links the pop and the log; several are no guess: the agent picks (PATCH crmRecord)
    const several = (found?.candidates.length ?? 0) > 1;
    const extra = several ? { match: null, candidates: found!.candidates } : { match: found?.match ?? null };
    let shown = call;
    if (this.deps.updates && (found?.match || several)) {
      try {
        const r = await this.deps.updates.apply(orgId, call.id, several ? { match: null, candidates: found!.candidates } : { match: found!.match });
        if (r.kind === 'ok') shown = r.call;
      } catch (e) {
        this.deps.logger.warn({ callId: call.id, err: (e as Error).message }, 'storing the caller match failed');
      }
    }
    this.deps.events.publish(orgId, 'call.matched', call.userId, callEventJson('call.matched', toPublicCall(shown), extra));
  }
}
