// A test double of drachtio-server: a TCP server speaking drachtio's wire protocol exactly as
// drachtio-server's src/client.cpp and src/sip-dialog-controller.cpp do (PROTOCOLS.md §4), so the
// real drachtio-srf library runs against it unchanged. Behind the wire it plays a SIP stack and the
// far ends (scripted user agents, user-agent.ts), and records every SIP message that crosses its
// "network" side, so tests can check exact INVITE/ACK/BYE/CANCEL sequences and headers.
//
// Wire protocol (every frame `<utf8 bytes>#<msgId>|<type>|...[\r\n<SIP>]`):
//   app → server  authenticate|<secret>|<tags>        → response|<id>|OK|<hostports>|<version>|<localHostports>
//                                                        or response|<id>|NO|incorrect secret, then close
//                 route|<verb>                         → response|<id>|OK
//                 ping                                 → response|<id>|OK|pong
//                 sip|||[proxy]\r\n<request>           → response|<id>|OK|application|<bytes>|udp|<addr>|<port>|<time>|<txnId>|Msg sent:|\r\n<request as sent>
//                 sip||<dialogId>\r\n<request>         → same, in-dialog (ACK, BYE, ...)
//                 sip|<inviteTxnId>|\r\nCANCEL ...     → same, or NOK unable to cancel unknown transaction id
//                 sip|<txnId>|\r\n<response>           → response|<id>|OK|application|...|<txnId>|<dialogId>||Msg sent:|\r\n<response as sent>
//   server → app  <id>|sip|network|<bytes>|udp|<addr>|<port>|<time>|<txnId>|<dialogId>|[<rcvAddr>|<rcvPort>|]\r\n<SIP>
//
// Stack behaviour copied from drachtio-server/sofia: it completes the app's requests (Via, tags,
// Call-ID, CSeq, Contact, Max-Forwards, Content-Type application/sdp when the body is SDP,
// "localhost" in From replaced by its own address); ACKs non-2xx final responses itself and
// refuses the app's ACK for them; answers an incoming CANCEL itself (200 + 487) and passes it up;
// generates 408 when a client transaction gets no final response (Timer B/F).

import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { FrameDecoder, frame, splitPayload } from './framing.js';
import { REASONS, SipMessage, hostPortOf, rand, tagOf, uriOf, userOf } from './sip-message.js';
import { FakeUa, UaInvite, type RespondOpts, type UaOptions, type UaStack } from './user-agent.js';

export { FakeUa, scripts, type InviteScript } from './user-agent.js';
export { SipMessage } from './sip-message.js';

export interface FakeDrachtioOptions {
  secret: string;
  /** the SIP address the double pretends to listen on */
  sipHost?: string;
  sipPort?: number;
  version?: string;
  /** INVITE client transaction without a final response → local 408 (Timer B, 64×T1) */
  timerBMs?: number;
  /** non-INVITE client transaction without a final response → local 408 (Timer F) */
  timerFMs?: number;
}

export interface TraceEntry {
  seq: number;
  at: number;
  ua: string;
  /** 'out': the stack sent it to the UA; 'in': the UA sent it to the stack */
  dir: 'out' | 'in';
  msg: SipMessage;
  note?: string;
}

export interface WireEntry {
  dir: 'app→server' | 'server→app';
  payload: string;
}

interface Client {
  id: number;
  socket: Socket;
  decoder: FrameDecoder;
  authenticated: boolean;
  routes: Set<string>;
  tags: string[];
  silent: boolean;
}

interface ClientTxn {
  id: string;
  client: Client;
  ua: FakeUa;
  request: SipMessage;
  method: string;
  dialogId: string;
  uaTag?: string;
  final?: number;
  invite?: UaInvite;
  timer?: NodeJS.Timeout;
}

interface ServerTxn {
  id: string;
  client: Client;
  ua: FakeUa;
  request: SipMessage;
  toTag: string;
  dialogId: string;
  final?: number;
  /** every response the app sent on it */
  responses: SipMessage[];
}

export interface DialogRec {
  id: string;
  role: 'uac' | 'uas';
  callId: string;
  /** our side's From/To value (with our tag) and the peer's */
  local: string;
  remote: string;
  /** where in-dialog requests to the peer go */
  remoteTarget: string;
  localCseq: number;
  peerCseq: number;
  inviteCseq: number;
  ua: FakeUa;
  client: Client;
  acked: boolean;
  ackTimer?: NodeJS.Timeout;
  terminating: boolean;
}

/** A call a UA placed towards the app (inbound INVITE). */
export interface InboundCall {
  callId: string;
  txnId: string;
  /** responses the UA received */
  responses: SipMessage[];
  final(): number | undefined;
}

const NOT_COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'i', 'f', 't', 'v', 'l']);

export class FakeDrachtioServer implements UaStack {
  readonly secret: string;
  readonly sipHost: string;
  readonly sipPort: number;
  readonly version: string;
  timerBMs: number;
  timerFMs: number;
  readonly trace: TraceEntry[] = [];
  readonly wire: WireEntry[] = [];
  readonly uas = new Map<string, FakeUa>();
  readonly dialogs = new Map<string, DialogRec>();
  /** frames from the app the double could not accept (for tests of the double itself) */
  readonly errors: string[] = [];
  authFailures = 0;
  connectionsAccepted = 0;
  private server: Server;
  private readonly clients = new Set<Client>();
  private readonly clientTxns = new Map<string, ClientTxn>();
  private readonly serverTxns = new Map<string, ServerTxn>();
  private readonly failedInviteDialogs = new Set<string>();
  private readonly inbound = new Map<string, InboundCall & { st: ServerTxn }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextClientId = 1;
  private rr = 0;
  private seq = 0;
  private silentNew = false;
  private closed = false;
  port = 0;

  constructor(opts: FakeDrachtioOptions) {
    this.secret = opts.secret;
    this.sipHost = opts.sipHost ?? '127.0.0.1';
    this.sipPort = opts.sipPort ?? 5060;
    this.version = opts.version ?? 'v0.9.10';
    this.timerBMs = opts.timerBMs ?? 32_000;
    this.timerFMs = opts.timerFMs ?? 32_000;
    this.server = createServer((s) => this.onConnection(s));
  }

  get sipHostPort(): string {
    return `${this.sipHost}:${this.sipPort}`;
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const d of this.dialogs.values()) if (d.ackTimer) clearTimeout(d.ackTimer);
    for (const c of this.clients) c.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- knobs ---------------------------------------------------------------------------------

  addUa(o: UaOptions): FakeUa {
    const ua = new FakeUa(o);
    this.uas.set(ua.name, ua);
    return ua;
  }

  ua(name: string): FakeUa {
    const ua = this.uas.get(name);
    if (!ua) throw new Error(`no UA named ${name}`);
    return ua;
  }

  /** Destroys every app connection (the app should reconnect). */
  dropConnections(): void {
    for (const c of this.clients) c.socket.destroy();
  }

  /** Existing connections stay open but the server stops reading and writing on them (a dead
   * peer without FIN/RST); with `alsoNew`, later connections are silent too. */
  goSilent(alsoNew = false): void {
    for (const c of this.clients) c.silent = true;
    this.silentNew = alsoNew;
  }

  wakeUp(): void {
    this.silentNew = false;
  }

  /** Authenticated app connections currently open. */
  connectedClients(): number {
    return [...this.clients].filter((c) => c.authenticated && !c.socket.destroyed).length;
  }

  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  // ---- inspection ----------------------------------------------------------------------------

  /** Arrow notation of one UA's messages, e.g. ['→INVITE', '←100', '←180', '←200', '→ACK'];
   * `callId` narrows to one call. */
  sequence(ua: string, callId?: string): string[] {
    return this.entries(ua, callId).map((e) => `${e.dir === 'out' ? '→' : '←'}${e.msg.summary}${e.msg.status && e.msg.cseq.method !== 'INVITE' ? ` ${e.msg.cseq.method}` : ''}`);
  }

  entries(ua: string, callId?: string): TraceEntry[] {
    return this.trace.filter((e) => e.ua === ua && (!callId || e.msg.callId === callId));
  }

  /** Dialogs the double still holds plus transactions without a final response. */
  leaks(): { dialogs: string[]; pending: string[] } {
    return {
      dialogs: [...this.dialogs.keys()],
      pending: [
        ...[...this.clientTxns.values()].filter((t) => !t.final).map((t) => `client ${t.method} ${t.request.callId}`),
        ...[...this.serverTxns.values()].filter((t) => !t.final).map((t) => `server ${t.request.method} ${t.request.callId}`),
      ],
    };
  }

  // ---- wire ------------------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    this.connectionsAccepted++;
    const client: Client = {
      id: this.nextClientId++,
      socket,
      decoder: new FrameDecoder(),
      authenticated: false,
      routes: new Set(),
      tags: [],
      silent: this.silentNew,
    };
    this.clients.add(client);
    socket.on('data', (chunk) => {
      if (client.silent) return;
      let payloads: string[];
      try {
        payloads = client.decoder.push(chunk as Buffer);
      } catch (err) {
        this.errors.push(`framing: ${(err as Error).message}`);
        socket.destroy();
        return;
      }
      for (const p of payloads) {
        this.wire.push({ dir: 'app→server', payload: p });
        try {
          this.onFrame(client, p);
        } catch (err) {
          this.errors.push(`frame ${p.slice(0, 80)}: ${(err as Error).message}`);
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.clients.delete(client);
    });
  }

  private send(client: Client, payload: string): void {
    if (client.silent || client.socket.destroyed) return;
    this.wire.push({ dir: 'server→app', payload });
    client.socket.write(frame(payload));
  }

  private respondApi(client: Client, msgId: string, ok: boolean, rest: string): void {
    this.send(client, `${randomUUID()}|response|${msgId}|${ok ? 'OK' : 'NOK'}${rest ? `|${rest}` : ''}`);
  }

  private onFrame(client: Client, payload: string): void {
    const { tokens, sip } = splitPayload(payload);
    const [msgId, type] = tokens;
    if (!msgId || !type) throw new Error('invalid message');
    if (type === 'authenticate') {
      if (tokens[2] !== this.secret) {
        this.authFailures++;
        this.send(client, `${randomUUID()}|response|${msgId}|NO|incorrect secret`);
        client.socket.end();
        return;
      }
      client.authenticated = true;
      client.tags = tokens[3] ? tokens[3].split(',') : [];
      this.send(client, `${randomUUID()}|response|${msgId}|OK|udp/${this.sipHostPort}|${this.version}|udp/${this.sipHostPort}`);
      return;
    }
    if (!client.authenticated) {
      // drachtio-server drops a client that talks before authenticating
      this.errors.push(`unauthenticated ${type}`);
      client.socket.destroy();
      return;
    }
    switch (type) {
      case 'ping':
        this.send(client, `${randomUUID()}|response|${msgId}|OK|pong`);
        return;
      case 'route':
        client.routes.add(tokens[2].toLowerCase());
        this.send(client, `${randomUUID()}|response|${msgId}|OK`);
        return;
      case 'remove_route':
        client.routes.delete(tokens[2].toLowerCase());
        this.send(client, `${randomUUID()}|response|${msgId}|OK`);
        return;
      case 'sip':
        this.onAppSip(client, msgId, tokens, sip);
        return;
      default:
        this.errors.push(`unknown message type ${type}`);
        this.send(client, `${randomUUID()}|response|${msgId}|NO|Unknown message type`);
    }
  }

  private meta(ua: FakeUa, bytes: number, source: 'network' | 'application'): string {
    return `${source}|${bytes}|udp|${ua.address}|${ua.port}|${Date.now()}`;
  }

  private record(ua: FakeUa, dir: 'out' | 'in', msg: SipMessage, note?: string): void {
    this.trace.push({ seq: ++this.seq, at: Date.now(), ua: ua.name, dir, msg, ...(note ? { note } : {}) });
  }

  private routeUa(uri: string): FakeUa | undefined {
    const { host, port } = hostPortOf(uri);
    for (const ua of this.uas.values()) {
      const h = hostPortOf(`sip:${ua.host}`);
      if (h.host === host && (!h.port || !port || h.port === port)) return ua;
    }
    return undefined;
  }

  // ---- requests and responses from the app ---------------------------------------------------

  private onAppSip(client: Client, msgId: string, tokens: string[], sipText: string): void {
    const txnId = tokens[2] ?? '';
    const dialogId = tokens[3] ?? '';
    let msg: SipMessage;
    try {
      msg = SipMessage.parse(sipText);
    } catch (err) {
      this.respondApi(client, msgId, false, (err as Error).message);
      return;
    }
    if (msg.status !== undefined) {
      if (!txnId) return this.respondApi(client, msgId, false, 'transaction id missing');
      return this.appResponse(client, msgId, txnId, msg);
    }
    if (dialogId) return this.appInDialog(client, msgId, dialogId, msg);
    if (txnId && msg.method === 'CANCEL') return this.appCancel(client, msgId, txnId);
    return this.appNewRequest(client, msgId, msg, tokens[4]);
  }

  /** Content-Type the way drachtio-server sets it: application/sdp for a body starting v=0. */
  private body(out: SipMessage, from: SipMessage): string | null {
    if (!from.body) return null;
    out.body = from.body;
    const ct = from.get('content-type');
    if (ct) return null;
    if (from.body.startsWith('v=0')) {
      out.set('Content-Type', 'application/sdp');
      return null;
    }
    return 'missing content-type';
  }

  private copyOthers(out: SipMessage, from: SipMessage): void {
    for (const [h, v] of from.headers) if (!NOT_COPIED.has(h.toLowerCase()) && !out.has(h)) out.add(h, v);
  }

  private appNewRequest(client: Client, msgId: string, msg: SipMessage, proxy?: string): void {
    const method = msg.method!;
    const ua = this.routeUa(proxy || msg.uri!);
    const out = SipMessage.request(method, msg.uri!);
    out.add('Via', `SIP/2.0/UDP ${this.sipHostPort};branch=z9hG4bK${rand(12)};rport`);
    out.add('Max-Forwards', msg.get('max-forwards') ?? '70');
    let from = msg.get('from') ?? `<sip:${this.sipHostPort}>`;
    from = from.replace(/@localhost(?=[>;:]|$)/, `@${this.sipHostPort}`);
    if (!tagOf(from)) from += `;tag=${rand(8)}`;
    out.add('From', from);
    out.add('To', msg.get('to') ?? `<${msg.uri}>`);
    out.add('Call-ID', msg.get('call-id') ?? `${rand(20)}`);
    out.add('CSeq', `${1 + Math.floor(Math.random() * 1000)} ${method}`);
    if ((method === 'INVITE' || method === 'SUBSCRIBE') && !msg.has('contact')) out.add('Contact', `<sip:${this.sipHostPort}>`);
    this.copyOthers(out, msg);
    const err = this.body(out, msg);
    if (err) return this.respondApi(client, msgId, false, err);
    if (!ua) return this.respondApi(client, msgId, false, `no route to ${msg.uri}`);

    const txn: ClientTxn = {
      id: randomUUID(),
      client,
      ua,
      request: out,
      method,
      dialogId: method === 'INVITE' ? `${out.callId};from-tag=${tagOf(from)}` : '',
    };
    this.clientTxns.set(txn.id, txn);
    const text = out.toString();
    this.respondApi(client, msgId, true, `${this.meta(ua, Buffer.byteLength(text), 'application')}|${txn.id}|Msg sent:|\r\n${text}`);
    this.record(ua, 'out', out);
    txn.timer = setTimeout(
      () => {
        this.timers.delete(txn.timer!);
        if (!txn.final) this.deliverResponse(txn, this.localResponse(txn, 408), 'local timeout');
      },
      method === 'INVITE' ? this.timerBMs : this.timerFMs,
    );
    this.timers.add(txn.timer);
    this.later(0, () => this.uaReceiveRequest(txn));
  }

  private localResponse(txn: ClientTxn, status: number): SipMessage {
    const res = SipMessage.response(status, REASONS[status] ?? 'Unknown');
    res.add('Via', txn.request.get('via')!);
    res.add('From', txn.request.get('from')!);
    const to = txn.request.get('to')!;
    res.add('To', tagOf(to) ? to : `${to};tag=${rand(8)}`);
    res.add('Call-ID', txn.request.callId);
    res.add('CSeq', txn.request.get('cseq')!);
    return res;
  }

  private appInDialog(client: Client, msgId: string, dialogId: string, msg: SipMessage): void {
    const d = this.dialogs.get(dialogId);
    if (msg.method === 'ACK' && !d && this.failedInviteDialogs.has(dialogId)) {
      // Exact text measured from drachtio-server v0.9.10 (sip-dialog-controller.cpp doSendRequestInsideDialog).
      return this.respondApi(client, msgId, false, 'Server error: ACK for non-success final response is automatically generated by server');
    }
    if (!d) return this.respondApi(client, msgId, false, 'Server error: unable to find dialog for dialog id provided');
    const method = msg.method!;
    const out = SipMessage.request(method, d.remoteTarget);
    out.add('Via', `SIP/2.0/UDP ${this.sipHostPort};branch=z9hG4bK${rand(12)};rport`);
    out.add('Max-Forwards', '70');
    out.add('From', d.local);
    out.add('To', d.remote);
    out.add('Call-ID', d.callId);
    out.add('CSeq', `${method === 'ACK' ? d.inviteCseq : ++d.localCseq} ${method}`);
    this.copyOthers(out, msg);
    const err = this.body(out, msg);
    if (err) return this.respondApi(client, msgId, false, err);
    const text = out.toString();
    const txnId = randomUUID();
    this.respondApi(client, msgId, true, `${this.meta(d.ua, Buffer.byteLength(text), 'application')}|${txnId}|Msg sent:|\r\n${text}`);
    this.record(d.ua, 'out', out);
    if (method === 'ACK') {
      d.acked = true;
      if (d.ackTimer) {
        clearTimeout(d.ackTimer);
        this.timers.delete(d.ackTimer);
      }
      const inv = this.clientTxns.get(this.inviteTxnOf(d))?.invite;
      if (inv) inv.acked = out;
      return;
    }
    if (method === 'BYE') d.terminating = true;
    const txn: ClientTxn = { id: txnId, client, ua: d.ua, request: out, method, dialogId: d.id };
    this.clientTxns.set(txnId, txn);
    txn.timer = setTimeout(() => {
      this.timers.delete(txn.timer!);
      if (!txn.final) this.deliverResponse(txn, this.localResponse(txn, 408), 'local timeout');
    }, this.timerFMs);
    this.timers.add(txn.timer);
    // In-dialog requests: the UA accepts them all (200), which ends the dialog for BYE.
    this.later(0, () => this.uaRespond(txnId, 200));
  }

  private inviteTxnOf(d: DialogRec): string {
    for (const t of this.clientTxns.values()) if (t.method === 'INVITE' && t.dialogId === d.id) return t.id;
    return '';
  }

  private appCancel(client: Client, msgId: string, txnId: string): void {
    const txn = this.clientTxns.get(txnId);
    if (!txn || txn.method !== 'INVITE' || (txn.final !== undefined && txn.final >= 200)) {
      return this.respondApi(client, msgId, false, `unable to cancel unknown transaction id: ${txnId}`);
    }
    const out = SipMessage.request('CANCEL', txn.request.uri!);
    out.add('Via', txn.request.get('via')!);
    out.add('Max-Forwards', '70');
    out.add('From', txn.request.get('from')!);
    out.add('To', txn.request.get('to')!);
    out.add('Call-ID', txn.request.callId);
    out.add('CSeq', `${txn.request.cseq.seq} CANCEL`);
    const text = out.toString();
    this.respondApi(client, msgId, true, `${this.meta(txn.ua, Buffer.byteLength(text), 'application')}|${randomUUID()}|Msg sent:|\r\n${text}`);
    this.record(txn.ua, 'out', out);
    this.later(0, () => {
      // The UA answers 200 to the CANCEL (the stack keeps that to itself) and 487 to the INVITE.
      const ok = SipMessage.response(200, 'OK');
      for (const h of ['Via', 'From', 'To', 'Call-ID']) ok.add(h, out.get(h)!);
      ok.add('CSeq', out.get('CSeq')!);
      this.record(txn.ua, 'in', ok);
      const inv = txn.invite;
      if (inv && !inv.final) {
        inv.canceled = true;
        inv.respond(487);
      }
    });
  }

  private appResponse(client: Client, msgId: string, txnId: string, msg: SipMessage): void {
    const st = this.serverTxns.get(txnId);
    if (!st || (st.final !== undefined && st.final >= 200)) {
      return this.respondApi(client, msgId, false, 'Response not sent due to unknown transaction');
    }
    const req = st.request;
    const status = msg.status!;
    const out = SipMessage.response(status, msg.reason || REASONS[status] || 'Unknown');
    for (const v of req.getAll('via')) out.add('Via', v);
    out.add('From', req.get('from')!);
    const to = req.get('to')!;
    out.add('To', status > 100 && !tagOf(to) ? `${to};tag=${st.toTag}` : to);
    out.add('Call-ID', req.callId);
    out.add('CSeq', req.get('cseq')!);
    if (req.method === 'INVITE' && status > 100 && status < 300 && !msg.has('contact')) out.add('Contact', `<sip:${this.sipHostPort}>`);
    this.copyOthers(out, msg);
    const err = this.body(out, msg);
    if (err) return this.respondApi(client, msgId, false, err);
    const text = out.toString();
    this.respondApi(
      client,
      msgId,
      true,
      `${this.meta(st.ua, Buffer.byteLength(text), 'application')}|${st.id}|${st.dialogId}||Msg sent:|\r\n${text}`,
    );
    this.record(st.ua, 'out', out);
    st.responses.push(out);
    if (status < 200) return;
    st.final = status;
    this.serverTxns.delete(st.id);
    if (req.method === 'INVITE') {
      if (status < 300) {
        const d: DialogRec = {
          id: st.dialogId,
          role: 'uas',
          callId: req.callId,
          local: out.get('to')!,
          remote: req.get('from')!,
          remoteTarget: uriOf(req.get('contact')),
          localCseq: 1 + Math.floor(Math.random() * 1000),
          peerCseq: req.cseq.seq,
          inviteCseq: req.cseq.seq,
          ua: st.ua,
          client,
          acked: false,
          terminating: false,
        };
        this.dialogs.set(d.id, d);
        // the calling UA ACKs the 200 OK end to end; the stack passes the ACK up
        this.later(1, () => this.uaAck(d));
      } else {
        // a non-2xx is ACKed hop by hop and absorbed by the stack
        const ack = SipMessage.request('ACK', req.uri!);
        ack.add('Via', req.get('via')!);
        ack.add('From', req.get('from')!);
        ack.add('To', out.get('to')!);
        ack.add('Call-ID', req.callId);
        ack.add('CSeq', `${req.cseq.seq} ACK`);
        this.record(st.ua, 'in', ack);
      }
    } else if (req.method === 'BYE') {
      this.dialogs.delete(st.dialogId);
    }
  }

  // ---- the UAs' side ---------------------------------------------------------------------------

  private uaReceiveRequest(txn: ClientTxn): void {
    const ua = txn.ua;
    const req = txn.request;
    if (req.method === 'INVITE') {
      const inv = new UaInvite(this, ua, txn.id, req);
      txn.invite = inv;
      ua.invites.push(inv);
      if (ua.trying) this.uaRespond(txn.id, 100);
      ua.scriptFor(userOf(req.uri!))(inv);
      return;
    }
    if (req.method === 'OPTIONS') {
      ua.optionsReceived++;
      if (ua.optionsStatus !== null) this.uaRespond(txn.id, ua.optionsStatus);
      return;
    }
    this.uaRespond(txn.id, 481);
  }

  /** A UA answers a request the stack sent it. */
  uaRespond(txnId: string, status: number, opts: RespondOpts = {}): void {
    const txn = this.clientTxns.get(txnId);
    if (!txn || (txn.final !== undefined && txn.final >= 200)) return;
    const req = txn.request;
    const res = SipMessage.response(status, REASONS[status] ?? 'Unknown');
    res.add('Via', req.get('via')!);
    res.add('From', req.get('from')!);
    const to = req.get('to')!;
    if (status > 100 && !tagOf(to)) txn.uaTag ??= rand(8);
    res.add('To', status > 100 && !tagOf(to) ? `${to};tag=${txn.uaTag}` : to);
    res.add('Call-ID', req.callId);
    res.add('CSeq', req.get('cseq')!);
    if (req.method === 'INVITE' && status > 100 && status < 300) {
      res.add('Contact', `<sip:${userOf(req.uri!) || txn.ua.name}@${txn.ua.address}:${txn.ua.port}>`);
    }
    for (const [h, v] of opts.headers ?? []) res.add(h, v);
    if (opts.body) {
      res.body = opts.body;
      res.set('Content-Type', 'application/sdp');
    }
    this.record(txn.ua, 'in', res);
    this.deliverResponse(txn, res);
  }

  private deliverResponse(txn: ClientTxn, res: SipMessage, note?: string): void {
    const status = res.status!;
    // a response the stack made up itself (Timer B/F) is traced with a note
    if (note) this.record(txn.ua, 'in', res, note);
    if (status >= 200) {
      txn.final = status;
      if (txn.timer) {
        clearTimeout(txn.timer);
        this.timers.delete(txn.timer);
      }
      if (txn.invite && !txn.invite.final) txn.invite.final = status;
    }
    if (txn.method === 'INVITE' && status >= 200) {
      if (status < 300) {
        const d: DialogRec = {
          id: txn.dialogId,
          role: 'uac',
          callId: txn.request.callId,
          local: txn.request.get('from')!,
          remote: res.get('to')!,
          remoteTarget: uriOf(res.get('contact')) || txn.request.uri!,
          localCseq: txn.request.cseq.seq,
          peerCseq: 1 + Math.floor(Math.random() * 1000),
          inviteCseq: txn.request.cseq.seq,
          ua: txn.ua,
          client: txn.client,
          acked: false,
          terminating: false,
        };
        this.dialogs.set(d.id, d);
        const ua = txn.ua;
        d.ackTimer = setTimeout(() => {
          this.timers.delete(d.ackTimer!);
          if (d.acked || this.closed || !this.dialogs.has(d.id)) return;
          ua.ackTimeouts++;
          this.uaBye(d, 'no ACK within 64×T1');
        }, ua.ackTimeoutMs);
        this.timers.add(d.ackTimer);
      } else {
        this.failedInviteDialogs.add(txn.dialogId);
        const ack = SipMessage.request('ACK', txn.request.uri!);
        ack.add('Via', txn.request.get('via')!);
        ack.add('Max-Forwards', '70');
        ack.add('From', txn.request.get('from')!);
        ack.add('To', res.get('to')!);
        ack.add('Call-ID', txn.request.callId);
        ack.add('CSeq', `${txn.request.cseq.seq} ACK`);
        this.record(txn.ua, 'out', ack, 'stack ACK for non-2xx');
      }
    }
    if (txn.method === 'BYE' && status >= 200) this.dialogs.delete(txn.dialogId);
    if (status >= 200 && txn.method !== 'INVITE') this.clientTxns.delete(txn.id);
    if (status >= 300 && txn.method === 'INVITE') this.clientTxns.delete(txn.id);
    const text = res.toString();
    this.send(txn.client, `${randomUUID()}|sip|${this.meta(txn.ua, Buffer.byteLength(text), 'network')}|${txn.id}|${txn.dialogId}|\r\n${text}`);
  }

  private uaAck(d: DialogRec): void {
    if (!this.dialogs.has(d.id)) return;
    const ack = SipMessage.request('ACK', `sip:${this.sipHostPort}`);
    ack.add('Via', `SIP/2.0/UDP ${d.ua.address}:${d.ua.port};branch=z9hG4bK${rand(12)};rport`);
    ack.add('Max-Forwards', '70');
    ack.add('From', d.remote);
    ack.add('To', d.local);
    ack.add('Call-ID', d.callId);
    ack.add('CSeq', `${d.inviteCseq} ACK`);
    this.record(d.ua, 'in', ack);
    d.acked = true;
    const text = ack.toString();
    this.send(d.client, `${randomUUID()}|sip|${this.meta(d.ua, Buffer.byteLength(text), 'network')}|${randomUUID()}|${d.id}|\r\n${text}`);
  }

  /** The peer UA of a dialog hangs up (BYE towards the app). */
  private uaBye(d: DialogRec, note?: string): void {
    if (!this.dialogs.has(d.id) || d.terminating) return;
    d.terminating = true;
    const bye = SipMessage.request('BYE', `sip:${this.sipHostPort}`);
    bye.add('Via', `SIP/2.0/UDP ${d.ua.address}:${d.ua.port};branch=z9hG4bK${rand(12)};rport`);
    bye.add('Max-Forwards', '70');
    bye.add('From', d.remote);
    bye.add('To', d.local);
    bye.add('Call-ID', d.callId);
    bye.add('CSeq', `${++d.peerCseq} BYE`);
    this.record(d.ua, 'in', bye, note);
    const st: ServerTxn = { id: randomUUID(), client: d.client, ua: d.ua, request: bye, toTag: '', dialogId: d.id, responses: [] };
    this.serverTxns.set(st.id, st);
    const text = bye.toString();
    this.send(d.client, `${randomUUID()}|sip|${this.meta(d.ua, Buffer.byteLength(text), 'network')}|${st.id}|${d.id}|\r\n${text}`);
  }

  /** The UA `uaName` hangs up its established call `callId` (sends BYE). */
  hangUpFrom(uaName: string, callId?: string): void {
    const d = [...this.dialogs.values()].find((x) => x.ua.name === uaName && (!callId || x.callId === callId));
    if (!d) throw new Error(`no dialog of ${uaName}${callId ? ` for ${callId}` : ''}`);
    this.uaBye(d);
  }

  dialogOf(uaName: string, callId?: string): DialogRec | undefined {
    return [...this.dialogs.values()].find((x) => x.ua.name === uaName && (!callId || x.callId === callId));
  }

  /** A UA (e.g. the carrier side of the trunk) places an inbound call to DID `to`. */
  placeCall(uaName: string, o: { to: string; from: string; body?: string; requestUser?: string }): InboundCall {
    const ua = this.ua(uaName);
    const callId = `${rand(16)}@${ua.address}`;
    const fromTag = rand(8);
    const user = o.requestUser ?? o.to;
    const req = SipMessage.request('INVITE', `sip:${user}@${this.sipHostPort}`);
    req.add('Via', `SIP/2.0/UDP ${ua.address}:${ua.port};branch=z9hG4bK${rand(12)};rport`);
    req.add('Max-Forwards', '70');
    req.add('From', `<sip:${o.from}@${ua.address}>;tag=${fromTag}`);
    req.add('To', `<sip:${o.to}@${this.sipHostPort}>`);
    req.add('Call-ID', callId);
    req.add('CSeq', '1 INVITE');
    req.add('Contact', `<sip:${o.from}@${ua.address}:${ua.port}>`);
    req.body = o.body ?? ua.sdp();
    req.add('Content-Type', 'application/sdp');
    this.record(ua, 'in', req);
    const trying = SipMessage.response(100, 'Trying');
    for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) trying.add(h, req.get(h)!);
    this.record(ua, 'out', trying, 'stack');

    const candidates = [...this.clients].filter((c) => c.authenticated && c.routes.has('invite') && !c.socket.destroyed);
    const st: ServerTxn = {
      id: randomUUID(),
      client: candidates[this.rr++ % Math.max(1, candidates.length)]!,
      ua,
      request: req,
      toTag: rand(8),
      dialogId: `${callId};from-tag=${fromTag}`,
      responses: [],
    };
    const call = {
      callId,
      txnId: st.id,
      st,
      responses: st.responses,
      final: () => st.final,
    };
    this.inbound.set(callId, call);
    if (!candidates.length) {
      const res = SipMessage.response(503, 'Service Unavailable');
      for (const h of ['Via', 'From', 'Call-ID', 'CSeq']) res.add(h, req.get(h)!);
      res.add('To', `${req.get('To')};tag=${st.toTag}`);
      this.record(ua, 'out', res, 'no app');
      st.final = 503;
      st.responses.push(res);
      return call;
    }
    this.serverTxns.set(st.id, st);
    const text = req.toString();
    this.send(
      st.client,
      `${randomUUID()}|sip|${this.meta(ua, Buffer.byteLength(text), 'network')}|${st.id}||${this.sipHost}|${this.sipPort}|\r\n${text}`,
    );
    return call;
  }

  /** The caller of an inbound call hangs up before answer: sofia answers the CANCEL (200) and the
   * INVITE (487) itself, then passes the CANCEL up. */
  cancelCall(callId: string): void {
    const call = this.inbound.get(callId);
    if (!call) throw new Error(`no inbound call ${callId}`);
    const st = call.st;
    if (st.final) return;
    const req = st.request;
    const cancel = SipMessage.request('CANCEL', req.uri!);
    cancel.add('Via', req.get('via')!);
    cancel.add('Max-Forwards', '70');
    cancel.add('From', req.get('from')!);
    cancel.add('To', req.get('to')!);
    cancel.add('Call-ID', callId);
    cancel.add('CSeq', `${req.cseq.seq} CANCEL`);
    this.record(st.ua, 'in', cancel);
    const ok = SipMessage.response(200, 'OK');
    for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) ok.add(h, cancel.get(h)!);
    this.record(st.ua, 'out', ok, 'stack');
    const r487 = SipMessage.response(487, 'Request Terminated');
    for (const h of ['Via', 'From', 'Call-ID', 'CSeq']) r487.add(h, req.get(h)!);
    r487.add('To', `${req.get('to')};tag=${st.toTag}`);
    this.record(st.ua, 'out', r487, 'stack');
    st.responses.push(r487);
    st.final = 487;
    this.serverTxns.delete(st.id);
    const ack = SipMessage.request('ACK', req.uri!);
    for (const h of ['Via', 'From', 'Call-ID']) ack.add(h, req.get(h)!);
    ack.add('To', r487.get('to')!);
    ack.add('CSeq', `${req.cseq.seq} ACK`);
    this.record(st.ua, 'in', ack);
    const text = cancel.toString();
    this.send(st.client, `${randomUUID()}|sip|${this.meta(st.ua, Buffer.byteLength(text), 'network')}|${st.id}|${st.dialogId}|\r\n${text}`);
  }
}
