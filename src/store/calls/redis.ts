// Calls on Redis: every change one script (../redis/lua: click, inbound, create_call, transition,
// reassign_call, set_crm_log, purge_calls) that declares every key it touches, all in the org's
// slot; reads are plain single-slot commands. Encoding of a call's hash: ./codec.ts.

import { admissionArgs, refusedBy } from '../../domain/limits.js';
import { applyTransition, isTerminal } from '../../domain/state-machine.js';
import type { Call, CallStatus, CrmLogState, Page } from '../../domain/types.js';
import { userFrom } from '../directory/codec.js';
import { storeErrors } from '../errors.js';
import type { KeyLayout, OrgKeys } from '../keys.js';
import type { RedisConn } from '../redis/connection.js';
import { callSortKey, clampLimit, decodeCursor, encodeCursor } from '../rules.js';
import { decodeCall, decodeCallHash, encodeCall, encodeFieldUpdate } from './codec.js';
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

type Reply = (string | number | null)[];

/** the click script sets these from the provider it picks */
const CLICK_OMITS: ReadonlySet<string> = new Set(['providerId', 'providerKind', 'failedOverFrom']);
/** the inbound script sets the user from the DID */
const INBOUND_OMITS: ReadonlySet<string> = new Set(['userId']);
/** live calls read at most for a snapshot */
const LIVE_SCAN = 5000;
/** calls read per round trip while a filtered listing fills its page */
const LIST_CHUNK = 200;

function linkField(providerId: string, providerCallId: string): string {
  return `${providerId}:${providerCallId}`;
}

export class RedisCalls implements CallStore {
  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
    private readonly retentionMs: number,
  ) {}

  private get redis() {
    return this.conn.client;
  }

  private k(orgId: string): OrgKeys {
    return this.keys.org(orgId);
  }

  async click(req: ClickRequest): Promise<ClickResult> {
    const { call, expect, chain, admission, idempotency } = req;
    const k = this.k(call.orgId);
    const fields = encodeCall(call, CLICK_OMITS);
    const cids = chain.map((_, i) => req.callerIds?.[i] ?? { callerId: '', pool: [] });
    const r = (await this.conn.run(
      'click',
      [k.ver, k.uver, k.prov, k.health, k.idem, k.idemExp, k.rl, k.live, k.call(call.id), k.calls, k.ucalls, k.livecalls, k.pc, k.events, k.profile, k.dnc, k.cid],
      [
        Date.now(),
        expect.orgVersion,
        call.userId,
        expect.userVersion,
        expect.providerId ?? '',
        idempotency?.key ?? '',
        idempotency?.fingerprint ?? '',
        idempotency ? idempotency.ttlSec * 1000 : 0,
        call.id,
        callSortKey(call.createdAt, call.id),
        chain.length,
        ...chain.flatMap((p) => [p.id, p.kind]),
        fields.length,
        ...fields,
        ...admissionArgs(admission),
        ...cids.flatMap((x) => [x.callerId, x.pool.length > 0 ? `,${x.pool.join(',')},` : '']),
        call.to,
        req.stickyMs ?? 0,
      ],
    )) as Reply;
    switch (r[0]) {
      case 'dnc':
        return { kind: 'dnc' };
      case 'created': {
        // what the script stored: the call as sent, on the provider it picked
        const picked = Number(r[1]) - 1;
        const p = chain[picked];
        const created: Call = { ...call, providerId: p.id, providerKind: p.kind };
        if (expect.providerId && p.id !== expect.providerId) created.failedOverFrom = expect.providerId;
        else delete created.failedOverFrom;
        if (r[4]) created.callerId = String(r[4]);
        return { kind: 'created', call: created, picked, trial: Number(r[2]) === 1, breakerFailures: Number(r[3]) };
      }
      case 'stale':
        return {
          kind: 'stale',
          orgVersion: Number(r[1]),
          user: r[2] ? { user: userFrom(call.userId, String(r[2]), r[3] as string | null), version: Number(r[4] ?? 0) } : null,
        };
      case 'replay': {
        const record = JSON.parse(String(r[1])) as IdempotencyRecord;
        return { kind: 'replay', record, call: record.callId ? await this.getCall(call.orgId, record.callId) : null };
      }
      case 'unavailable':
        return { kind: 'unavailable', providerId: String(r[1]), retryAfterMs: Number(r[2]) };
      default: {
        const refused = refusedBy(admission, Number(r[1]), Number(r[2]));
        return refused.ok ? { kind: 'limited', limit: 'unknown', retryAfterMs: 1000 } : { kind: 'limited', limit: refused.limit, retryAfterMs: refused.retryAfterMs };
      }
    }
  }

  async inbound(req: InboundRequest) {
    const { call, did } = req;
    const k = this.k(call.orgId);
    const pcl = call.providerCallId ? linkField(call.providerId, call.providerCallId) : '';
    const r = (await this.conn.run(
      'inbound',
      [k.dids, k.prov, k.profile, k.call(call.id), k.calls, k.ucalls, k.pc, k.livecalls, k.events],
      [Date.now(), did, call.providerId, call.id, callSortKey(call.createdAt, call.id), pcl, ...encodeCall(call, INBOUND_OMITS)],
    )) as Reply;
    if (r[0] !== 'ok') return null;
    const created = decodeCall(call.orgId, r, 2)!;
    return { call: created, user: userFrom(created.userId, String(r[1]), call.providerId) };
  }

  async createCall(call: Call): Promise<void> {
    const k = this.k(call.orgId);
    const pcl = call.providerCallId ? linkField(call.providerId, call.providerCallId) : '';
    await this.conn.run(
      'create_call',
      [k.call(call.id), k.calls, k.ucalls, k.pc, k.livecalls],
      [Date.now(), call.id, callSortKey(call.createdAt, call.id), call.userId ?? '', pcl, ...encodeCall(call)],
    );
  }

  async getCall(orgId: string, callId: string): Promise<Call | null> {
    return decodeCallHash(orgId, await this.redis.hgetall(this.k(orgId).call(callId)));
  }

  async listCalls(orgId: string, q: CallQuery): Promise<Page<Call>> {
    const k = this.k(orgId);
    const n = clampLimit(q.limit);
    const byUser = q.userId !== undefined;
    const index = byUser ? k.ucalls : k.calls;
    const head = byUser ? `${q.userId} ` : '';
    const top = byUser ? `(${q.userId}!` : '+';
    const bottom = byUser ? `[${q.userId} ` : '-';
    const before = decodeCursor(q.cursor);
    let max = before === undefined ? top : `(${head}${before}`;
    const items: Call[] = [];
    let more = false;
    // newest first; a status filter reads calls until the page is full (plus one, to know)
    for (;;) {
      const members = await this.redis.zrevrangebylex(index, max, bottom, 'LIMIT', 0, q.status === undefined ? n + 1 : LIST_CHUNK);
      if (members.length === 0) break;
      const pipe = this.redis.pipeline();
      for (const m of members) pipe.hgetall(k.call(m.slice(m.indexOf(':', head.length) + 1)));
      const res = (await pipe.exec()) ?? [];
      for (const [err, h] of res) {
        if (err) throw err;
        const c = decodeCallHash(orgId, h as Record<string, string>);
        if (!c || (q.status !== undefined && c.status !== (q.status as CallStatus))) continue;
        if (items.length === n) {
          more = true;
          break;
        }
        items.push(c);
      }
      if (more || members.length < (q.status === undefined ? n + 1 : LIST_CHUNK)) break;
      max = `(${members[members.length - 1]}`;
    }
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(callSortKey(last.createdAt, last.id)) : null };
  }

  callIdByProviderCallId(orgId: string, providerId: string, providerCallId: string): Promise<string | null> {
    return this.redis.hget(this.k(orgId).pc, linkField(providerId, providerCallId));
  }

  async transition(orgId: string, callId: string, input: TransitionInput): Promise<TransitionResult | null> {
    const known = input.known;
    const k = this.k(orgId);
    // notBefore (src/domain/state-machine.ts): an unparseable time is now; a parsed one the script
    // moves up to the call's last transition when it falls before it
    const parsed = Date.parse(input.at);
    const ms = Number.isFinite(parsed) ? parsed : Date.now();
    const at = Number.isFinite(parsed) ? input.at : new Date(ms).toISOString();
    const idem = input.idempotency;
    const r = (await this.conn.run(
      'transition',
      [k.call(callId), k.pc, k.live, k.livecalls, k.outbox, k.idem, k.idemExp, k.health, k.events, k.expiry],
      [
        Date.now(),
        input.status,
        at,
        String(ms),
        input.cause ?? '',
        input.providerCallId ?? '',
        input.durationSec !== undefined ? String(input.durationSec) : '',
        input.link !== undefined && input.providerCallId !== undefined ? linkField(input.link, input.providerCallId) : '',
        input.from ?? '',
        idem?.key ?? '',
        !idem ? '' : 'release' in idem ? 'release' : JSON.stringify(idem.pin),
        input.breakerSuccess?.providerId ?? '',
        input.breakerSuccess?.policy.closeAfter ?? 1,
        callId,
        Number.isFinite(parsed) ? '1' : '',
        input.onlyProvider ?? '',
        known && !isTerminal(input.status) ? known.status : '',
        input.providerPrice ? JSON.stringify(input.providerPrice) : '',
        Date.now() + this.retentionMs,
      ],
    )) as Reply;
    if (r[0] === 'none') return null;
    const applied = Number(r[1]) === 1;
    if (r.length > 3) return { applied, becameTerminal: Number(r[2]) === 1, call: decodeCall(orgId, r, 3)! };
    // the call moved from the status the caller holds it in: what it became, as the script did it
    const call = structuredClone(known!);
    if (input.providerCallId && !call.providerCallId) call.providerCallId = input.providerCallId;
    if (input.from && !call.from) call.from = input.from;
    if (input.providerPrice) call.providerPrice = { ...input.providerPrice };
    applyTransition(call, { status: input.status, at: input.at, cause: input.cause, durationSec: input.durationSec });
    return { applied, becameTerminal: false, call };
  }

  async reassign(orgId: string, callId: string, to: ReassignTarget): Promise<{ callerId?: string } | null> {
    const k = this.k(orgId);
    const c = to.callerId;
    const r = (await this.conn.run(
      'reassign_call',
      [k.call(callId), k.cid],
      [to.providerId, to.providerKind, to.failedOverFrom, Date.now(), c?.callerId ?? '', c && c.pool.length > 0 ? `,${c.pool.join(',')},` : '', c?.to ?? '', c?.stickyMs ?? 0],
    )) as Reply;
    if (Number(r[0]) !== 1) return null;
    return r[1] ? { callerId: String(r[1]) } : {};
  }

  async idempotency(orgId: string, key: string): Promise<{ record: IdempotencyRecord; call: Call | null } | null> {
    const k = this.k(orgId);
    const [[e1, rec], [e2, exp]] = ((await this.redis.pipeline().hget(k.idem, key).zscore(k.idemExp, key).exec()) ?? []) as [Error | null, string | null][];
    if (e1 || e2) throw e1 ?? e2;
    if (!rec || Number(exp ?? 0) <= Date.now()) return null;
    const record = JSON.parse(rec) as IdempotencyRecord;
    return { record, call: record.callId ? await this.getCall(orgId, record.callId) : null };
  }

  async callLogContext(orgId: string, callId: string): Promise<CallLogContext> {
    const k = this.k(orgId);
    const [flat, crm, profile, prov] = (await this.conn.run('call_log_context', [k.call(callId), k.settings, k.profile, k.prov], [])) as [Reply, string | null, string | null, string | null];
    const call = decodeCall(orgId, flat);
    return {
      call,
      user: call?.userId && profile ? userFrom(call.userId, profile, prov) : null,
      crmConfig: crm ? (JSON.parse(crm) as Record<string, unknown>) : null,
      crmConfigJson: crm ?? null,
    };
  }

  async setCrmLog(orgId: string, callId: string, state: CrmLogState): Promise<void> {
    const k = this.k(orgId);
    const settled = state.status === 'logged' || state.status === 'skipped';
    const r = await this.conn.run('set_crm_log', [k.call(callId), k.outbox, k.expiry], [JSON.stringify(state), settled ? '1' : '', Date.now() + this.retentionMs, callId]);
    if (Number(r) !== 1) throw storeErrors.callNotFound(callId);
  }

  outboxDue(orgId: string, beforeMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.k(orgId).outbox, '-inf', beforeMs, 'LIMIT', 0, limit);
  }

  async updatesDue(orgId: string, beforeMs: number, limit: number): Promise<PendingUpdate[]> {
    return pendingUpdates(await this.redis.zrangebyscore(this.k(orgId).updbox, '-inf', beforeMs, 'LIMIT', 0, limit));
  }

  async settleUpdate(orgId: string, callId: string, update: LogUpdateRef): Promise<void> {
    await this.redis.zrem(this.k(orgId).updbox, updateKey(callId, update.group, update.n));
  }

  staleLiveCalls(orgId: string, beforeMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.k(orgId).livecalls, '-inf', beforeMs, 'LIMIT', 0, limit);
  }

  async updateCall(orgId: string, callId: string, u: CallFieldsUpdate): Promise<CallFieldsResult> {
    const k = this.k(orgId);
    const args: (string | number)[] = [];
    let n = 0;
    for (const [name, value] of Object.entries(u.set)) {
      if (value === undefined) continue;
      const [field, enc] = encodeFieldUpdate(name, value);
      args.push(field, enc ?? '', enc === null ? '1' : '', u.groups?.[name] ?? '');
      n++;
    }
    const r = (await this.conn.run(
      'update_call',
      [k.call(callId), k.unresolved, k.events, k.updbox],
      [Date.now(), u.wrapupMs !== undefined ? String(u.wrapupMs) : '', u.event ?? '', callId, n, ...args],
    )) as Reply;
    if (r[0] === 'none') return { kind: 'none' };
    if (r[0] === 'closed') return { kind: 'closed', call: decodeCall(orgId, r, 1)! };
    const bumped = String(r[2] ?? '')
      .split('\n')
      .filter(Boolean)
      .map((x) => ({ group: x.slice(0, x.lastIndexOf(':')), n: Number(x.slice(x.lastIndexOf(':') + 1)) }));
    return { kind: 'ok', changed: Number(r[1]) === 1, bumped, call: decodeCall(orgId, r, 3)! };
  }

  async liveCalls(orgId: string, q: { userId?: string; limit: number }): Promise<Call[]> {
    const k = this.k(orgId);
    // filtered by user while reading: the index is per org (an org's live calls are few)
    const ids = await this.redis.zrange(k.livecalls, '0', String(LIVE_SCAN - 1));
    return (await this.readCalls(orgId, ids)).filter((c) => !isTerminal(c.status) && (q.userId === undefined || c.userId === q.userId)).slice(0, q.limit);
  }

  async unresolved(orgId: string, limit: number): Promise<Call[]> {
    const k = this.k(orgId);
    const ids = await this.redis.zrange(k.unresolved, '0', String(limit - 1));
    const calls = await this.readCalls(orgId, ids);
    // a purged call leaves its entry behind (retention does not know this index): drop it here
    const gone = ids.filter((id) => !calls.some((c) => c.id === id));
    if (gone.length) await this.redis.zrem(k.unresolved, ...gone);
    return calls;
  }

  private async readCalls(orgId: string, ids: string[]): Promise<Call[]> {
    if (ids.length === 0) return [];
    const k = this.k(orgId);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(k.call(id));
    const out: Call[] = [];
    for (const [err, h] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      const c = decodeCallHash(orgId, h as Record<string, string>);
      if (c) out.push(c);
    }
    return out;
  }

  async purge(orgId: string, now: number, limit: number): Promise<number> {
    const k = this.k(orgId);
    const ids = await this.redis.zrangebyscore(k.expiry, '-inf', now, 'LIMIT', 0, limit);
    return Number(
      await this.conn.run(
        'purge_calls',
        [k.calls, k.ucalls, k.pc, k.idem, k.idemExp, k.expiry, k.outbox, k.livecalls, k.updbox, ...ids.map((id) => k.call(id))],
        [now, limit, ...ids],
      ),
    );
  }
}

