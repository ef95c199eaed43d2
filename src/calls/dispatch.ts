// Outbound calls: click-to-call (with its Idempotency-Key), failover and trial calls (hang-ups:
// ./reconciler.ts).
//
// A click is decided in this process on snapshots (src/directory/org-config.ts: the org's
// providers and policies, the user and their assignment) and committed by one backend round trip
// that verifies those snapshots and does everything that must hold with the call: the
// idempotency claim, the provider's health, the limits, the call and its event. Then the
// provider dials, and one more round trip records its answer. Outcomes are domain values and
// DomainErrors; the route maps them to HTTP.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { OrgConfigCache, OrgSnapshot, UserCache } from '../directory/org-config.js';
import { DomainError } from '../domain/errors.js';
import { parsePhone } from '../domain/phone.js';
import { newId } from '../domain/random.js';
import { isTerminal } from '../domain/state-machine.js';
import type { Call, CrmRecordRef, Provider, User } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import { isEmergencyNumber } from '../policy/emergency.js';
import type { PolicyService } from '../policy/policy-service.js';
import { ProviderError } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import { notAssigned, type RoutePlan, type Router } from '../routing/router.js';
import { CALLER_ID_STICKY_MS, callerIdFor } from '../routing/caller-id.js';
import type { CallStore, ClickResult, PinnedError } from '../store/calls/port.js';
import type { DirectoryStore, VersionedUser } from '../store/directory/port.js';
import type { HealthStore } from '../store/health/port.js';
import { breakerPolicyOf } from '../providers/breaker.js';
import type { CallEvents } from './call-events.js';

export interface ClickToCallInput {
  userId: string;
  to: string;
  crmRecord?: CrmRecordRef;
}

export interface ClickOutcome {
  call: Call;
  /** the answer to an earlier request with the same Idempotency-Key */
  replayed: boolean;
}

export interface DispatchDeps {
  calls: CallStore;
  directory: DirectoryStore;
  health: HealthStore;
  configs: OrgConfigCache;
  users: UserCache;
  policy: PolicyService;
  router: Router;
  providers: ProviderRuntime;
  events: CallEvents;
  metrics: Metrics;
  logger: Logger;
  /** how long a concurrent duplicate (same Idempotency-Key) waits for the first one's outcome */
  idempotencyWaitMs?: number;
}

const IDEMPOTENCY_TTL_SEC = 24 * 3600;
/** snapshots that keep moving under a click (an admin script rewriting config): give up after this many */
const MAX_STALE_ROUNDS = 5;

/** canonical: fixed key order, so the same body in another order is the same request */
function fingerprint(input: ClickToCallInput): string {
  return createHash('sha256')
    .update(JSON.stringify([input.userId, input.to, input.crmRecord?.module ?? null, input.crmRecord?.id ?? null]))
    .digest('hex');
}

/** Runs fn again (up to ~3 s) while it fails because the backend cannot be reached. */
async function retryWhileUnavailable<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 5 || e instanceof DomainError || e instanceof ProviderError) throw e;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
}

/** A new outbound call, queued on a provider. */
function queuedCall(orgId: string, userId: string, provider: Provider, to: string, extra: Partial<Call>): Call {
  const now = new Date().toISOString();
  return {
    id: newId('call'),
    orgId,
    userId,
    providerId: provider.id,
    providerKind: provider.kind,
    direction: 'outbound',
    to,
    status: 'queued',
    createdAt: now,
    updatedAt: now,
    history: [{ status: 'queued', at: now }],
    ...extra,
  };
}

interface Decided {
  e164: string;
  plan: RoutePlan;
  /** the plan's providers whose own dial policy lets this call through: the backend picks among them */
  allowed: Provider[];
  call: Call;
}

export class Dispatcher {
  private readonly idemWaitMs: number;

  constructor(private readonly deps: DispatchDeps) {
    this.idemWaitMs = deps.idempotencyWaitMs ?? 10_000;
  }

  // ---- click-to-call -----------------------------------------------------------------------

  /**
   * POST /v1/calls. With an Idempotency-Key, the call a first request created is the answer to
   * every repeat (a concurrent repeat waits for the first one's outcome rather than dialling
   * again); a refusal pinned to the key is repeated as well.
   */
  async clickToCall(orgId: string, input: ClickToCallInput, idempotencyKey?: string, actor = 'api'): Promise<ClickOutcome> {
    const started = performance.now();
    const { configs, users, calls } = this.deps;
    const fp = idempotencyKey ? fingerprint(input) : '';
    const deadline = Date.now() + this.idemWaitMs;
    let snap = await configs.forClick(orgId);
    let vu = users.get(orgId, input.userId) ?? (await this.loadUser(orgId, input.userId));
    for (let round = 0; ; round++) {
      let d: Decided;
      try {
        d = await this.decide(snap, vu.user, input, actor, false);
      } catch (e) {
        // a refusal is not verified by any script: make sure it is not a stale snapshot's
        if (!(e instanceof DomainError)) throw e;
        [snap, vu] = await Promise.all([configs.load(orgId), this.loadUser(orgId, input.userId)]);
        d = await this.decide(snap, vu.user, input, actor, true);
      }
      const res: ClickResult = await calls.click({
        call: d.call,
        expect: { orgVersion: snap.version, userVersion: vu.version, providerId: vu.user.providerId },
        chain: d.allowed.map((p) => ({ id: p.id, kind: p.kind })),
        admission: this.deps.policy.admission(snap, vu.user.id, d.e164, d.call.id),
        callerIds: d.allowed.map((p) => callerIdFor(snap, p, d.e164)),
        stickyMs: CALLER_ID_STICKY_MS,
        ...(idempotencyKey ? { idempotency: { key: idempotencyKey, fingerprint: fp, ttlSec: IDEMPOTENCY_TTL_SEC } } : {}),
      });
      switch (res.kind) {
        case 'created': {
          if (res.call.failedOverFrom) this.deps.metrics.failovers.inc({ provider_kind: d.plan.assigned?.kind ?? 'unknown' });
          const call = await this.dial(snap, vu.user, d, res, idempotencyKey, started, actor);
          // a click without a CRM record: the customer's number is searched like a caller's (issue 16)
          this.deps.events.searchLater(orgId, call);
          return { call, replayed: false };
        }
        case 'stale':
          if (round >= MAX_STALE_ROUNDS) throw new DomainError('store_unavailable', 'the configuration kept changing under this call; retry', undefined, 1);
          if (res.orgVersion !== snap.version) snap = await configs.load(orgId);
          if (!res.user) {
            users.delete(orgId, input.userId);
            throw new DomainError('user_not_found', `user ${input.userId} not found`);
          }
          vu = res.user;
          users.set(orgId, vu);
          continue;
        case 'replay': {
          if (res.record.fingerprint !== fp) {
            throw new DomainError('idempotency_mismatch', 'this Idempotency-Key was already used with a different request body');
          }
          const out = await this.awaitFirst(orgId, idempotencyKey!, res.record.error, res.call, deadline);
          if (out) return out;
          continue; // the first request gave the key back (its provider was down): try again
        }
        case 'dnc':
          throw await this.deps.policy.refuseDnc(orgId, input.userId, d.e164, actor);
        case 'limited':
          throw this.deps.policy.refusal({ ok: false, limit: res.limit, retryAfterMs: res.retryAfterMs }, input.userId);
        case 'unavailable': {
          const provider = snap.provider(res.providerId);
          this.deps.metrics.callsDispatched.inc({ provider_kind: provider?.kind ?? 'unknown', provider_id: res.providerId, result: 'provider_unavailable' });
          const wait = Math.max(1, Math.ceil(res.retryAfterMs / 1000));
          throw new DomainError('provider_unavailable', `provider ${res.providerId} is failing; retry in ${wait} s`, { providerId: res.providerId }, wait);
        }
      }
    }
  }

  private async loadUser(orgId: string, userId: string): Promise<VersionedUser> {
    const vu = await this.deps.directory.getUserVersioned(orgId, userId);
    if (!vu) {
      this.deps.users.delete(orgId, userId);
      throw new DomainError('user_not_found', `user ${userId} not found`);
    }
    this.deps.users.set(orgId, vu);
    return vu;
  }

  /** Everything a click needs decided before it goes to the backend; throws its refusals. */
  private async decide(snap: OrgSnapshot, user: User, input: ClickToCallInput, actor: string, audit: boolean): Promise<Decided> {
    const { policy, router } = this.deps;
    const assigned = snap.provider(user.providerId);
    if (!assigned) throw notAssigned(user.id);
    const raw = input.to;
    const enforce = (number: ReturnType<typeof parsePhone>, provider: Provider | null) => {
      const ctx = { snapshot: snap, raw, number, user, provider };
      // the first pass only decides; refusals are counted and audited once, on the fresh snapshot
      if (!audit) {
        const d = policy.decide(ctx);
        if (!d.allowed) throw new DomainError('destination_not_allowed', d.rule);
        return Promise.resolve();
      }
      return policy.enforce({ ...ctx, actor, path: 'click-to-call' });
    };
    if (isEmergencyNumber(raw, user.region)) await enforce(undefined, null);
    const num = parsePhone(raw, user.region);
    if (!num) throw new DomainError('invalid_number', `"${raw}" is not a valid phone number for region ${user.region}`);
    await enforce(num, assigned);
    const plan = router.plan(snap, user);
    const allowed = plan.chain.filter((p) => p === assigned || policy.decide({ snapshot: snap, raw, number: num, user, provider: p }).allowed);
    // on the assigned provider until the backend sets the one it picks
    const call = queuedCall(snap.orgId, user.id, assigned, num.number, input.crmRecord ? { crmRecord: input.crmRecord } : {});
    return { e164: num.number, plan, allowed, call };
  }

  /** A repeated Idempotency-Key: the first request's outcome once it has one; null if it gave the key back. */
  private async awaitFirst(orgId: string, key: string, error: PinnedError | undefined, call: Call | null, deadline: number): Promise<ClickOutcome | null> {
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if (error) throw new DomainError(error.code as DomainError['code'], error.message, error.details);
      if (call && call.status !== 'queued') return { call, replayed: true };
      if (Date.now() > deadline) {
        throw new DomainError('idempotency_in_progress', 'a request with this Idempotency-Key is still in progress; retry later');
      }
      await new Promise((r) => setTimeout(r, delay));
      const cur = await this.deps.calls.idempotency(orgId, key);
      if (!cur) return null;
      error = cur.record.error;
      call = cur.call;
    }
  }

  /** Dials the call through the provider the backend picked, failing over while allowed. */
  private async dial(snap: OrgSnapshot, user: User, d: Decided, res: Extract<ClickResult, { kind: 'created' }>, idempotencyKey: string | undefined, started: number, actor: string): Promise<Call> {
    const { calls, health, metrics, policy } = this.deps;
    const orgId = snap.orgId;
    let call = res.call;
    let i = d.plan.chain.indexOf(d.allowed[res.picked]);
    let claim = { trial: res.trial, failures: res.breakerFailures };
    let lastError: DomainError | undefined;
    for (;;) {
      const provider = d.plan.chain[i];
      try {
        return await this.dialOnce(snap, call, provider, user, d.e164, started, claim);
      } catch (e) {
        // the backend failing after the provider took the call is not the provider's failure
        if (!(e instanceof ProviderError) && !(e instanceof DomainError)) throw e;
        lastError = this.providerFailure(provider, e);
        const failoverable = e instanceof ProviderError && e.notAccepted && e.code !== 'invalid_number';
        if (!d.plan.failover || !failoverable) break;
        // failover: only ever before the agent's leg exists (dial refused synchronously), so the
        // agent is never rung twice; the next candidate whose own dial policy allows the call (a
        // refusal is audited and counted) and whose breaker lets a dial through
        let next = -1;
        for (let j = i + 1; j < d.plan.chain.length && next < 0; j++) {
          const candidate = d.plan.chain[j];
          const refused = await policy
            .enforce({ snapshot: snap, raw: d.call.to, number: parsePhone(d.call.to), user, provider: candidate, actor, path: 'failover' })
            .then(
              () => false,
              () => true,
            );
          if (refused) continue;
          const c = await health.claim(orgId, candidate.id);
          if (c.ok) {
            next = j;
            claim = { trial: c.trial, failures: c.view.failures };
          }
        }
        if (next < 0) break;
        const to = d.plan.chain[next];
        const from = call.failedOverFrom ?? call.providerId;
        // the customer sees the number of the provider that dials: its own pool's (sticky) choice
        const cid = callerIdFor(snap, to, d.e164);
        const moved = await calls.reassign(orgId, call.id, { providerId: to.id, providerKind: to.kind, failedOverFrom: from, callerId: { callerId: cid.callerId, pool: cid.pool, to: d.e164, stickyMs: CALLER_ID_STICKY_MS } });
        if (!moved) break;
        metrics.failovers.inc({ provider_kind: call.providerKind });
        const { callerId: _first, ...rest } = call;
        call = { ...rest, providerId: to.id, providerKind: to.kind, failedOverFrom: from, ...(moved.callerId ? { callerId: moved.callerId } : {}) };
        i = next;
      }
    }
    // the call never reached a provider: end it, and settle its key — a refusal a retry could
    // turn into a success (provider down, rate limits) gives the key back; any other is pinned
    const err = lastError ?? new DomainError('provider_error', 'no provider could place the call');
    const retryable = err.status === 503 || err.status === 429;
    await this.deps.events.apply(orgId, call.id, {
      status: 'failed',
      at: new Date().toISOString(),
      cause: err.code,
      ...(idempotencyKey ? { idempotency: retryable ? { key: idempotencyKey, release: true } : { key: idempotencyKey, pin: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } } } : {}),
    });
    throw err;
  }

  /** One dial attempt through one provider; throws the provider's error untouched. */
  private async dialOnce(
    snap: OrgSnapshot,
    call: Call,
    provider: Provider,
    user: User | null,
    to: string,
    started: number,
    claim: { trial: boolean; failures: number },
    hangUpAfterMs?: number,
  ): Promise<Call> {
    const { providers, metrics, policy, health, events } = this.deps;
    const observer = events.observe();
    if (!(await policy.providerSlot(snap, provider))) {
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
      if (!call.trial && (err.code === 'provider_unavailable' || err.code === 'provider_error')) {
        await health.failure(snap.orgId, provider.id, breakerPolicyOf(provider)).catch((he: Error) => this.deps.logger.warn({ err: he.message }, 'could not record a provider failure'));
      } else if (claim.trial) {
        await health.releaseTrial(snap.orgId, provider.id).catch(() => {});
      }
      metrics.callsDispatched.inc({ provider_kind: provider.kind, provider_id: provider.id, result: err.code });
      observer.dialed(call, provider, (performance.now() - apiStart) / 1000, err.code);
      // a ProviderError as the adapter raised it (failover reads it); anything else as the domain error it is
      throw e instanceof ProviderError ? e : err;
    }
    const apiSeconds = (performance.now() - apiStart) / 1000;
    metrics.callsDispatched.inc({ provider_kind: provider.kind, provider_id: provider.id, result: 'ok' });
    observer.dialed(call, provider, apiSeconds);
    // The provider took the call; a store failure from here on is ours, not the provider's (no
    // failover, no breaker), and the call is live: the step is retried while the backend
    // blinks (a cluster master restarting), as it changes nothing when repeated. The status, the
    // provider-call link and the breaker's success are one atomic backend step, so no webhook can
    // find the call linked but not yet dialing.
    const tr = await retryWhileUnavailable(() => events.apply(snap.orgId, call.id, {
      status: res.status ?? 'dialing',
      at: new Date().toISOString(),
      providerCallId: res.providerCallId,
      link: provider.id,
      // the call as created: when nothing raced it, the backend need not send it back
      known: call,
      ...(res.from ? { from: res.from } : {}),
      ...(!call.trial && (claim.trial || claim.failures > 0) ? { breakerSuccess: { providerId: provider.id, policy: breakerPolicyOf(provider) } } : {}),
    }));
    metrics.dispatchOverhead.observe({ provider_kind: provider.kind }, (performance.now() - started) / 1000 - apiSeconds);
    return tr?.call ?? { ...call, providerCallId: res.providerCallId };
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

  // ---- trials ------------------------------------------------------------------------------

  /**
   * A trial call: straight to the destination through one provider, no agent, hung up after
   * hangUpAfterMs. The dial policy applies as for any outbound call; the click rate limits do
   * not (a trial's size and pace are bounded by its spec, and the per-destination limit would cut
   * every trial short). Returns the call (failed calls included: a trial records failures, it
   * does not throw for them).
   */
  async placeTrialCall(orgId: string, provider: Provider, rawTo: string, opts: { trialId: string; hangUpAfterMs: number; actor: string }): Promise<Call> {
    const { policy, calls, events } = this.deps;
    const snap = await this.deps.configs.get(orgId);
    const num = parsePhone(rawTo);
    const ctx = { snapshot: snap, raw: rawTo, number: num, user: null, provider, actor: opts.actor, path: 'trial' as const };
    if (isEmergencyNumber(rawTo)) await policy.enforce(ctx);
    // a malformed number is the caller's mistake, not a refused destination (no 403, no audit)
    if (!num) throw new DomainError('invalid_number', `"${rawTo}" is not a valid E.164 number`);
    await policy.enforce(ctx);
    const call = queuedCall(orgId, '', provider, num.number, { trial: true, trialId: opts.trialId });
    await calls.createCall(call);
    try {
      return await this.dialOnce(snap, call, provider, null, num.number, performance.now(), { trial: false, failures: 0 }, opts.hangUpAfterMs);
    } catch (e) {
      const err = this.providerFailure(provider, e);
      const tr = await events.apply(orgId, call.id, { status: 'failed', at: new Date().toISOString(), cause: err.code });
      return tr?.call ?? call;
    }
  }
}
