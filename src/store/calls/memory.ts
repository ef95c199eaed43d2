// Calls in local mode: each operation one synchronous step over the org's data, the twin of its
// Lua script (see ../memory/state.ts).

import { applyTransition, isTerminal } from '../../domain/state-machine.js';
import { toPublicCall, type Call, type CrmLogState, type Page } from '../../domain/types.js';
import { storeErrors } from '../errors.js';
import { callEventJson, type EventType } from '../events/port.js';
import { claim, success } from '../health/rules.js';
import { releaseLive, takeLimits } from '../limits/memory.js';
import { atomic, byCodeUnit, clone, done, type MemoryData, type OrgData } from '../memory/state.js';
import { stickyField, unexpiredSticky } from '../compliance/port.js';
import { callSortKey, clampLimit, decodeCursor, encodeCursor } from '../rules.js';
import { encodeFieldUpdate } from './codec.js';
import type {
  CallFieldsResult,
  CallFieldsUpdate,
  CallLogContext,
  CallQuery,
  CallStore,
  ClickRequest,
  ClickResult,
  IdempotencyRecord,
  InboundRequest,
  ReassignTarget,
  PendingUpdate,
  TransitionInput,
  TransitionResult,
} from './port.js';
import { pendingUpdates } from './port.js';
import { updateKey } from '../../domain/call-updates.js';
import type { LogUpdateRef } from '../queues/port.js';

const PENDING: CrmLogState = { status: 'pending', attempts: 0 };

export class MemoryCalls implements CallStore {
  constructor(private readonly data: MemoryData) {}

  private emit(call: Call, type: EventType): void {
    this.data.emit(call.orgId, type, call.userId, callEventJson(type, toPublicCall(call)));
  }

  private store(s: OrgData, call: Call, now: number): void {
    s.calls.set(call.id, clone(call));
    if (call.providerCallId) s.link(`${call.providerId}:${call.providerCallId}`, call.id);
    if (!isTerminal(call.status)) s.liveCalls.set(call.id, now);
  }

  click(req: ClickRequest): Promise<ClickResult> {
    return atomic(() => {
      const { call, expect, chain, admission, idempotency } = req;
      const s = this.data.org(call.orgId);
      const now = Date.now();
      const u = s.users.get(call.userId);
      const uv = s.userVersion.get(call.userId) ?? 0;
      if (s.version !== expect.orgVersion || !u || uv !== expect.userVersion || u.providerId !== expect.providerId) {
        return { kind: 'stale', orgVersion: s.version, user: u ? { user: clone(u), version: uv } : null };
      }
      if (idempotency) {
        const e = s.idempotency.get(idempotency.key);
        if (e && e.expiresAt > now) {
          const c = e.record.callId ? s.calls.get(e.record.callId) : undefined;
          return { kind: 'replay', record: clone(e.record), call: c ? clone(c) : null };
        }
      }
      if (s.dnc.has(call.to)) return { kind: 'dnc' };
      let picked = -1;
      let trial = false;
      for (let i = 0; i < chain.length; i++) {
        const rec = { ...(s.health.get(chain[i].id) ?? { failures: 0, openUntil: 0, successes: 0, trialUntil: 0 }) };
        const c = claim(rec, now);
        if (!c.ok) continue;
        if (c.trial) s.health.set(chain[i].id, rec);
        picked = i;
        trial = c.trial;
        break;
      }
      if (picked < 0) {
        const first = chain[0]?.id ?? expect.providerId ?? '';
        // the real remaining wait in ms, as click.lua computes it (not the view's whole seconds)
        const r = s.health.get(first);
        const wait = !r ? 0 : r.openUntil > now ? r.openUntil - now : r.trialUntil > now ? r.trialUntil - now : 0;
        return { kind: 'unavailable', providerId: first, retryAfterMs: wait };
      }
      const chosen = chain[picked];
      const limits = takeLimits(s, admission, now);
      if (!limits.ok) {
        if (trial) s.health.get(chosen.id)!.trialUntil = 0;
        return { kind: 'limited', limit: limits.limit, retryAfterMs: limits.retryAfterMs };
      }
      // like click.lua: the picked provider sets these three, whatever the request's call carried
      const { failedOverFrom: _ignored, ...rest } = clone(call);
      const created: Call = { ...rest, providerId: chosen.id, providerKind: chosen.kind };
      if (expect.providerId && chosen.id !== expect.providerId) created.failedOverFrom = expect.providerId;
      const callerId = pickCallerId(s, chosen.id, call.to, req.callerIds?.[picked], now, req.stickyMs ?? 0);
      if (callerId) created.callerId = callerId;
      this.store(s, created, now);
      if (idempotency) {
        s.idempotency.set(idempotency.key, { record: { fingerprint: idempotency.fingerprint, callId: created.id }, expiresAt: now + idempotency.ttlSec * 1000 });
      }
      this.emit(created, 'call.created');
      return { kind: 'created', call: clone(created), picked, trial, breakerFailures: s.health.get(chosen.id)?.failures ?? 0 };
    });
  }

  inbound(req: InboundRequest): Promise<{ call: Call; user: import('../../domain/types.js').User } | null> {
    const s = this.data.org(req.call.orgId);
    const uid = s.dids.get(req.did);
    const u = uid !== undefined ? s.users.get(uid) : undefined;
    if (!u || u.providerId !== req.call.providerId) return done(null);
    const call: Call = { ...clone(req.call), userId: u.id };
    this.store(s, call, Date.now());
    this.emit(call, 'call.incoming');
    return done({ call: clone(call), user: clone(u) });
  }

  createCall(call: Call): Promise<void> {
    this.store(this.data.org(call.orgId), call, Date.now());
    return done(undefined);
  }

  getCall(orgId: string, callId: string): Promise<Call | null> {
    const c = this.data.orgs.get(orgId)?.calls.get(callId);
    return done(c ? clone(c) : null);
  }

  listCalls(orgId: string, q: CallQuery): Promise<Page<Call>> {
    // atomic: a malformed cursor rejects the promise (like Redis), it does not throw at the caller
    return atomic(() => this.listCallsNow(orgId, q));
  }

  private listCallsNow(orgId: string, q: CallQuery): Page<Call> {
    const s = this.data.org(orgId);
    const byKey = new Map<string, Call>();
    for (const c of s.calls.values()) {
      if (q.userId !== undefined && c.userId !== q.userId) continue;
      byKey.set(callSortKey(c.createdAt, c.id), c);
    }
    // newest first: walk keys in descending order, the cursor being the last key returned
    const keys = [...byKey.keys()].sort((a, b) => byCodeUnit(b, a));
    const before = decodeCursor(q.cursor);
    const n = clampLimit(q.limit);
    const items: Call[] = [];
    let last: string | null = null;
    let more = false;
    for (const k of keys) {
      if (before !== undefined && k >= before) continue;
      const c = byKey.get(k)!;
      if (q.status !== undefined && c.status !== q.status) continue;
      if (items.length === n) {
        more = true;
        break;
      }
      items.push(clone(c));
      last = k;
    }
    return { items, nextCursor: more && last !== null ? encodeCursor(last) : null };
  }

  callIdByProviderCallId(orgId: string, providerId: string, providerCallId: string): Promise<string | null> {
    return done(this.data.orgs.get(orgId)?.providerCalls.get(`${providerId}:${providerCallId}`) ?? null);
  }

  transition(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null> {
    const s = this.data.orgs.get(orgId);
    const c = s?.calls.get(callId);
    if (!s || !c || (input.onlyProvider !== undefined && c.providerId !== input.onlyProvider)) return done(null);
    const now = Date.now();
    if (input.link !== undefined && input.providerCallId !== undefined) s.link(`${input.link}:${input.providerCallId}`, callId);
    const applied = applyTransition(c, { status: input.status, at: input.at, cause: input.cause, providerCallId: input.providerCallId, durationSec: input.durationSec });
    if (input.from && !c.from) c.from = input.from;
    if (input.providerPrice) c.providerPrice = clone(input.providerPrice);
    const becameTerminal = applied && isTerminal(input.status);
    if (becameTerminal) {
      if (c.direction === 'inbound' && !c.answeredAt) c.missed = true;
      s.liveCalls.delete(callId);
      if (c.userId) releaseLive(s, c.userId, callId);
      if (!c.trial) {
        s.outbox.set(callId, now);
        c.crmLog ??= { ...PENDING };
      } else {
        // never logged: its purge is scheduled at once
        s.expiry.set(callId, now + this.data.retentionMs);
      }
    } else if (s.liveCalls.has(callId)) {
      s.liveCalls.set(callId, now);
    }
    const idem = input.idempotency;
    if (idem) {
      const e = s.idempotency.get(idem.key);
      if ('release' in idem) s.idempotency.delete(idem.key);
      else if (e) e.record = { ...e.record, error: clone(idem.pin) };
    }
    if (input.breakerSuccess) {
      const { providerId, policy } = input.breakerSuccess;
      const rec = s.health.get(providerId);
      if (rec) {
        const next = success(rec, now, policy);
        if (next) s.health.set(providerId, next);
        else s.health.delete(providerId);
      }
    }
    if (applied) this.emit(c, 'call.status');
    if (becameTerminal && c.missed) this.emit(c, 'call.missed');
    return done({ applied, call: clone(c), becameTerminal });
  }

  reassign(orgId: string, callId: string, to: ReassignTarget): Promise<{ callerId?: string } | null> {
    const s = this.data.orgs.get(orgId);
    const c = s?.calls.get(callId);
    if (!s || !c || c.status !== 'queued') return done(null);
    c.providerId = to.providerId;
    c.providerKind = to.providerKind;
    c.failedOverFrom = to.failedOverFrom;
    const x = to.callerId;
    const callerId = x ? pickCallerId(s, to.providerId, x.to, x, Date.now(), x.stickyMs) : '';
    if (callerId) c.callerId = callerId;
    else delete c.callerId;
    return done(callerId ? { callerId } : {});
  }

  idempotency(orgId: string, key: string): Promise<{ record: IdempotencyRecord; call: Call | null } | null> {
    const s = this.data.orgs.get(orgId);
    const e = s?.idempotency.get(key);
    if (!s || !e || e.expiresAt <= Date.now()) return done(null);
    const c = e.record.callId ? s.calls.get(e.record.callId) : undefined;
    return done({ record: clone(e.record), call: c ? clone(c) : null });
  }

  callLogContext(orgId: string, callId: string): Promise<CallLogContext> {
    const s = this.data.orgs.get(orgId);
    const c = s?.calls.get(callId);
    const u = c?.userId ? s?.users.get(c.userId) : undefined;
    const json = s?.settings.get('crm') ?? null;
    return done({
      call: c ? clone(c) : null,
      user: u ? clone(u) : null,
      crmConfig: json ? (JSON.parse(json) as Record<string, unknown>) : null,
      crmConfigJson: json,
    });
  }

  setCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<void> {
    const s = this.data.orgs.get(orgId);
    const c = s?.calls.get(callId);
    if (!s || !c) return Promise.reject(storeErrors.callNotFound(callId));
    c.crmLog = clone(state);
    if (state.status === 'logged' || state.status === 'skipped') {
      s.outbox.delete(callId);
      if (isTerminal(c.status)) s.expiry.set(callId, Date.now() + this.data.retentionMs);
    }
    return done(undefined);
  }

  outboxDue(orgId: string, beforeMs: number, limit: number): Promise<string[]> {
    return done(due(this.data.orgs.get(orgId)?.outbox, beforeMs, limit));
  }

  updatesDue(orgId: string, beforeMs: number, limit: number): Promise<PendingUpdate[]> {
    return done(pendingUpdates(due(this.data.orgs.get(orgId)?.updbox, beforeMs, limit)));
  }

  settleUpdate(orgId: string, callId: string, update: LogUpdateRef): Promise<void> {
    this.data.orgs.get(orgId)?.updbox.delete(updateKey(callId, update.group, update.n));
    return done(undefined);
  }

  staleLiveCalls(orgId: string, beforeMs: number, limit: number): Promise<string[]> {
    return done(due(this.data.orgs.get(orgId)?.liveCalls, beforeMs, limit));
  }

  updateCall(orgId: string, callId: string, u: CallFieldsUpdate): Promise<CallFieldsResult> {
    const s = this.data.orgs.get(orgId);
    const c = s?.calls.get(callId);
    if (!s || !c) return done({ kind: 'none' });
    const now = Date.now();
    if (u.wrapupMs !== undefined && isTerminal(c.status)) {
      const ended = Date.parse(c.history[c.history.length - 1]?.at ?? c.endedAt ?? '');
      if (Number.isFinite(ended) && now > ended + u.wrapupMs) return done({ kind: 'closed', call: clone(c) });
    }
    const rec = c as unknown as Record<string, unknown>;
    const order: string[] = [];
    let changed = false;
    for (const [name, value] of Object.entries(u.set)) {
      if (value === undefined) continue;
      // compared as stored on Redis (the same encoding), so both backends agree on "unchanged"
      const before = rec[name] === undefined ? null : encodeFieldUpdate(name, rec[name])[1];
      if (before === encodeFieldUpdate(name, value)[1]) continue;
      if (value === null) delete rec[name];
      else rec[name] = clone(value);
      changed = true;
      const g = u.groups?.[name] ?? '';
      if (g && !order.includes(g)) order.push(g);
    }
    // like update_call.lua: a change of an ended call is an update to send, in the update outbox
    const pending = isTerminal(c.status) && !c.trial;
    const bumped = order.map((group) => {
      c.changes ??= {};
      const was = c.changes[group] ?? 0;
      c.changes[group] = was + 1;
      if (pending) {
        if (was > 0) s.updbox.delete(updateKey(callId, group, was));
        s.updbox.set(updateKey(callId, group, was + 1), now);
      }
      return { group, n: c.changes[group] };
    });
    if (c.candidates && c.candidates.length > 0 && !c.crmRecord) {
      if (!s.unresolved.has(callId)) s.unresolved.set(callId, now);
    } else s.unresolved.delete(callId);
    if (changed && u.event) this.emit(c, u.event);
    return done({ kind: 'ok', changed, bumped, call: clone(c) });
  }

  liveCalls(orgId: string, q: { userId?: string; limit: number }): Promise<Call[]> {
    const s = this.data.orgs.get(orgId);
    if (!s) return done([]);
    const out: Call[] = [];
    for (const [id] of [...s.liveCalls].sort((a, b) => a[1] - b[1])) {
      const c = s.calls.get(id);
      if (!c || isTerminal(c.status) || (q.userId !== undefined && c.userId !== q.userId)) continue;
      if (out.length >= q.limit) break;
      out.push(clone(c));
    }
    return done(out);
  }

  unresolved(orgId: string, limit: number): Promise<Call[]> {
    const s = this.data.orgs.get(orgId);
    if (!s) return done([]);
    const out: Call[] = [];
    for (const id of due(s.unresolved, Infinity, limit)) {
      const c = s.calls.get(id);
      if (c) out.push(clone(c));
      else s.unresolved.delete(id);
    }
    return done(out);
  }

  purge(orgId: string, now: number, limit: number): Promise<number> {
    const s = this.data.orgs.get(orgId);
    if (!s) return done(0);
    let n = 0;
    for (const id of due(s.expiry, now, limit)) {
      const c = s.calls.get(id);
      s.expiry.delete(id);
      if (!c) continue;
      for (const field of s.callLinks.get(id) ?? []) if (s.providerCalls.get(field) === id) s.providerCalls.delete(field);
      s.callLinks.delete(id);
      for (const [k, e] of s.idempotency) if (e.record.callId === id) s.idempotency.delete(k);
      s.outbox.delete(id);
      for (const [g, n] of Object.entries(c.changes ?? {})) s.updbox.delete(updateKey(id, g, n));
      s.calls.delete(id);
      n++;
    }
    for (const [k, e] of s.idempotency) if (e.expiresAt <= now) s.idempotency.delete(k);
    return done(n);
  }
}

/** Like click.lua: the sticky number while it is still in the pool, else the best match (remembered). */
function pickCallerId(s: OrgData, providerId: string, to: string, c: { callerId: string; pool: string[] } | undefined, now: number, stickyMs: number): string {
  if (!c) return '';
  if (c.pool.length === 0) return c.callerId;
  const field = stickyField(providerId, to);
  const stuck = unexpiredSticky(s.callerIds.get(field), now);
  const chosen = stuck !== null && c.pool.includes(stuck) ? stuck : c.callerId;
  s.callerIds.set(field, `${chosen}|${now + stickyMs}`);
  return chosen;
}

function due(m: Map<string, number> | undefined, beforeMs: number, limit: number): string[] {
  if (!m) return [];
  return [...m]
    .filter(([, at]) => at <= beforeMs)
    .sort((a, b) => a[1] - b[1])
    .slice(0, limit)
    .map(([id]) => id);
}
