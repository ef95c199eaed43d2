// Click-to-call by third-party call control (RFC 3725 flow I, PROTOCOLS.md §4):
//   1. offerless INVITE to the agent (noAck) → the agent's 200 OK carries its SDP offer;
//   2. INVITE the customer through the trunk with that offer;
//   3. ACK the agent with the customer's answer; join the two dialogs (a BYE on one ends both).
// The agent's 200 OK stays unacknowledged while the customer rings, so the customer leg is bounded
// (customerLegTimeoutMs < 64×T1): on timeout we CANCEL it and ACK-then-BYE the agent.

import type { DialRequest, DialResult } from '../../src/providers/adapter.js';
import { ProviderError } from '../../src/providers/adapter.js';
import { trunkTarget, type SipConfig } from './config.js';
import { BaseSession, SEND_CONFIRM_MS, TEARDOWN_MS, quiet, within, type SessionDeps } from './session.js';
import { errorReason, errorStatus, sipCause, statusForFailure } from './status-map.js';
import { isNoAckAnswer, type Dialog, type NoAckAnswer, type SrfRequest } from './srf-types.js';

function uacAuth(cfg: SipConfig) {
  return cfg.trunk.username && cfg.trunk.password ? { auth: { username: cfg.trunk.username, password: cfg.trunk.password } } : {};
}

/** Headers presenting our caller id to the customer; "localhost" is replaced by drachtio-server's own address. */
function customerHeaders(cfg: SipConfig): Record<string, string> {
  return {
    From: `<sip:${cfg.callerId}@localhost>`,
    'P-Asserted-Identity': `<sip:${cfg.callerId}@${cfg.trunk.parsed.host}>`,
  };
}

function dialError(err: unknown, leg: string): ProviderError {
  const status = errorStatus(err);
  if (status !== undefined) return new ProviderError('provider_error', sipCause('agent', status, errorReason(err)));
  return new ProviderError('provider_unavailable', `drachtio-server did not send the ${leg} INVITE: ${errorReason(err) ?? 'unknown error'}`);
}

export class ClickToCallSession extends BaseSession {
  private agentReq?: SrfRequest;
  private customerReq?: SrfRequest;
  private agentPending?: NoAckAnswer;
  private agentDlg?: Dialog;
  private customerDlg?: Dialog;
  private agentTimedOut = false;
  private customerTimedOut = false;
  private agentTimer?: NodeJS.Timeout;

  constructor(
    d: SessionDeps,
    private readonly req: DialRequest,
  ) {
    super(d);
  }

  async start(): Promise<DialResult> {
    const sipUri = this.req.user?.sipUri;
    if (!sipUri) throw new ProviderError('provider_error', 'the user has no sipUri: the sip provider rings the agent at it');
    const { sent, result } = this.invite(
      sipUri,
      {
        noAck: true,
        // The agent's phone shows whom it is about to be connected to.
        headers: { From: `"${this.req.to}" <sip:${this.req.to}@localhost>` },
      },
      (r) => {
        this.agentReq = r;
        this.providerCallId = r.get('Call-ID') ?? '';
        if (this.ended) {
          quiet(Promise.resolve().then(() => r.cancel()));
          return;
        }
        this.d.register(this);
      },
      (status) => {
        if (status === 180 || status === 183) this.progress('ringing');
      },
    );
    result.then(
      (ans) => this.onAgentAnswered(ans),
      (err) => this.onAgentFailed(err),
    );
    let r: SrfRequest;
    try {
      r = await within(sent, SEND_CONFIRM_MS, 'agent INVITE');
    } catch (err) {
      // Not reported through the sink: the dial itself fails (and may fail over).
      this.ended = true;
      throw dialError(err, 'agent');
    }
    this.agentTimer = this.timer(this.d.cfg.agentLegTimeoutMs, () => {
      if (this.agentPending || this.agentDlg || this.ended) return;
      this.agentTimedOut = true;
      this.cancel(r);
    });
    return { providerCallId: r.get('Call-ID') ?? this.providerCallId, status: 'dialing', from: this.d.cfg.callerId };
  }

  private cancel(r: SrfRequest | undefined): void {
    if (!r) return;
    try {
      r.cancel({}, () => undefined);
    } catch (err) {
      this.d.log.debug({ err: (err as Error).message }, 'sip: CANCEL not sent');
    }
  }

  private async onAgentAnswered(ans: Dialog | NoAckAnswer): Promise<void> {
    this.clear(this.agentTimer);
    if (!isNoAckAnswer(ans)) {
      // A 200 OK without an offer cannot be bridged; srf has already ACKed it.
      quiet(ans.destroy());
      this.finish('failed', 'agent leg: 200 OK without an SDP offer');
      return;
    }
    if (this.ended) {
      quiet(ans.destroy());
      return;
    }
    this.agentPending = ans;
    if (this.hangupRequested) {
      // Our CANCEL crossed the agent's 200 OK.
      this.finish('canceled', 'hang-up requested');
      this.abandonAgent();
      return;
    }
    await this.callCustomer(ans);
  }

  private onAgentFailed(err: unknown): void {
    this.clear(this.agentTimer);
    if (this.ended) return;
    const status = errorStatus(err);
    this.finish(
      statusForFailure(status, { weCanceled: this.hangupRequested, timedOut: this.agentTimedOut }),
      this.agentTimedOut ? 'agent leg: no answer (timeout)' : sipCause('agent', status, errorReason(err)),
    );
  }

  private async callCustomer(ans: NoAckAnswer): Promise<void> {
    const cfg = this.d.cfg;
    const limit = this.timer(cfg.customerLegTimeoutMs, () => {
      this.customerTimedOut = true;
      this.cancel(this.customerReq);
    });
    let dlgB: Dialog;
    try {
      const { result } = this.invite(
        trunkTarget(cfg.trunk.parsed, this.req.to),
        { localSdp: ans.sdp, headers: customerHeaders(cfg), ...uacAuth(cfg) },
        (r) => {
          this.customerReq = r;
          if (this.customerTimedOut || this.hangupRequested || this.ended) this.cancel(r);
        },
        () => undefined,
      );
      const out = await result;
      if (isNoAckAnswer(out)) throw new Error('unexpected 3pcc answer on the customer leg');
      dlgB = out;
    } catch (err) {
      this.clear(limit);
      const status = errorStatus(err);
      this.finish(
        statusForFailure(status, { weCanceled: this.hangupRequested, timedOut: this.customerTimedOut }),
        this.customerTimedOut ? 'customer leg: no answer (timeout)' : sipCause('customer', status, errorReason(err)),
      );
      this.abandonAgent();
      return;
    }
    this.clear(limit);
    if (this.ended || this.hangupRequested) {
      this.finish('canceled', 'hang-up requested');
      quiet(within(dlgB.destroy(), TEARDOWN_MS, 'BYE'));
      this.abandonAgent();
      return;
    }
    let dlgA: Dialog;
    try {
      dlgA = await ans.ack(dlgB.remote.sdp);
    } catch (err) {
      this.finish('failed', `agent leg: ACK failed: ${errorReason(err) ?? 'unknown'}`);
      quiet(within(dlgB.destroy(), TEARDOWN_MS, 'BYE'));
      this.abandonAgent();
      return;
    }
    this.agentPending = undefined;
    this.agentDlg = dlgA;
    this.customerDlg = dlgB;
    dlgA.on('destroy', () => {
      this.finish('completed', 'agent hung up');
      quiet(within(dlgB.destroy(), TEARDOWN_MS, 'BYE'));
    });
    dlgB.on('destroy', () => {
      this.finish('completed', 'customer hung up');
      quiet(within(dlgA.destroy(), TEARDOWN_MS, 'BYE'));
    });
    this.progress('answered');
  }

  /** The agent answered but will not be bridged: ACK its 200 OK, then BYE. */
  private abandonAgent(): void {
    const p = this.agentPending;
    this.agentPending = undefined;
    if (p) quiet(within(p.destroy(), TEARDOWN_MS, 'agent teardown'));
  }

  async hangUp(): Promise<void> {
    if (this.ended) return;
    this.hangupRequested = true;
    if (this.agentDlg && this.customerDlg) {
      const a = this.agentDlg;
      const b = this.customerDlg;
      this.finish('completed', 'hang-up requested');
      await Promise.allSettled([within(a.destroy(), TEARDOWN_MS, 'BYE'), within(b.destroy(), TEARDOWN_MS, 'BYE')]);
      return;
    }
    if (this.customerReq) {
      this.cancel(this.customerReq);
      return;
    }
    // Agent answered and the customer INVITE is not yet confirmed sent: the customer leg's
    // cbRequest sees hangupRequested and cancels it.
    if (this.agentPending) return;
    this.cancel(this.agentReq);
  }

  protected releaseAll(): void {
    // The socket is gone; drop srf's bookkeeping so nothing dangles.
    for (const d of [this.agentDlg, this.customerDlg]) if (d) this.d.srf.removeDialog(d);
  }
}

/** Trial calls ring the destination directly through the trunk (offerless; srf ACKs with a
 * recvonly copy of the far end's SDP), then hang up after hangUpAfterMs. */
export class TrialSession extends BaseSession {
  private reqSent?: SrfRequest;
  private dlg?: Dialog;
  private timedOut = false;

  constructor(
    d: SessionDeps,
    private readonly req: DialRequest,
  ) {
    super(d);
  }

  async start(): Promise<DialResult> {
    const cfg = this.d.cfg;
    const { sent, result } = this.invite(
      trunkTarget(cfg.trunk.parsed, this.req.to),
      { headers: customerHeaders(cfg), ...uacAuth(cfg) },
      (r) => {
        this.reqSent = r;
        this.providerCallId = r.get('Call-ID') ?? '';
        if (this.ended) {
          quiet(Promise.resolve().then(() => r.cancel()));
          return;
        }
        this.d.register(this);
      },
      (status) => {
        if (status === 180 || status === 183) this.progress('ringing');
      },
    );
    result.then(
      (dlg) => this.onAnswered(dlg),
      (err) => this.onFailed(err),
    );
    let r: SrfRequest;
    try {
      r = await within(sent, SEND_CONFIRM_MS, 'trial INVITE');
    } catch (err) {
      this.ended = true;
      throw dialError(err, 'trial');
    }
    this.timer(cfg.customerLegTimeoutMs, () => {
      if (this.dlg || this.ended) return;
      this.timedOut = true;
      try {
        r.cancel({}, () => undefined);
      } catch {
        /* already final */
      }
    });
    return { providerCallId: r.get('Call-ID') ?? this.providerCallId, status: 'dialing', from: cfg.callerId };
  }

  private onAnswered(out: Dialog | NoAckAnswer): void {
    if (isNoAckAnswer(out)) {
      quiet(out.destroy());
      this.finish('failed', 'unexpected 3pcc answer');
      return;
    }
    if (this.ended || this.hangupRequested) {
      this.finish('canceled', 'hang-up requested');
      quiet(within(out.destroy(), TEARDOWN_MS, 'BYE'));
      return;
    }
    this.dlg = out;
    out.on('destroy', () => this.finish('completed', 'destination hung up'));
    this.progress('answered');
    this.timer(this.req.hangUpAfterMs ?? 5_000, () => void this.hangUp());
  }

  private onFailed(err: unknown): void {
    if (this.ended) return;
    const status = errorStatus(err);
    this.finish(
      statusForFailure(status, { weCanceled: this.hangupRequested, timedOut: this.timedOut }),
      this.timedOut ? 'destination: no answer (timeout)' : sipCause('customer', status, errorReason(err)),
    );
  }

  async hangUp(): Promise<void> {
    if (this.ended) return;
    this.hangupRequested = true;
    const dlg = this.dlg;
    if (dlg) {
      this.finish('completed', 'hang-up requested');
      await within(dlg.destroy(), TEARDOWN_MS, 'BYE').catch(() => undefined);
      return;
    }
    try {
      this.reqSent?.cancel({}, () => undefined);
    } catch {
      /* already final */
    }
  }

  protected releaseAll(): void {
    if (this.dlg) this.d.srf.removeDialog(this.dlg);
  }
}
