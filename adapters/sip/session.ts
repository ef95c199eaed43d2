// What every live SIP call (click-to-call, trial, inbound) offers the adapter, plus the small
// shared helpers they use.

import type { Logger } from 'pino';
import type { CallStatus } from '../../src/domain/types.js';
import type { SipConfig } from './config.js';
import type { Report } from './reporter.js';
import type { Dialog, NoAckAnswer, SrfLike, SrfRequest } from './srf-types.js';

export interface CallSession {
  readonly providerCallId: string;
  /** The Srf the call's dialogs live on: when its connection drops, the call is gone. */
  readonly srf: SrfLike;
  readonly ended: boolean;
  /** CANCEL what is still ringing, BYE what is established, on every leg. */
  hangUp(): Promise<void>;
  /** The drachtio connection is gone: end the call without signalling (the socket is dead). */
  connectionLost(reason: string): void;
}

export type Finish = (status: CallStatus, cause: string) => void;

/** Settles with the promise, or rejects after ms (the promise keeps running). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** How long to wait for drachtio-server to confirm it sent a request, and for BYE/teardown. */
export const SEND_CONFIRM_MS = 5_000;
export const TEARDOWN_MS = 5_000;

export function quiet(p: Promise<unknown> | undefined): void {
  if (p) p.catch(() => undefined);
}

export interface SessionDeps {
  srf: SrfLike;
  cfg: SipConfig;
  log: Logger;
  report(r: Omit<Report, 'callId'>): void;
  /** called once, as soon as the first INVITE has been sent and its Call-ID is known */
  register(s: CallSession): void;
  /** called once when the call has ended */
  unregister(s: CallSession): void;
}

/** Minimal base: the terminal report, timers, registration. */
export abstract class BaseSession implements CallSession {
  providerCallId = '';
  ended = false;
  protected hangupRequested = false;
  protected answeredAt?: number;
  private timers = new Set<NodeJS.Timeout>();
  private reported = new Set<CallStatus>();

  constructor(protected readonly d: SessionDeps) {}

  get srf(): SrfLike {
    return this.d.srf;
  }

  abstract hangUp(): Promise<void>;
  protected abstract releaseAll(): void;

  protected progress(status: 'ringing' | 'answered'): void {
    if (this.ended || this.reported.has(status)) return;
    this.reported.add(status);
    if (status === 'answered') this.answeredAt = Date.now();
    this.d.report({ providerCallId: this.providerCallId, status });
  }

  protected finish(status: CallStatus, cause: string): void {
    if (this.ended) return;
    this.ended = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // Never sent: dial() itself fails, so there is no call to report on.
    if (!this.providerCallId) return;
    const durationSec =
      status === 'completed' && this.answeredAt !== undefined ? Math.max(0, Math.round((Date.now() - this.answeredAt) / 1000)) : undefined;
    this.d.report({ providerCallId: this.providerCallId, status, cause, ...(durationSec !== undefined ? { durationSec } : {}) });
    this.d.log.debug({ providerCallId: this.providerCallId, status, cause }, 'sip call ended');
    this.d.unregister(this);
  }

  protected timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  protected clear(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  connectionLost(reason: string): void {
    this.finish(this.answeredAt !== undefined ? 'completed' : 'failed', `drachtio connection lost: ${reason}`);
    this.releaseAll();
  }

  /** Sends an INVITE and waits for drachtio-server to confirm it went out (cbRequest). */
  protected invite(
    uri: string,
    opts: Parameters<SrfLike['createUAC']>[1],
    onSent: (req: SrfRequest) => void,
    onProvisional: (status: number) => void,
  ): { sent: Promise<SrfRequest>; result: Promise<Dialog | NoAckAnswer> } {
    let resolveSent!: (r: SrfRequest) => void;
    let rejectSent!: (e: unknown) => void;
    const sent = new Promise<SrfRequest>((res, rej) => {
      resolveSent = res;
      rejectSent = rej;
    });
    const result = this.d.srf.createUAC(uri, opts, {
      cbRequest: (err, req) => {
        if (err || !req) return rejectSent(err ?? new Error('no request'));
        onSent(req);
        resolveSent(req);
      },
      cbProvisional: (res) => onProvisional(res.status),
    });
    // createUAC may reject before cbRequest (e.g. the socket just died)
    result.catch((e) => rejectSent(e));
    return { sent, result };
  }
}
