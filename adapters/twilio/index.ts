// The Twilio provider (kind "twilio"). Click-to-call creates a REST call to the agent whose TwiML
// (our /connect endpoint) dials the customer; inbound calls hit /voice and are dialled to the
// user owning the DID; progress arrives as signed status callbacks on /status and /dial-status.
//
// Every webhook must carry a valid X-Twilio-Signature over the public URL (rebuilt by the core
// from PUBLIC_URL). A missing signature answers 403 like a wrong one (twilio-node's middleware
// answers 400 for a missing header): to a caller without the token both mean "not Twilio", and
// one status for both leaks nothing about what was checked.

import type { Call, CallStatus, MediaState } from '../../src/domain/types.js';
import { isTerminal } from '../../src/domain/state-machine.js';
import {
  ProviderError,
  type CallReport,
  type DialRequest,
  type DialResult,
  type MediaStream,
  type ProviderAdapter,
  type ProviderContext,
  type ProviderHealth,
  type ProviderKindDefinition,
  type StatusEvent,
  type WebhookReply,
  type WebhookRequest,
} from '../../src/providers/adapter.js';
import { readTwilioConfig, TWILIO_SECRET_FIELDS, twilioConfigSchema, type TwilioConfig } from './config.js';
import { TwilioApiError, TwilioRest, type RestOptions } from './rest.js';
import { validateRequest, validateRequestWithBody, type SignedParams } from './signature.js';
import * as twiml from './twiml.js';

export const STATUS_CALLBACK_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

/** Twilio CallStatus (status callbacks and REST) → our status. */
const CALL_STATUS_MAP: Record<string, CallStatus> = {
  queued: 'dialing',
  initiated: 'dialing',
  ringing: 'ringing',
  'in-progress': 'answered',
  answered: 'answered',
  completed: 'completed',
  busy: 'busy',
  'no-answer': 'no-answer',
  failed: 'failed',
  canceled: 'canceled',
};

/** <Dial action> DialCallStatus → our status: the dial is over whatever it says. */
const DIAL_STATUS_MAP: Record<string, CallStatus> = {
  completed: 'completed',
  answered: 'completed',
  busy: 'busy',
  'no-answer': 'no-answer',
  failed: 'failed',
  canceled: 'canceled',
};

/** RecordingStatus (recording status callbacks) → the call's recording / voicemail status. */
const RECORDING_STATUS_MAP: Record<string, MediaState['status']> = {
  'in-progress': 'pending',
  completed: 'available',
  absent: 'absent',
  failed: 'failed',
};

const RECORDING_SID = /^RE[0-9a-fA-F]{32}$/;

const VOICEMAIL_GREETING = 'The person you are calling is not available. Please leave a message after the tone.';
/** the longest voicemail a caller may leave (seconds) */
const VOICEMAIL_MAX_SEC = 120;

export function mapCallStatus(s: string | undefined): CallStatus | undefined {
  return s ? CALL_STATUS_MAP[s] : undefined;
}

export interface TwilioAdapterOptions {
  /** test hooks for the 429 backoff */
  random?: RestOptions['random'];
  sleep?: RestOptions['sleep'];
  /** waits before each look at a completed call's price (default PRICE_RETRY_MS) */
  priceRetryMs?: readonly number[];
}

/**
 * Twilio fills a call's price in some time after it completed ("may not be immediately
 * available"): looked up this long after the end, then again after each further wait, ~30 s in
 * all — as long as the call log waits for it (twilioKind.priceWaitSec).
 */
export const PRICE_RETRY_MS: readonly number[] = [200, 500, 1000, 2000, 4000, 8000, 14_000];
export const PRICE_WAIT_SEC = 30;

/** Twilio bills only calls that connected: the others' price stays null (or 0) and adds nothing. */
const TERMINAL_TWILIO = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

type Params = Record<string, string | string[]>;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function header(req: WebhookRequest, name: string): string | undefined {
  const direct = req.headers[name] ?? req.headers[name.toLowerCase()];
  if (direct !== undefined) return first(direct);
  const key = Object.keys(req.headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? first(req.headers[key]) : undefined;
}

function parseForm(raw: string): Params {
  const out: Params = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function objectParams(body: unknown): Params {
  const out: Params = {};
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (Array.isArray(v)) out[k] = v.map(String);
      else if (v !== undefined && v !== null) out[k] = String(v);
    }
  }
  return out;
}

function rfc2822ToIso(ts: string | undefined): string {
  const t = ts ? Date.parse(ts) : NaN;
  return Number.isFinite(t) ? new Date(t).toISOString() : new Date().toISOString();
}

function optInt(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

const E164 = /^\+[1-9][0-9]{1,14}$/;

const xml = (body: string): WebhookReply => ({ statusCode: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, body });
const text = (statusCode: number, body: string): WebhookReply => ({ statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body });

export class TwilioAdapter implements ProviderAdapter {
  readonly config: TwilioConfig;
  private readonly rest: TwilioRest;
  private readonly priceRetryMs: readonly number[];
  /** calls whose price is being looked up here (a duplicated callback starts no second lookup) */
  private readonly pricing = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly ctx: ProviderContext,
    opts: TwilioAdapterOptions = {},
  ) {
    this.priceRetryMs = opts.priceRetryMs ?? PRICE_RETRY_MS;
    this.config = readTwilioConfig(ctx.provider.config);
    this.rest = new TwilioRest({
      config: this.config,
      metrics: ctx.metrics,
      random: opts.random,
      sleep: opts.sleep,
    });
  }

  // ---- outbound -------------------------------------------------------------------------

  async dial(req: DialRequest): Promise<DialResult> {
    const { call, user } = req;
    let agent: string;
    if (!user) {
      agent = req.to; // trial call: ring the destination itself
    } else if (this.config.agentIdentity === 'client') {
      agent = `client:${user.id}`;
    } else if (user.phone) {
      agent = user.phone;
    } else {
      throw new ProviderError('invalid_number', `user ${user.id} has no phone number for Twilio to ring`);
    }

    const connect = new URL(`${this.ctx.webhookBase}/connect`);
    connect.searchParams.set('callId', call.id);
    if (!user) connect.searchParams.set('trial', String(Math.max(1, Math.round((req.hangUpAfterMs ?? 5000) / 1000))));
    const statusCallback = new URL(`${this.ctx.webhookBase}/status`);
    // our call id rides along so a callback that beats the dial's return still finds the call
    statusCallback.searchParams.set('callId', call.id);

    const created = await this.rest.createCall(
      {
        To: agent,
        From: this.config.callerId,
        Url: connect.toString(),
        Method: 'POST',
        StatusCallback: statusCallback.toString(),
        StatusCallbackMethod: 'POST',
        StatusCallbackEvent: STATUS_CALLBACK_EVENTS,
        Timeout: String(this.config.ringTimeoutSec),
      },
      req.idempotencyToken,
    );
    if (typeof created.sid !== 'string' || !created.sid) {
      throw new ProviderError('provider_error', 'Twilio created a call without a sid', undefined, false);
    }
    return { providerCallId: created.sid, status: mapCallStatus(created.status) ?? 'dialing', from: this.config.callerId };
  }

  async hangUp(call: Call): Promise<void> {
    if (!call.providerCallId || isTerminal(call.status)) return;
    const sid = call.providerCallId;
    const stillRinging = call.status === 'queued' || call.status === 'dialing' || call.status === 'ringing';
    try {
      // canceled only ends a queued/ringing call; completed ends one in progress
      const res = await this.rest.updateCall(sid, { Status: stillRinging ? 'canceled' : 'completed' });
      // answered in the meantime: Twilio leaves a live call alone on "canceled"
      if (stillRinging && res.status === 'in-progress') await this.rest.updateCall(sid, { Status: 'completed' });
    } catch (e) {
      if (e instanceof TwilioApiError && e.twilioCode === 20404) return; // the call no longer exists
      if (e instanceof TwilioApiError && e.twilioCode === 21220 && stillRinging) {
        // "invalid call state" for canceled: it moved past ringing, so hang it up instead
        await this.rest.updateCall(sid, { Status: 'completed' });
        return;
      }
      throw e;
    }
  }

  // ---- webhooks -------------------------------------------------------------------------

  async handleWebhook(req: WebhookRequest): Promise<WebhookReply> {
    const method = req.method.toUpperCase();
    if (method !== 'POST' && method !== 'GET') return text(405, 'method not allowed');

    const verified = this.verify(req, method);
    if (!verified) {
      this.ctx.logger.warn({ providerId: this.ctx.provider.id, subpath: req.subpath }, 'twilio webhook refused: missing or invalid X-Twilio-Signature');
      return text(403, 'Twilio request validation failed');
    }
    const { params } = verified;
    const url = new URL(req.publicUrl);

    switch (req.subpath) {
      case '/voice':
        return this.onInbound(params);
      case '/connect':
        return this.onConnect(url);
      case '/status':
        await this.onStatus(params, url);
        return { statusCode: 204 };
      case '/dial-status':
        return this.onDialStatus(params, url);
      case '/recording':
        await this.onRecording(params, url);
        return { statusCode: 204 };
      case '/hangup':
        return xml(twiml.hangup());
      default:
        return text(404, 'not found');
    }
  }

  /** Checks the signature; returns the request's params when it holds, null otherwise. */
  private verify(req: WebhookRequest, method: string): { params: Params } | null {
    const signature = header(req, 'X-Twilio-Signature');
    if (!signature || !this.config.authToken) return null;
    const ct = (req.contentType || '').split(';')[0].trim().toLowerCase();
    if (method === 'GET') {
      // GET webhooks carry their params in the (signed) URL
      if (!validateRequest(this.config.authToken, signature, req.publicUrl, {})) return null;
      return { params: parseForm(new URL(req.publicUrl).search.slice(1)) };
    }
    if (ct === 'application/json' || ct.endsWith('+json')) {
      if (!validateRequestWithBody(this.config.authToken, signature, req.publicUrl, req.rawBody)) return null;
      let parsed: unknown = req.body;
      if (parsed === undefined) {
        try {
          parsed = JSON.parse(req.rawBody.toString('utf8'));
        } catch {
          parsed = {};
        }
      }
      return { params: objectParams(parsed) };
    }
    // form POST: the params are read from the raw body so they are exactly what Twilio signed
    const params = req.rawBody && req.rawBody.length > 0 ? parseForm(req.rawBody.toString('utf8')) : objectParams(req.body);
    if (!validateRequest(this.config.authToken, signature, req.publicUrl, params as SignedParams)) return null;
    return { params };
  }

  private async onInbound(p: Params): Promise<WebhookReply> {
    const callSid = first(p.CallSid);
    const to = first(p.To);
    const from = first(p.From) ?? '';
    if (!callSid || !to) return xml(twiml.reject());
    const route = await this.ctx.sink.inbound({ providerCallId: callSid, from, to, at: new Date().toISOString() });
    if (!route) return xml(twiml.reject());
    const { call, user } = route;
    const target = this.agentTarget(user.id, user.phone);
    if (!target) return xml(twiml.reject());
    const statusCallback = new URL(`${this.ctx.webhookBase}/status`);
    statusCallback.searchParams.set('callId', call.id);
    statusCallback.searchParams.set('leg', 'agent');
    const action = new URL(`${this.ctx.webhookBase}/dial-status`);
    action.searchParams.set('callId', call.id);
    return xml(
      twiml.dial(
        // the agent sees who is calling; a client: caller has no number to present
        // the agent's phone rings for the user's ring timeout: unanswered by then, the call is missed
        { callerId: E164.test(from) ? from : undefined, action: action.toString(), timeoutSec: route.ringTimeoutSec, recordingCallback: this.recordingCallback(call.id, 'recording') },
        { ...target, statusCallback: statusCallback.toString() },
      ),
    );
  }

  /** Where Twilio reports a recording of the call (signed like every callback); none when the provider does not record. */
  private recordingCallback(callId: string, kind: 'recording' | 'voicemail'): string | undefined {
    if (kind === 'recording' && this.ctx.provider.recording !== 'on') return undefined;
    const u = new URL(`${this.ctx.webhookBase}/recording`);
    u.searchParams.set('callId', callId);
    u.searchParams.set('kind', kind);
    return u.toString();
  }

  private agentTarget(userId: string, phone: string | undefined): twiml.DialTarget | null {
    if (this.config.agentIdentity === 'client') return { kind: 'client', value: userId };
    return phone ? { kind: 'number', value: phone } : null;
  }

  private async onConnect(url: URL): Promise<WebhookReply> {
    const callId = url.searchParams.get('callId');
    const call = callId ? await this.ctx.sink.getCall(callId) : null;
    if (!call || call.providerId !== this.ctx.provider.id || isTerminal(call.status)) return xml(twiml.hangup());
    const trial = url.searchParams.get('trial');
    if (trial !== null) return xml(twiml.pauseThenHangup(Number(trial) || 1));
    const action = new URL(`${this.ctx.webhookBase}/dial-status`);
    action.searchParams.set('callId', call.id);
    return xml(
      twiml.dial(
        // the customer sees the local-presence number the gateway chose (a number of this account)
        { callerId: call.callerId ?? this.config.callerId, action: action.toString(), timeoutSec: this.config.ringTimeoutSec, recordingCallback: this.recordingCallback(call.id, 'recording') },
        { kind: 'number', value: call.to },
      ),
    );
  }

  private async onStatus(p: Params, url: URL): Promise<void> {
    const sid = first(p.CallSid);
    const status = mapCallStatus(first(p.CallStatus));
    if (!sid || !status) return;
    // an inbound call's agent leg reports under its own sid; our call is the parent's
    const parent = first(p.ParentCallSid);
    const providerCallId = url.searchParams.get('leg') === 'agent' && parent ? parent : sid;
    const sip = first(p.SipResponseCode);
    const callId = url.searchParams.get('callId');
    // the price comes later, off this request: the callback is answered at once
    if (status === 'completed' && callId) this.priceLater(callId, providerCallId);
    await this.feed(callId, {
      providerCallId,
      status,
      at: rfc2822ToIso(first(p.Timestamp)),
      seq: optInt(first(p.SequenceNumber)),
      durationSec: status === 'completed' ? optInt(first(p.CallDuration)) : undefined,
      cause: status !== 'completed' && isTerminal(status) && sip ? `SIP ${sip}` : undefined,
    });
  }

  private async onDialStatus(p: Params, url: URL): Promise<WebhookReply> {
    const sid = first(p.CallSid);
    const dialStatus = first(p.DialCallStatus);
    const status = dialStatus ? DIAL_STATUS_MAP[dialStatus] : undefined;
    if (!sid || !status) return xml(twiml.hangup());
    const callId = url.searchParams.get('callId');
    // an inbound call the agent did not take (rang out, or declined) goes to voicemail when it is on
    const call = callId && (status === 'no-answer' || status === 'busy') && this.ctx.provider.voicemail === 'on' ? await this.ctx.sink.getCall(callId) : null;
    // (the agent leg's own no-answer callback may have ended the call already: it was never answered either way)
    const voicemail = call?.direction === 'inbound' && !call.answeredAt;
    await this.feed(callId, {
      providerCallId: sid,
      status,
      at: new Date().toISOString(),
      durationSec: status === 'completed' ? optInt(first(p.DialCallDuration)) : undefined,
      cause: voicemail ? 'voicemail' : status === 'completed' ? undefined : `dial ${dialStatus}`,
    });
    if (!voicemail || !callId) return xml(twiml.hangup());
    await this.ctx.sink.media?.({ callId, providerCallId: sid, kind: 'voicemail', status: 'pending' });
    const done = new URL(`${this.ctx.webhookBase}/hangup`);
    return xml(twiml.voicemail({ greeting: VOICEMAIL_GREETING, maxLengthSec: VOICEMAIL_MAX_SEC, recordingCallback: this.recordingCallback(callId, 'voicemail')!, action: done.toString() }));
  }

  /** A recording (of the bridged call) or a voicemail: Twilio's RecordingStatus → the call's media state. */
  private async onRecording(p: Params, url: URL): Promise<void> {
    const callId = url.searchParams.get('callId');
    const kind = url.searchParams.get('kind') === 'voicemail' ? 'voicemail' : 'recording';
    const status = RECORDING_STATUS_MAP[first(p.RecordingStatus) ?? ''];
    if (!callId || !status || !this.ctx.sink.media) return;
    const sid = first(p.RecordingSid);
    // the sid goes into a REST path later: only Twilio's own shape is kept
    const ref = sid && RECORDING_SID.test(sid) ? sid : undefined;
    if (status === 'available' && !ref) {
      this.ctx.logger.warn({ callId, kind }, 'twilio recording callback without a valid RecordingSid');
      return;
    }
    await this.ctx.sink.media({ callId, providerCallId: first(p.CallSid), kind, status, durationSec: optInt(first(p.RecordingDuration)), ...(ref ? { ref } : {}) });
  }

  /** The audio of a recording or voicemail, streamed from Twilio with this account's credentials (Range passed on). */
  async fetchMedia(_call: Call, _kind: 'recording' | 'voicemail', ref: string, range?: string): Promise<MediaStream> {
    if (!RECORDING_SID.test(ref)) return { status: 404, contentType: 'application/json' };
    return this.rest.fetchRecordingMedia(ref, 'wav', range);
  }

  /**
   * Feeds a status event. Twilio may report a call before our dial() returned and the core linked
   * the CallSid, so our call id (from the signed callback URL) goes along and the core needs no lookup.
   */
  private async feed(callId: string | null, ev: StatusEvent): Promise<void> {
    await this.ctx.sink.status(callId ? { ...ev, callId } : ev);
  }

  // ---- price ------------------------------------------------------------------------------

  /** Looks the completed call's price up in the background, retried with backoff (PRICE_RETRY_MS). */
  private priceLater(callId: string, sid: string): void {
    if (this.closed || this.pricing.has(callId)) return;
    this.pricing.add(callId);
    void this.lookUpPrice(callId, sid)
      .catch((e: Error) => this.ctx.logger.warn({ callId, err: e.message }, 'twilio price lookup failed'))
      .finally(() => this.pricing.delete(callId));
  }

  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(false);
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(!this.closed);
      }, ms);
      t.unref();
      this.timers.add(t);
    });
  }

  /**
   * What the call cost at Twilio: its own price plus those of the legs it <Dial>ed (each leg is
   * billed on its own), reported once every billed leg has a price. Twilio writes a charge as a
   * negative number; the amount reported is positive. Never found: the rate table prices the call.
   */
  private async lookUpPrice(callId: string, sid: string): Promise<void> {
    for (const wait of this.priceRetryMs) {
      if (!(await this.sleep(wait))) return;
      let legs;
      try {
        const parent = await this.rest.fetchCall(sid);
        if (!TERMINAL_TWILIO.has(parent.status)) continue;
        legs = [parent, ...(await this.rest.listChildCalls(sid))];
      } catch (e) {
        if (e instanceof TwilioApiError && (e.twilioCode === 20404 || e.httpStatus === 404)) return;
        continue;
      }
      if (legs.some((l) => !TERMINAL_TWILIO.has(l.status))) continue;
      const billed = legs.filter((l) => l.status === 'completed');
      if (billed.length === 0) return;
      const prices = billed.map((l) => ({ amount: typeof l.price === 'string' && l.price !== '' ? Number(l.price) : NaN, unit: typeof l.price_unit === 'string' ? l.price_unit.toUpperCase() : '' }));
      if (prices.some((x) => !Number.isFinite(x.amount) || !/^[A-Z]{3}$/.test(x.unit))) continue;
      const currency = prices[0].unit;
      if (prices.some((x) => x.unit !== currency)) {
        this.ctx.logger.warn({ callId }, 'twilio priced the legs of one call in different currencies; the rate table prices it');
        return;
      }
      // summed in micro-units so float noise does not reach the cost
      const micros = prices.reduce((a, x) => a + Math.round(Math.abs(x.amount) * 1e6), 0);
      const parent = legs[0];
      await this.feed(callId, {
        providerCallId: sid,
        status: mapCallStatus(parent.status) ?? 'completed',
        at: typeof parent.end_time === 'string' ? rfc2822ToIso(parent.end_time) : new Date().toISOString(),
        price: { amount: micros / 1e6, currency },
      });
      return;
    }
    this.ctx.logger.info({ callId }, 'twilio reported no price for the call in time; the rate table prices it');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- health and reconciliation ------------------------------------------------------------

  /** The active probe: an authenticated read of the account (wrong credentials and outages show). */
  async health(): Promise<ProviderHealth> {
    try {
      await this.rest.fetchAccount();
      return { healthy: true };
    } catch (e) {
      return { healthy: false, detail: e instanceof ProviderError ? e.message : 'the account could not be read' };
    }
  }

  /** GET the Call resource: Twilio's word on where the call stands (20404: it has no such call). */
  async fetchStatus(call: Call): Promise<CallReport> {
    if (!call.providerCallId) return { state: 'unknown' };
    let res;
    try {
      res = await this.rest.fetchCall(call.providerCallId);
    } catch (e) {
      if (e instanceof TwilioApiError && (e.twilioCode === 20404 || e.httpStatus === 404)) return { state: 'unknown' };
      return { state: 'unsure', detail: (e as Error).message };
    }
    const status = mapCallStatus(res.status);
    if (!status) return { state: 'unsure', detail: `Twilio call status "${res.status}"` };
    const duration = optInt(typeof res.duration === 'string' ? res.duration : undefined);
    const ended = typeof res.end_time === 'string' ? rfc2822ToIso(res.end_time) : undefined;
    return { state: 'known', status, ...(ended && isTerminal(status) ? { at: ended } : {}), ...(duration !== undefined && status === 'completed' ? { durationSec: duration } : {}) };
  }
}

/** Install and config changes: the credentials must read the account. */
async function verifyTwilio(raw: Record<string, unknown>): Promise<void> {
  const rest = new TwilioRest({ config: readTwilioConfig(raw), metrics: { apiRequest() {} } });
  await rest.fetchAccount();
}

export const twilioKind: ProviderKindDefinition = {
  kind: 'twilio',
  displayName: 'Twilio',
  // recording: the bridged call (<Dial record>); voicemail: a greeting and <Record> for a missed inbound call
  capabilities: { recording: true, voicemail: true, inbound: true },
  configSchema: twilioConfigSchema,
  secretFields: TWILIO_SECRET_FIELDS,
  priceWaitSec: PRICE_WAIT_SEC,
  create: (ctx) => new TwilioAdapter(ctx),
  verify: (config) => verifyTwilio(config),
  // a Twilio Client identity needs no phone: every user is reachable as client:<user id>
  canReach: (user, provider) => provider.config.agentIdentity === 'client' || Boolean(user.phone),
  describe: (_provider, webhookBase) => ({
    voiceUrl: `${webhookBase}/voice`,
    voiceMethod: 'POST',
    setup: 'Set this URL as the "A call comes in" webhook (HTTP POST) of each Twilio number routed to this provider.',
  }),
};
