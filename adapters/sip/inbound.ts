// Inbound INVITEs: one dispatcher per drachtio connection picks the sip provider, the core maps
// the DID to a user (screen pop at once), and a B2BUA bridges the caller to the user's sipUri.
//
// Several sip providers may share one drachtio connection, so every INVITE on it is dispatched:
//   1. providers whose inboundAllow (when set) does not admit the source address are left out;
//      if none is left → 403;
//   2. the rest are tried in order, those whose trunk host is the source address first
//      (an IP literal, or the trunk hostname's resolved addresses), then the others;
//   3. the first whose sink.inbound() knows the DID takes the call; none → 404.
// So a DID is always owned by the provider the core assigned it to, and a trunk whose host
// matches wins when two providers could both claim a number.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import type { Logger } from 'pino';
import type { CallEventSink, InboundRoute } from '../../src/providers/adapter.js';
import type { SipConfig } from './config.js';
import { BaseSession, TEARDOWN_MS, quiet, within, type SessionDeps } from './session.js';
import { errorReason, errorStatus, sipCause, statusForFailure } from './status-map.js';
import type { Dialog, SrfRequest, SrfResponse } from './srf-types.js';

export interface InboundProvider {
  readonly providerId: string;
  readonly cfg: SipConfig;
  readonly sink: CallEventSink;
  /** ISO country used to read a national-format DID, when the provider serves exactly one */
  readonly defaultCountry?: string;
  /** Bridges an accepted INVITE to the user (B2BUA). */
  bridge(req: SrfRequest, res: SrfResponse, route: InboundRoute, canceled: () => boolean): void;
}

/** The user part of a SIP URI or name-addr, without parameters. */
export function userPart(uriOrHeader: string | undefined): string {
  if (!uriOrHeader) return '';
  const m = /sips?:([^@;>]+)@/i.exec(uriOrHeader) ?? /tel:([^;>]+)/i.exec(uriOrHeader);
  return m ? decodeURIComponent(m[1]) : '';
}

/** A DID or caller number as E.164, or null. */
export function toE164(raw: string, defaultCountry?: string): string | null {
  const s = raw.replace(/[\s().-]/g, '');
  if (!s) return null;
  let candidate = s;
  if (s.startsWith('00')) candidate = `+${s.slice(2)}`;
  if (candidate.startsWith('+')) {
    const p = parsePhoneNumberFromString(candidate);
    if (p?.isValid()) return p.number;
    return /^\+[1-9]\d{6,14}$/.test(candidate) ? candidate : null;
  }
  if (!/^\d+$/.test(candidate)) return null;
  if (defaultCountry) {
    const p = parsePhoneNumberFromString(candidate, defaultCountry as CountryCode);
    if (p?.isValid()) return p.number;
  }
  const p = parsePhoneNumberFromString(`+${candidate}`);
  if (p?.isValid()) return p.number;
  return /^[1-9]\d{6,14}$/.test(candidate) ? `+${candidate}` : null;
}

const resolved = new Map<string, { at: number; addrs: string[] }>();

async function trunkAddresses(cfg: SipConfig): Promise<string[]> {
  const host = cfg.trunk.parsed.host.replace(/^\[|\]$/g, '');
  if (isIP(host)) return [host];
  const hit = resolved.get(host);
  if (hit && Date.now() - hit.at < 60_000) return hit.addrs;
  try {
    const addrs = (await lookup(host, { all: true })).map((a) => a.address);
    resolved.set(host, { at: Date.now(), addrs });
    return addrs;
  } catch {
    resolved.set(host, { at: Date.now(), addrs: [] });
    return [];
  }
}

export async function dispatchInvite(providers: InboundProvider[], req: SrfRequest, res: SrfResponse, log: Logger): Promise<void> {
  let canceled = false;
  req.on('cancel', () => {
    canceled = true;
  });
  const source = req.source_address;
  const callId = req.get('Call-ID') ?? '';
  const eligible = providers.filter((p) => !p.cfg.inbound || p.cfg.inbound.allows(source));
  if (eligible.length === 0) {
    log.info({ source }, 'sip: inbound INVITE from a source outside inboundAllow refused');
    res.send(403);
    return;
  }
  const matches = await Promise.all(eligible.map(async (p) => (await trunkAddresses(p.cfg)).includes(source)));
  const ordered = [...eligible.filter((_, i) => matches[i]), ...eligible.filter((_, i) => !matches[i])];

  const calledUser = userPart(req.uri) || userPart(req.get('To'));
  const callerUser = req.callingNumber || userPart(req.get('From'));
  for (const p of ordered) {
    const did = toE164(calledUser, p.defaultCountry);
    if (!did) continue;
    const from = toE164(callerUser, p.defaultCountry) ?? (callerUser || 'anonymous');
    let route: InboundRoute | null;
    try {
      route = await p.sink.inbound({ providerCallId: callId, from, to: did, at: new Date().toISOString() });
    } catch (err) {
      log.error({ err: (err as Error)?.message }, 'sip: inbound routing failed');
      if (!res.finalResponseSent) res.send(503, { headers: { 'Retry-After': '5' } });
      return;
    }
    if (!route) continue;
    p.bridge(req, res, route, () => canceled);
    return;
  }
  if (!res.finalResponseSent) res.send(404);
}

/** One inbound call bridged to its user through srf.createB2BUA. */
export class InboundSession extends BaseSession {
  private uacReq?: SrfRequest;
  private uas?: Dialog;
  private uac?: Dialog;
  private timedOut = false;
  private callerCanceled = false;

  constructor(
    d: SessionDeps,
    private readonly req: SrfRequest,
    private readonly res: SrfResponse,
    private readonly target: string,
  ) {
    super(d);
    this.providerCallId = req.get('Call-ID') ?? '';
  }

  start(): void {
    this.d.register(this);
    this.req.on('cancel', () => {
      this.callerCanceled = true;
    });
    const limit = this.timer(this.d.cfg.agentLegTimeoutMs, () => {
      if (this.uas || this.ended) return;
      this.timedOut = true;
      this.cancelB();
    });
    this.d.srf
      .createB2BUA(
        this.req,
        this.res,
        this.target,
        // We choose the caller's final response ourselves (480 on our timeout, 603 on hang-up).
        { localSdpB: this.req.body, passFailure: false },
        {
          cbRequest: (err, r) => {
            if (err || !r) return;
            this.uacReq = r;
            // srf forwards a caller's CANCEL only once the B leg is out; one that came earlier is ours to relay.
            if (this.ended || this.hangupRequested || this.callerCanceled) this.cancelB();
          },
          cbProvisional: (r) => {
            if (r.status === 180 || r.status === 183) this.progress('ringing');
          },
        },
      )
      .then(
        ({ uas, uac }) => {
          this.clear(limit);
          if (this.ended || this.hangupRequested) {
            this.finish('canceled', 'hang-up requested');
            quiet(within(uas.destroy(), TEARDOWN_MS, 'BYE'));
            quiet(within(uac.destroy(), TEARDOWN_MS, 'BYE'));
            return;
          }
          this.uas = uas;
          this.uac = uac;
          uas.on('destroy', () => {
            this.finish('completed', 'caller hung up');
            quiet(within(uac.destroy(), TEARDOWN_MS, 'BYE'));
          });
          uac.on('destroy', () => {
            this.finish('completed', 'agent hung up');
            quiet(within(uas.destroy(), TEARDOWN_MS, 'BYE'));
          });
          this.progress('answered');
        },
        (err) => {
          this.clear(limit);
          const status = errorStatus(err);
          if (!this.res.finalResponseSent) {
            const toCaller = this.callerCanceled
              ? 487
              : this.timedOut
                ? 480
                : this.hangupRequested
                  ? 603
                  : status && status >= 300
                    ? status
                    : 500;
            this.res.send(toCaller);
          }
          if (this.callerCanceled) {
            this.finish('canceled', 'caller hung up before answer');
            return;
          }
          this.finish(
            statusForFailure(status, { weCanceled: this.hangupRequested, timedOut: this.timedOut }),
            this.timedOut ? 'agent leg: no answer (timeout)' : sipCause('agent', status, errorReason(err)),
          );
        },
      );
  }

  private cancelB(): void {
    try {
      this.uacReq?.cancel({}, () => undefined);
    } catch {
      /* already final */
    }
  }

  async hangUp(): Promise<void> {
    if (this.ended) return;
    this.hangupRequested = true;
    if (this.uas && this.uac) {
      const a = this.uas;
      const b = this.uac;
      this.finish('completed', 'hang-up requested');
      await Promise.allSettled([within(a.destroy(), TEARDOWN_MS, 'BYE'), within(b.destroy(), TEARDOWN_MS, 'BYE')]);
      return;
    }
    this.cancelB();
  }

  protected releaseAll(): void {
    for (const d of [this.uas, this.uac]) if (d) this.d.srf.removeDialog(d);
  }
}
