// The far ends the drachtio-server double plays: scripted SIP user agents (an agent's phone, a
// trunk that also answers OPTIONS, a carrier sending inbound calls). A script decides what a UA
// does with each INVITE it receives: ring, answer with SDP, reject, never answer...

import { sdp as makeSdp, type SipMessage } from './sip-message.js';

export interface RespondOpts {
  body?: string;
  headers?: Array<[string, string]>;
}

/** What the stack offers the UAs (implemented by FakeDrachtioServer). */
export interface UaStack {
  later(ms: number, fn: () => void): void;
  uaRespond(txnId: string, status: number, opts?: RespondOpts): void;
}

/** An INVITE a UA received from the stack, and the UA's side of its transaction. */
export class UaInvite {
  final?: number;
  canceled = false;
  acked?: SipMessage;

  constructor(
    private readonly stack: UaStack,
    readonly ua: FakeUa,
    readonly txnId: string,
    readonly request: SipMessage,
  ) {}

  get user(): string {
    return /^sips?:([^@;]+)@/.exec(this.request.uri ?? '')?.[1] ?? '';
  }

  respond(status: number, opts?: RespondOpts): void {
    if (this.final) return;
    if (status >= 200) this.final = status;
    this.stack.uaRespond(this.txnId, status, opts);
  }

  answer(body = this.ua.sdp()): void {
    this.respond(200, { body });
  }

  /** Runs a script step later, unless the transaction has ended by then (e.g. canceled). */
  after(ms: number, fn: () => void): void {
    this.stack.later(ms, () => {
      if (!this.final) fn();
    });
  }
}

export type InviteScript = (inv: UaInvite) => void;

export const scripts = {
  /** 180 after ringMs, 200 OK with SDP after answerMs (both from the INVITE). */
  answer:
    (o: { ringMs?: number; answerMs?: number; sdp?: string } = {}): InviteScript =>
    (inv) => {
      inv.after(o.ringMs ?? 5, () => inv.respond(180));
      inv.after(o.answerMs ?? 20, () => inv.answer(o.sdp));
    },
  /** 180 then a final failure status. */
  reject:
    (status: number, o: { ringMs?: number; afterMs?: number } = {}): InviteScript =>
    (inv) => {
      inv.after(o.ringMs ?? 5, () => inv.respond(180));
      inv.after(o.afterMs ?? 20, () => inv.respond(status));
    },
  /** 180 and nothing else: only a CANCEL (→ 487) ends it. */
  ringForever:
    (o: { ringMs?: number } = {}): InviteScript =>
    (inv) => {
      inv.after(o.ringMs ?? 5, () => inv.respond(180));
    },
  /** A broken UA that answers an offerless INVITE without an offer. */
  answerWithoutSdp:
    (o: { answerMs?: number } = {}): InviteScript =>
    (inv) => {
      inv.after(o.answerMs ?? 10, () => inv.respond(200));
    },
};

export interface UaOptions {
  name: string;
  /** Request-URI host the stack routes to this UA */
  host: string;
  /** the UA's (simulated) address and port; nothing is ever sent there */
  address: string;
  port?: number;
  script?: InviteScript;
  /** OPTIONS answer; null = never answer */
  optionsStatus?: number | null;
  /** RFC 3261 §13.3.1.4: a UAS that sent 200 OK and got no ACK within 64×T1 sends BYE */
  ackTimeoutMs?: number;
  /** send 100 Trying on every INVITE */
  trying?: boolean;
}

export class FakeUa {
  readonly name: string;
  readonly host: string;
  readonly address: string;
  readonly port: number;
  script: InviteScript;
  /** per Request-URI user: overrides `script` */
  readonly scriptsByUser = new Map<string, InviteScript>();
  optionsStatus: number | null;
  ackTimeoutMs: number;
  trying: boolean;
  readonly invites: UaInvite[] = [];
  optionsReceived = 0;
  ackTimeouts = 0;

  constructor(o: UaOptions) {
    this.name = o.name;
    this.host = o.host;
    this.address = o.address;
    this.port = o.port ?? 5060;
    this.script = o.script ?? scripts.answer();
    this.optionsStatus = o.optionsStatus === undefined ? 200 : o.optionsStatus;
    this.ackTimeoutMs = o.ackTimeoutMs ?? 32_000;
    this.trying = o.trying ?? true;
  }

  scriptFor(user: string): InviteScript {
    return this.scriptsByUser.get(user) ?? this.script;
  }

  sdp(): string {
    return makeSdp(`${this.name}-${this.invites.length}`, this.address, 40000 + this.invites.length * 2);
  }
}
