// Telephony session notifications → our calls.
//
// Correlation. A RingOut's create response has no telephonySessionId and its session events do
// not carry the RingOut id, so the first event of a RingOut session (origin.type "RingOut") is
// matched by its numbers: each party shows the agent leg and the customer (Initiator: from = the
// customer, to = the agent's phone; Target: from = the caller id, to = the customer), and dial()
// left a pending entry under both unordered number pairs. The match is then kept as
// telephonySessionId → RingOut id in SharedState, so later events (on any instance) go straight
// to the call. Two simultaneous RingOuts between the same agent phone and customer cannot be told
// apart this way; the later one wins the pending entry (the RingOut poll still tracks the other).
// Events that arrive before dial() has stored its pending entry (or before the core linked the
// RingOut id to the call) are retried a few times before being dropped.
//
// Inbound. A session of origin "Call" where a party owned by one of the account's extensions is
// being offered a call (direction Inbound, status Setup/Proceeding) from outside the account
// (no from.extensionId) is an inbound call: the first such event, once across all instances,
// goes to sink.inbound with the telephonySessionId as providerCallId and the called number as
// the DID. Calls between extensions (from.extensionId set) are internal and ignored.
//
// Ordering. Notifications can arrive out of order and twice. Duplicates (same session and
// sequence) are dropped; progress statuses are applied as they come (the core never moves a call
// backwards); a terminal event for a call not known to be answered waits graceMs for a late
// "Answered" before its status is decided, which is what ordering by `sequence` protects.

import type { Logger } from 'pino';
import type { CallEventSink, StatusEvent } from '../../src/providers/adapter.js';
import { CallState, type SessionLink } from './state.js';
import { unansweredEnd, type Mapped } from './status-map.js';
import type { Timers } from './timers.js';

export interface SessionOptions {
  /** how long an unanswered end waits for a late Answered event */
  graceMs: number;
  /** retries for events that cannot be matched or linked yet */
  retryMs: number;
  retries: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = { graceMs: 1500, retryMs: 500, retries: 8 };

interface Party {
  id?: string;
  extensionId?: string;
  direction?: string;
  ringOutRole?: string;
  missedCall?: boolean;
  from?: { phoneNumber?: string; extensionId?: string; name?: string };
  to?: { phoneNumber?: string; extensionId?: string; name?: string };
  status?: { code?: string; reason?: string };
}

export interface SessionBody {
  sequence?: number;
  telephonySessionId?: string;
  eventTime?: string;
  origin?: { type?: string };
  parties?: Party[];
}

export interface Envelope {
  uuid?: string;
  event?: string;
  timestamp?: string;
  subscriptionId?: string;
  ownerId?: string;
  body?: SessionBody;
}

const RINGING_CODES = new Set(['Setup', 'Proceeding']);
const END_CODES = new Set(['Disconnected', 'Gone']);
/** Where a session stands from its parties as GET telephony session shows them (the reconciler's question). */
export function sessionStatus(parties: Party[], answered: boolean): Mapped | null {
  const codes = parties.map((p) => p.status?.code ?? '');
  if (codes.length > 0 && codes.every((c) => END_CODES.has(c))) return answered ? { status: 'completed' } : unansweredEnd(parties[0]?.status?.reason, { canceled: false });
  if (codes.some((c) => TALKING_CODES.has(c) || VOICEMAIL_CODES.has(c))) return { status: 'answered' };
  if (codes.some((c) => RINGING_CODES.has(c))) return { status: 'ringing' };
  return null;
}

const VOICEMAIL_CODES = new Set(['VoiceMail', 'VoiceMailScreening', 'VMScreening']);
const TALKING_CODES = new Set(['Answered', 'Hold', 'Parked']);

type Step = { kind: 'status'; mapped: Mapped; answered?: boolean } | { kind: 'end'; reason?: string; agentLeg?: boolean } | null;

export class SessionProcessor {
  constructor(
    private readonly state: CallState,
    private readonly sink: CallEventSink,
    private readonly logger: Logger,
    private readonly timers: Timers,
    private readonly opts: SessionOptions,
    /** told when a call was answered, with the answering party (trial calls hang up after a while; recordings start) */
    private readonly onAnswered: (providerCallId: string, partyId?: string) => void,
  ) {}

  /** Handles one notification; resolves once it has been applied or scheduled. */
  async handle(env: Envelope): Promise<void> {
    const body = env.body;
    const tsid = body?.telephonySessionId;
    if (!body || typeof tsid !== 'string' || !Array.isArray(body.parties)) return;
    const marker = Number.isFinite(body.sequence) ? `seq:${body.sequence}` : `uuid:${env.uuid ?? ''}`;
    if (!(await this.state.firstDelivery(tsid, marker))) return;
    await this.route(tsid, body, env.timestamp, 0);
  }

  private retry(tsid: string, body: SessionBody, ts: string | undefined, attempt: number, why: string): void {
    if (attempt >= this.opts.retries) {
      this.logger.debug({ telephonySessionId: tsid, sequence: body.sequence, why }, 'ringcentral session event dropped');
      return;
    }
    this.timers.after(this.opts.retryMs, () => this.route(tsid, body, ts, attempt + 1));
  }

  private async route(tsid: string, body: SessionBody, ts: string | undefined, attempt: number): Promise<void> {
    let link = await this.state.link(tsid);
    if (!link) {
      if (isRingOutSession(body)) {
        const match = await this.correlate(body);
        if (!match) return this.retry(tsid, body, ts, attempt, 'no pending RingOut matches');
        link = { kind: 'ringout', id: match.id, leg1: match.leg1, dest: match.dest };
        await this.state.setLink(tsid, link);
        await this.state.setSessionOf(match.id, tsid);
      } else {
        const offer = inboundOffer(body);
        if (!offer) {
          // only an answer or an end can precede the offer and still matter; anything else of a
          // session that is not (yet) ours is dropped at once (account-level events are many)
          const late = (body.parties ?? []).some((p) => TALKING_CODES.has(p.status?.code ?? '') || END_CODES.has(p.status?.code ?? ''));
          if (!late) return;
          return this.retry(tsid, body, ts, attempt, 'not an inbound offer yet');
        }
        if (!(await this.state.once(tsid, 'inbound'))) {
          // another delivery is creating the inbound call right now
          return this.retry(tsid, body, ts, attempt, 'inbound call being created');
        }
        let route;
        try {
          route = await this.sink.inbound({
            providerCallId: tsid,
            from: offer.from,
            to: offer.to,
            at: body.eventTime ?? ts ?? new Date().toISOString(),
          });
        } catch (err) {
          await this.state.forgetOnce(tsid, 'inbound');
          throw err;
        }
        link = route ? { kind: 'inbound', id: tsid } : { kind: 'ignored' };
        await this.state.setLink(tsid, link);
        if (!route) this.logger.info({ telephonySessionId: tsid }, 'ringcentral inbound call to a number no user owns');
      }
    }
    if (link.kind === 'ignored') return;
    await this.state.setFlag(link.id, 'event');
    for (const party of body.parties ?? []) {
      const step = link.kind === 'ringout' ? await this.ringOutStep(link, party) : this.inboundStep(party);
      if (!step) continue;
      const base = { providerCallId: link.id, at: body.eventTime ?? ts ?? new Date().toISOString(), seq: body.sequence };
      if (step.kind === 'status') {
        if (step.answered) await this.state.setFlag(link.id, 'answered');
        await this.emit({ ...base, status: step.mapped.status, cause: step.mapped.cause }, link.kind === 'ringout' ? 0 : this.opts.retries);
        if (step.mapped.status === 'answered') this.onAnswered(link.id, party.id);
      } else {
        await this.end(link.id, base, step, link.kind === 'ringout');
      }
    }
  }

  private async correlate(body: SessionBody) {
    for (const p of body.parties ?? []) {
      const a = p.from?.phoneNumber;
      const b = p.to?.phoneNumber;
      if (!a || !b) continue;
      const r = await this.state.pendingFor(a, b);
      if (r) return r;
    }
    return null;
  }

  private async ringOutStep(link: { id: string; leg1: string; dest: string }, p: Party): Promise<Step> {
    const code = p.status?.code ?? '';
    let role = p.ringOutRole;
    if (role !== 'Initiator' && role !== 'Target') {
      const to = p.to?.phoneNumber;
      role = to === link.dest ? 'Target' : to === link.leg1 ? 'Initiator' : undefined;
    }
    if (!role) return null;
    if (END_CODES.has(code)) return { kind: 'end', reason: p.status?.reason };
    if (role === 'Initiator') {
      if (code === 'Proceeding') return { kind: 'status', mapped: { status: 'ringing' } };
      if (code === 'Answered') {
        await this.state.setFlag(link.id, 'leg1up');
        return { kind: 'status', mapped: { status: 'ringing' } };
      }
      if (VOICEMAIL_CODES.has(code)) return { kind: 'status', mapped: { status: 'no-answer', cause: 'session:agent-voicemail' } };
      return null;
    }
    await this.state.setFlag(link.id, 'targetSeen');
    if (RINGING_CODES.has(code)) return { kind: 'status', mapped: { status: 'ringing' } };
    if (TALKING_CODES.has(code) || VOICEMAIL_CODES.has(code)) return { kind: 'status', mapped: { status: 'answered' }, answered: true };
    if (code === 'FaxReceive') return { kind: 'status', mapped: { status: 'failed', cause: 'session:FaxReceive' } };
    return null;
  }

  private inboundStep(p: Party): Step {
    const code = p.status?.code ?? '';
    const agentParty = p.direction === 'Inbound' && !!(p.extensionId || p.to?.extensionId);
    const callerParty = p.direction === 'Outbound' && !p.from?.extensionId;
    if (agentParty) {
      if (RINGING_CODES.has(code)) return { kind: 'status', mapped: { status: 'ringing' } };
      if (TALKING_CODES.has(code)) return { kind: 'status', mapped: { status: 'answered' }, answered: true };
      if (VOICEMAIL_CODES.has(code)) return { kind: 'status', mapped: { status: 'no-answer', cause: 'session:voicemail' } };
      if (END_CODES.has(code)) return { kind: 'end', reason: p.status?.reason, agentLeg: true };
      return null;
    }
    if (callerParty && END_CODES.has(code)) return { kind: 'end', reason: p.status?.reason };
    return null;
  }

  private async end(id: string, base: Omit<StatusEvent, 'status'>, step: { reason?: string; agentLeg?: boolean }, ringOut: boolean): Promise<void> {
    const retries = ringOut ? 0 : this.opts.retries;
    if (await this.state.flag(id, 'answered')) {
      await this.emit({ ...base, status: 'completed' }, retries);
      return;
    }
    // an inbound agent-side party leaving before anyone answered is a hand-off (IVR, queue
    // member, forwarding): the call ends when the caller's party does
    if (step.agentLeg) return;
    this.timers.afterOrFlush(this.opts.graceMs, async () => {
      const mapped: Mapped = (await this.state.flag(id, 'answered'))
        ? { status: 'completed' }
        : unansweredEnd(step.reason, { canceled: await this.state.flag(id, 'cancel') });
      await this.emit({ ...base, status: mapped.status, cause: mapped.cause }, retries);
    });
  }

  /** Reports a status; for RingOuts not yet linked by the core (null), retries a few times. */
  private async emit(ev: StatusEvent, attempt: number): Promise<void> {
    const terminal = ['completed', 'failed', 'busy', 'no-answer', 'canceled'].includes(ev.status);
    const call = await this.sink.status(ev);
    if (call) {
      if (terminal) await this.state.setFlag(ev.providerCallId, 'done');
      return;
    }
    if (attempt >= this.opts.retries) return;
    this.timers.after(this.opts.retryMs, () => this.emit(ev, attempt + 1));
  }
}

export function isRingOutSession(body: SessionBody): boolean {
  return body.origin?.type === 'RingOut' || (body.parties ?? []).some((p) => p.ringOutRole === 'Initiator' || p.ringOutRole === 'Target');
}

/** The caller and DID of a session that offers an outside call to one of the account's users. */
export function inboundOffer(body: SessionBody): { from: string; to: string } | null {
  if (body.origin?.type && body.origin.type !== 'Call') return null;
  for (const p of body.parties ?? []) {
    if (p.direction !== 'Inbound') continue;
    if (!RINGING_CODES.has(p.status?.code ?? '')) continue;
    if (!(p.extensionId || p.to?.extensionId)) continue;
    if (p.from?.extensionId) continue;
    const to = p.to?.phoneNumber;
    const from = p.from?.phoneNumber;
    if (!to || !/^\+[1-9]\d{1,14}$/.test(to)) continue;
    return { from: from ?? 'anonymous', to };
  }
  return null;
}
