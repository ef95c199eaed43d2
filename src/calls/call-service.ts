// The routing core for calls: click-to-call dispatch through the user's provider, the one state
// machine fed by every provider's events, inbound routing with screen pops, and the hand-off of
// finished calls to the call-log pipeline. Providers are reached only through ProviderRuntime.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';
import type { LimitResult } from '../domain/limits.js';
import { parsePhone, toE164 } from '../domain/phone.js';
import type { Call, CallStatus, CrmRecordRef, Page, Provider, User } from '../domain/types.js';
import { newId } from '../directory/directory-service.js';
import { toPublicCall, type EventBus, type PublicCall } from '../events/event-bus.js';
import type { Metrics } from '../metrics/metrics.js';
import { ProviderError, type CallEventSink, type InboundEvent, type InboundRoute, type StatusEvent } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { Store, TransitionInput, TransitionResult } from '../store/store.js';
import type { PolicyService } from '../policy/policy-service.js';
import { isEmergencyNumber } from '../policy/emergency.js';
import type { Router } from '../routing/router.js';
import { isTerminal } from './state-machine.js';

/** Where finished calls go to be logged in the CRM (src/jobs). */
export interface CallLogSink {
  enqueue(orgId: string, callId: string): Promise<void>;
}

/** Finds the caller's CRM record for a screen pop (src/jobs), time-boxed by the caller. */
export type CallerMatcher = (orgId: string, call: Call) => Promise<unknown | null>;

export interface ClickToCallInput {
  userId: string;
  to: string;
  crmRecord?: CrmRecordRef;
}

export interface HttpOutcome {
  statusCode: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Watches calls for the live per-provider figures (src/perf). */
export interface CallObserver {
  /** one provider API dial request finished (errorCode set when it failed) */
  dialed(call: Call, provider: Provider, apiSeconds: number, errorCode?: string): void;
  /** a status change was applied to a call */
  transitioned(call: Call, status: CallStatus): void;
}

export interface CallServiceDeps {
  store: Store;
  router: Router;
  policy: PolicyService;
  observer?: CallObserver;
  /** a provider's calls-per-second budget, when it has one (dials beyond it queue briefly) */
  providerCallsPerSecond?: (provider: Provider) => Promise<number | undefined>;
  providers: ProviderRuntime;
  events: EventBus;
  metrics: Metrics;
  logger: Logger;
  callLog?: CallLogSink;
  matcher?: CallerMatcher;
  /** how long a concurrent duplicate (same Idempotency-Key) waits for the first response */
  idempotencyWaitMs?: number;
}

const IDEMPOTENCY_TTL_SEC = 24 * 3600;
const MATCH_TIMEOUT_MS = 2000;

function fingerprint(input: ClickToCallInput): string {
  // canonical: fixed key order, so the same body in another order is the same request
  const canon = JSON.stringify([input.userId, input.to, input.crmRecord?.module ?? null, input.crmRecord?.id ?? null]);
  return createHash('sha256').update(canon).digest('hex');
}

/**
 * A provider's event time, moved up to the call's last transition when it falls before it: provider
 * clocks differ from ours and some (Twilio's Timestamp) have whole seconds only, so a "ringing" can
 * claim to precede our own "dialing". History must never run backwards. Unparseable times: now.
 */
export function notBefore(at: string, call: Pick<Call, 'history'>): string {
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return new Date().toISOString();
  const last = call.history[call.history.length - 1]?.at;
  return last && Date.parse(last) > t ? last : at;
}

function errorBody(e: DomainError): Record<string, unknown> {
  return { error: { code: e.code, message: e.message, ...(e.details ?? {}) } };
}

export class CallService {
  private readonly idemWaitMs: number;

  constructor(private readonly deps: CallServiceDeps) {
    this.idemWaitMs = deps.idempotencyWaitMs ?? 10_000;
  }

  /** Wired after construction by the composition root (the queue needs the gateway's parts). */
  attach(parts: { callLog?: CallLogSink; matcher?: CallerMatcher; observer?: CallObserver }): void {
    if (parts.callLog) this.deps.callLog = parts.callLog;
    if (parts.matcher) this.deps.matcher = parts.matcher;
    if (parts.observer) this.deps.observer = parts.observer;
  }

  // ---- click-to-call -----------------------------------------------------------------------

  /**
   * POST /v1/calls. With an Idempotency-Key the first response (success or refusal) is stored
   * and replayed; a concurrent duplicate waits for it rather than dialling again.
   */
  async clickToCall(orgId: string, input: ClickToCallInput, idempotencyKey?: string, actor = 'api'): Promise<HttpOutcome> {
    if (!idempotencyKey) return this.dispatchOutcome(orgId, input, actor);
    const { store } = this.deps;
    const fp = fingerprint(input);
    const deadline = Date.now() + this.idemWaitMs;
    let delay = 5;
    for (;;) {
      const existing = await store.claimIdempotency(orgId, idempotencyKey, fp, IDEMPOTENCY_TTL_SEC);
      if (!existing) break; // ours: dispatch below
      if (existing.fingerprint !== fp) {
        throw new DomainError('idempotency_mismatch', 'this Idempotency-Key was already used with a different request body');
      }
      if (existing.response) return { ...existing.response, headers: { 'idempotent-replayed': 'true' } };
      // the first request is still in flight: wait for its response rather than dial again
      if (Date.now() > deadline) {
        throw new DomainError('idempotency_in_progress', 'a request with this Idempotency-Key is still in progress; retry later');
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 100);
    }
    let outcome: HttpOutcome;
    try {
      outcome = await this.dispatchOutcome(orgId, input, actor);
    } catch (e) {
      // nothing was recorded: let a retry try again
      await store.releaseIdempotency(orgId, idempotencyKey).catch(() => {});
      throw e;
    }
    // Refusals a retry could turn into a success (provider down, rate limits) are not pinned to
    // the key; everything else, including a dialled call, is.
    if (outcome.statusCode === 503 || outcome.statusCode === 429) {
      await store.releaseIdempotency(orgId, idempotencyKey);
    } else {
      await store.completeIdempotency(
        orgId,
        idempotencyKey,
        { fingerprint: fp, response: { statusCode: outcome.statusCode, body: outcome.body } },
        IDEMPOTENCY_TTL_SEC,
      );
    }
    return outcome;
  }

  private async dispatchOutcome(orgId: string, input: ClickToCallInput, actor: string): Promise<HttpOutcome> {
    try {
      const call = await this.dispatch(orgId, input, actor);
      return { statusCode: 201, body: toPublicCall(call) };
    } catch (e) {
      if (e instanceof DomainError && e.status < 500) {
        return { statusCode: e.status, body: errorBody(e), headers: e.retryAfter ? { 'retry-after': String(e.retryAfter) } : undefined };
      }
      if (e instanceof DomainError && (e.status === 503 || e.status === 502)) {
        return {
          statusCode: e.status,
          body: errorBody(e),
          headers: e.retryAfter ? { 'retry-after': String(e.retryAfter) } : undefined,
        };
      }
      throw e;
    }
  }

  private async dispatch(orgId: string, input: ClickToCallInput, actor: string): Promise<Call> {
    const started = performance.now();
    const { store, policy, router } = this.deps;
    const user = await store.getUser(orgId, input.userId);
    if (!user) throw new DomainError('user_not_found', `user ${input.userId} not found`);
    if (!user.providerId) throw new DomainError('no_provider', `user ${input.userId} is not assigned to any provider`);
    if (isEmergencyNumber(input.to, user.region)) {
      await policy.enforce({ orgId, raw: input.to, number: undefined, user, provider: null, actor, path: 'click-to-call' });
    }
    const num = parsePhone(input.to, user.region);
    if (!num) throw new DomainError('invalid_number', `"${input.to}" is not a valid phone number for region ${user.region}`);
    // A peek: it claims nothing, so a policy refusal below cannot use up a half-open breaker's
    // single trial dial, which would leave the provider "failing" with nothing to test it (a
    // refusal by the limits, checked after the real plan, gives the trial back).
    let plan = await router.plan(orgId, user, true);
    if (!plan.assigned) throw new DomainError('no_provider', `user ${input.userId} is not assigned to any provider`);
    // the org's (and the user's) policy first, so a refused destination is refused even when
    // every provider is down; each provider's own narrowing is checked before it is tried
    const checked = plan.chain[0] ?? plan.assigned;
    await policy.enforce({ orgId, raw: input.to, number: num, user, provider: checked, actor, path: 'click-to-call' });
    if (plan.chain.length === 0) throw this.unavailable(plan.assigned, plan.retryAfter);
    const callId = newId('call');
    const admission = await policy.admission(orgId, user.id, num.number, callId);
    const { breakers } = this.deps.providers;
    let claimedTrial = false;
    if (breakers.state(plan.assigned.id) === 'half-open') {
      // the call goes now: plan for real, claiming the trial (another call may have it already)
      plan = await router.plan(orgId, user);
      if (!plan.assigned || plan.chain.length === 0) throw this.unavailable(plan.assigned ?? checked, plan.retryAfter);
      claimedTrial = plan.chain[0].id === plan.assigned.id;
    }
    const assigned = plan.assigned;

    const now = new Date().toISOString();
    const first = plan.chain[0];
    const call: Call = {
      id: callId,
      orgId,
      userId: user.id,
      providerId: first.id,
      providerKind: first.kind,
      direction: 'outbound',
      to: num.number,
      status: 'queued',
      createdAt: now,
      updatedAt: now,
      history: [{ status: 'queued', at: now }],
      ...(input.crmRecord ? { crmRecord: input.crmRecord } : {}),
      // the assigned provider skipped (breaker open) is a failover too
      ...(first.id !== assigned.id ? { failedOverFrom: assigned.id } : {}),
    };
    // the limits are taken as the call is created, in one atomic step: a refusal leaves no call
    // and no slot, and one round trip does both
    let admitted: LimitResult;
    try {
      admitted = await store.createCall(call, admission);
    } catch (e) {
      if (claimedTrial) breakers.releaseTrial(assigned.id);
      // the script may have run before the connection failed: free the slot it may hold
      await policy.releaseLive(orgId, user.id, callId).catch(() => {});
      throw e;
    }
    if (!admitted.ok) {
      // no dial goes out: the half-open trial is for the next call that does
      if (claimedTrial) breakers.releaseTrial(assigned.id);
      throw policy.refusal(admitted, user.id);
    }
    if (first.id !== assigned.id) this.deps.metrics.failovers.inc({ provider_kind: assigned.kind });
    this.publish('call.created', call);

    let lastError: DomainError | undefined;
    let refused: DomainError | undefined;
    for (let i = 0; i < plan.chain.length; i++) {
      const provider = plan.chain[i];
      // every provider but the one checked above: its own narrowing, before it is asked
      if (provider.id !== checked.id) {
        try {
          await policy.enforce({ orgId, raw: input.to, number: num, user, provider, actor, path: 'failover' });
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          refused ??= e;
          continue;
        }
      }
      if (i > 0) {
        // failover: only ever before the agent's leg exists (dial refused synchronously), so
        // the agent is never rung twice
        this.deps.metrics.failovers.inc({ provider_kind: call.providerKind });
        call.failedOverFrom ??= call.providerId;
        call.providerId = provider.id;
        call.providerKind = provider.kind;
        await store.reassignCall(orgId, call.id, { providerId: provider.id, providerKind: provider.kind, failedOverFrom: call.failedOverFrom });
      }
      try {
        return await this.dialOnce(call, provider, user, num.number, started);
      } catch (e) {
        lastError = e instanceof DomainError ? e : this.providerFailure(provider, e);
        const failoverable = e instanceof ProviderError && e.notAccepted && e.code !== 'invalid_number';
        if (!plan.failover || !failoverable || i === plan.chain.length - 1) break;
      }
    }
    await this.applyStatus(orgId, call.id, { status: 'failed', at: new Date().toISOString(), cause: lastError?.code ?? 'provider_error' });
    throw lastError ?? refused ?? new DomainError('provider_error', 'no provider could place the call');
  }

  private unavailable(provider: Provider, retryAfter: number | undefined): DomainError {
    this.deps.metrics.callsDispatched.inc({ provider_kind: provider.kind, result: 'provider_unavailable' });
    const wait = retryAfter ?? 5;
    return new DomainError('provider_unavailable', `provider ${provider.id} is failing; retry in ${wait} s`, { providerId: provider.id }, wait);
  }

  /** One dial attempt through one provider; throws the provider's error untouched. */
  private async dialOnce(call: Call, provider: Provider, user: User | null, to: string, started: number, hangUpAfterMs?: number): Promise<Call> {
    const { providers, metrics, policy } = this.deps;
    const cps = await this.deps.providerCallsPerSecond?.(provider);
    if (!(await policy.providerSlot(provider, cps))) {
      throw new ProviderError('provider_unavailable', `provider ${provider.id} is at its calls-per-second limit`, 1);
    }
    const adapter = providers.adapter(provider);
    const apiStart = performance.now();
    let res: Awaited<ReturnType<typeof adapter.dial>>;
    try {
      res = await adapter.dial({ call, user, to, idempotencyToken: call.id, hangUpAfterMs });
    } catch (e) {
      const err = this.providerFailure(provider, e);
      // trials probe one test number: their outcome is evidence for the report, not a verdict
      // on the provider that should open (or close) the breaker live click-to-calls rely on
      if (!call.trial && (err.code === 'provider_unavailable' || err.code === 'provider_error')) providers.breakers.failure(provider.id);
      metrics.callsDispatched.inc({ provider_kind: provider.kind, result: err.code });
      this.deps.observer?.dialed(call, provider, (performance.now() - apiStart) / 1000, err.code);
      throw e;
    }
    const apiSeconds = (performance.now() - apiStart) / 1000;
    if (!call.trial) providers.breakers.success(provider.id);
    metrics.callsDispatched.inc({ provider_kind: provider.kind, result: 'ok' });
    this.deps.observer?.dialed(call, provider, apiSeconds);
    // The provider took the call; a store failure from here on is ours, not the provider's (it
    // must not open the provider's breaker). The status and the provider-call link are one
    // atomic store step, so no webhook can find the call linked but not yet dialing.
    const tr = await this.applyStatus(call.orgId, call.id, {
      status: res.status ?? 'dialing',
      at: new Date().toISOString(),
      providerCallId: res.providerCallId,
      linkProviderId: provider.id,
    });
    metrics.dispatchOverhead.observe({ provider_kind: provider.kind }, (performance.now() - started) / 1000 - apiSeconds);
    const latest = tr?.call ?? { ...call, providerCallId: res.providerCallId };
    if (res.from && !latest.from) latest.from = res.from;
    return latest;
  }

  /**
   * A trial call: straight to the destination through one provider, no agent, hung up after
   * hangUpAfterMs. The dial policy applies as for any outbound call; the click rate limits do
   * not (a trial's size and pace are bounded by its spec, and the per-destination limit would cut
   * every trial short). Returns the call (failed calls included: a trial records failures, it
   * does not throw for them).
   */
  async placeTrialCall(orgId: string, provider: Provider, rawTo: string, opts: { trialId: string; hangUpAfterMs: number; actor: string }): Promise<Call> {
    const { store, policy } = this.deps;
    const num = parsePhone(rawTo);
    if (isEmergencyNumber(rawTo)) await policy.enforce({ orgId, raw: rawTo, number: num, user: null, provider, actor: opts.actor, path: 'trial' });
    // a malformed number is the caller's mistake, not a refused destination (no 403, no audit)
    if (!num) throw new DomainError('invalid_number', `"${rawTo}" is not a valid E.164 number`);
    await policy.enforce({ orgId, raw: rawTo, number: num, user: null, provider, actor: opts.actor, path: 'trial' });
    const now = new Date().toISOString();
    const call: Call = {
      id: newId('call'),
      orgId,
      userId: '',
      providerId: provider.id,
      providerKind: provider.kind,
      direction: 'outbound',
      to: num.number,
      status: 'queued',
      createdAt: now,
      updatedAt: now,
      history: [{ status: 'queued', at: now }],
      trial: true,
      trialId: opts.trialId,
    };
    await store.createCall(call);
    try {
      return await this.dialOnce(call, provider, null, num.number, performance.now(), opts.hangUpAfterMs);
    } catch (e) {
      const err = e instanceof DomainError ? e : this.providerFailure(provider, e);
      const tr = await this.applyStatus(orgId, call.id, { status: 'failed', at: new Date().toISOString(), cause: err.code });
      return tr?.call ?? call;
    }
  }

  private providerFailure(provider: Provider, e: unknown): DomainError {
    if (e instanceof DomainError) return e;
    if (e instanceof ProviderError) {
      const code = e.code === 'rate_limited' ? 'provider_unavailable' : e.code;
      const retry = e.retryAfter ?? (code === 'provider_unavailable' ? 5 : undefined);
      return new DomainError(code, `${provider.kind} provider ${provider.id}: ${e.message}`, { providerId: provider.id }, retry);
    }
    this.deps.logger.error({ providerId: provider.id, err: (e as Error)?.message }, 'provider dial failed unexpectedly');
    return new DomainError('provider_error', `${provider.kind} provider ${provider.id} failed to place the call`, { providerId: provider.id });
  }

  // ---- reads and hang-up -------------------------------------------------------------------

  async get(orgId: string, callId: string): Promise<PublicCall> {
    const call = await this.deps.store.getCall(orgId, callId);
    if (!call) throw new DomainError('call_not_found', `call ${callId} not found`);
    return toPublicCall(call);
  }

  async list(orgId: string, q: { userId?: string; status?: CallStatus; limit: number; cursor?: string }): Promise<Page<PublicCall>> {
    const page = await this.deps.store.listCalls(orgId, q);
    return { items: page.items.map(toPublicCall), nextCursor: page.nextCursor };
  }

  async hangUp(orgId: string, callId: string): Promise<void> {
    const { store, providers } = this.deps;
    const call = await store.getCall(orgId, callId);
    if (!call) throw new DomainError('call_not_found', `call ${callId} not found`);
    if (isTerminal(call.status)) throw new DomainError('call_not_active', `call ${callId} has already ended (${call.status})`);
    const provider = await store.getProvider(orgId, call.providerId);
    if (!provider || !call.providerCallId) {
      // never reached a provider: nothing to hang up there
      await this.applyStatus(orgId, callId, { status: 'canceled', at: new Date().toISOString(), cause: 'canceled_by_api' });
      return;
    }
    try {
      await providers.adapter(provider).hangUp(call);
    } catch (e) {
      throw this.providerFailure(provider, e);
    }
  }

  // ---- events from providers ---------------------------------------------------------------

  /**
   * Applies one status change and does what follows from it: the event to agents, setup-time
   * metrics, and — exactly once per call — the call-log job. The job is enqueued before this
   * resolves, so a webhook acknowledged after it is never lost.
   */
  async applyStatus(
    orgId: string,
    callId: string,
    ev: TransitionInput,
  ): Promise<TransitionResult | null> {
    const tr = await this.deps.store.transition(orgId, callId, ev);
    if (!tr) return null;
    if (tr.applied) {
      this.publish('call.status', tr.call);
      this.observeSetup(tr.call, ev.status);
      this.deps.observer?.transitioned(tr.call, ev.status);
    }
    if (tr.becameTerminal) {
      this.deps.metrics.calls.inc({ provider_kind: tr.call.providerKind, direction: tr.call.direction, outcome: tr.call.status });
      if (tr.call.direction === 'outbound' && tr.call.userId) {
        await this.deps.policy.releaseLive(orgId, tr.call.userId, callId).catch((e: Error) =>
          this.deps.logger.warn({ callId, err: e.message }, 'could not free the live-call slot'),
        );
      }
    }
    // a terminal call always has its job: re-adding on a duplicate terminal event is a no-op for
    // the queue (job id = call id) and repairs a crash between the transition and the enqueue
    if (isTerminal(tr.call.status) && this.deps.callLog && !tr.call.trial) {
      await this.deps.callLog.enqueue(orgId, callId);
    }
    return tr;
  }

  private observeSetup(call: Call, status: CallStatus): void {
    if (call.direction !== 'outbound' || (status !== 'ringing' && status !== 'answered')) return;
    const dialedAt = call.history.find((h) => h.status === 'dialing')?.at ?? call.createdAt;
    const at = call.history[call.history.length - 1]?.at;
    if (!at) return;
    const secs = (Date.parse(at) - Date.parse(dialedAt)) / 1000;
    if (secs >= 0) this.deps.metrics.callSetup.observe({ provider_kind: call.providerKind, stage: status }, secs);
  }

  publish(type: 'call.created' | 'call.status' | 'call.incoming' | 'call.matched', call: Call, match?: unknown): void {
    this.deps.events.publish({ type, orgId: call.orgId, call: toPublicCall(call), ...(match !== undefined ? { match } : {}) });
  }

  /** The sink one provider's adapter reports into. */
  sinkFor(provider: Provider): CallEventSink {
    const orgId = provider.orgId;
    return {
      status: (ev) => this.onStatus(provider, ev),
      inbound: (ev) => this.onInbound(provider, ev),
      findCall: (pcid) => this.deps.store.findCallByProviderCallId(orgId, provider.id, pcid),
      getCall: async (callId) => {
        const c = await this.deps.store.getCall(orgId, callId);
        return c && c.providerId === provider.id ? c : null;
      },
      getUser: (userId) => this.deps.store.getUser(orgId, userId),
    };
  }

  private async onStatus(provider: Provider, ev: StatusEvent): Promise<Call | null> {
    const orgId = provider.orgId;
    let found: Call | null = null;
    if (ev.callId) {
      const c = await this.deps.store.getCall(orgId, ev.callId);
      if (c && c.providerId === provider.id) found = c;
    }
    // a callback may race the dial response that links the provider's id: look a few times
    for (let i = 0; i < 4 && !found; i++) {
      found = await this.deps.store.findCallByProviderCallId(orgId, provider.id, ev.providerCallId);
      if (!found) await new Promise((r) => setTimeout(r, 25 * (i + 1)));
    }
    if (!found) {
      this.deps.logger.warn({ providerId: provider.id, status: ev.status }, 'status event for an unknown provider call');
      return null;
    }
    const tr = await this.applyStatus(orgId, found.id, {
      status: ev.status,
      at: notBefore(ev.at, found),
      cause: ev.cause,
      providerCallId: ev.providerCallId,
      durationSec: ev.durationSec,
    });
    return tr?.call ?? null;
  }

  private async onInbound(provider: Provider, ev: InboundEvent): Promise<InboundRoute | null> {
    const started = performance.now();
    const orgId = provider.orgId;
    const did = toE164(ev.to) ?? ev.to;
    const user = await this.deps.store.findUserByNumber(orgId, did);
    if (!user || user.providerId !== provider.id) {
      this.deps.metrics.inboundUnknown.inc({ provider_kind: provider.kind });
      return null;
    }
    const now = new Date().toISOString();
    const call: Call = {
      id: newId('call'),
      orgId,
      userId: user.id,
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
    };
    await this.deps.store.createCall(call); // also links the provider's call id
    this.publish('call.incoming', call);
    this.deps.metrics.screenPop.observe({ provider_kind: provider.kind }, (performance.now() - started) / 1000);
    if (this.deps.matcher) void this.matchLater(orgId, call);
    return { call, user };
  }

  private async matchLater(orgId: string, call: Call): Promise<void> {
    try {
      let timer: NodeJS.Timeout | undefined;
      const match = await Promise.race([
        this.deps.matcher!(orgId, call),
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), MATCH_TIMEOUT_MS);
          timer.unref();
        }),
      ]).finally(() => clearTimeout(timer));
      this.publish('call.matched', call, match ?? null);
    } catch (e) {
      this.deps.logger.warn({ callId: call.id, err: (e as Error).message }, 'caller match failed');
      this.publish('call.matched', call, null);
    }
  }

  /** For internal use (trials, sim): the user of a call. */
  async userOf(orgId: string, userId: string): Promise<User | null> {
    return this.deps.store.getUser(orgId, userId);
  }
}
