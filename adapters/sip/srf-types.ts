// The parts of drachtio-srf this adapter uses, typed from the library's source (lib/srf.js,
// lib/dialog.js, lib/request.js, lib/drachtio-agent.js, lib/wire-protocol.js) because its bundled
// .d.ts disagrees with the code in places (cbRequest is called as (err, req); createUAC with
// noAck resolves to {sdp, ack, destroy, res}).

import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

export interface SipMsg {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  body?: string;
  get(name: string): string | undefined;
  has(name: string): boolean;
}

export interface SrfRequest extends SipMsg, EventEmitter {
  method: string;
  uri: string;
  source_address: string;
  source_port: number;
  calledNumber: string;
  callingNumber: string;
  cancel(opts?: Record<string, unknown>, cb?: (err: unknown) => void): void;
}

export interface SrfResponse extends SipMsg {
  status: number;
  send(status: number, opts?: { headers?: Record<string, string>; body?: string }): void;
  send(status: number, reason: string, opts?: { headers?: Record<string, string>; body?: string }): void;
  finalResponseSent: boolean;
}

export interface Dialog extends EventEmitter {
  id: string;
  connected: boolean;
  sip: { callId: string; localTag: string; remoteTag: string };
  local: { uri: string; sdp: string };
  remote: { uri: string; sdp: string };
  destroy(opts?: { headers?: Record<string, string> }): Promise<unknown>;
}

/** What createUAC resolves to for an offerless INVITE with noAck. */
export interface NoAckAnswer {
  sdp: string;
  ack(localSdp: string): Promise<Dialog>;
  /** ACK the 200 OK (echoing its SDP) then BYE: abandons the answered leg without leaking it. */
  destroy(): Promise<void>;
  res: SrfResponse;
}

export interface UacOptions {
  headers?: Record<string, string>;
  localSdp?: string;
  noAck?: boolean;
  auth?: { username: string; password: string };
  proxy?: string;
}

export interface ProgressCallbacks {
  cbRequest?: (err: unknown, req: SrfRequest) => void;
  cbProvisional?: (res: SrfResponse) => void;
}

export interface B2buaOptions {
  headers?: Record<string, string>;
  localSdpB?: string;
  passFailure?: boolean;
  proxyRequestHeaders?: string[];
}

export interface WireProtocolLike extends EventEmitter {
  enablePing: boolean;
}

export interface SrfLike extends EventEmitter {
  connect(opts: Record<string, unknown>): unknown;
  disconnect(): void;
  invite(handler: (req: SrfRequest, res: SrfResponse) => void): void;
  createUAC(uri: string, opts: UacOptions, cbs?: ProgressCallbacks): Promise<Dialog | NoAckAnswer>;
  createB2BUA(
    req: SrfRequest,
    res: SrfResponse,
    uri: string,
    opts: B2buaOptions,
    cbs?: ProgressCallbacks,
  ): Promise<{ uas: Dialog; uac: Dialog }>;
  request(uri: string, opts: { method: string; headers?: Record<string, string> }): Promise<SrfRequest>;
  removeDialog(d: Dialog): void;
  readonly idle: boolean;
  /** internal: the connect() app whose client owns the wire protocol */
  app?: { client?: { wp?: WireProtocolLike; mapServer?: Map<Socket, unknown> } };
  _dialogs?: Map<string, Dialog>;
}

export function isNoAckAnswer(x: Dialog | NoAckAnswer): x is NoAckAnswer {
  return typeof (x as NoAckAnswer).ack === 'function' && typeof (x as NoAckAnswer).sdp === 'string';
}
