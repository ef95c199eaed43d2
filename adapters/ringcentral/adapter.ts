// The RingCentral provider adapter: click-to-call with RingOut, status from telephony session
// notifications (RingOut polling as the fallback), inbound screen pops, and the webhook
// subscription's lifecycle. See PROTOCOLS.md §2 for the facts it relies on.

import type { Call, CallStatus } from '../../src/domain/types.js';
import { TERMINAL_STATUSES } from '../../src/domain/types.js';
import {
  ProviderError,
  type CallEventSink,
  type CallReport,
  type DialRequest,
  type MediaStream,
  type DialResult,
  type ProviderAdapter,
  type ProviderContext,
  type ProviderHealth,
  type WebhookReply,
  type WebhookRequest,
} from '../../src/providers/adapter.js';
import { RcApi } from './api.js';
import { parseConfig, type RcConfig } from './config.js';
import { RcTransport } from './http.js';
import { DEFAULT_MEDIA_OPTIONS, RcMedia, type MediaOptions } from './media.js';
import { EXTENSION_PATH, RINGOUT_PATH, ringOutPath, sessionPath } from './paths.js';
import { DEFAULT_POLL_OPTIONS, RingOutPoller, type PollOptions } from './poller.js';
import { RateLimits } from './rate-limit.js';
import { DEFAULT_SESSION_OPTIONS, SessionProcessor, sessionStatus, type Envelope, type SessionBody, type SessionOptions } from './sessions.js';
import { CallState } from './state.js';
import { mapRingOutStatus, type RingOutStatus } from './status-map.js';
import { DEFAULT_SUBSCRIPTION_OPTIONS, SubscriptionManager, type SubscriptionOptions } from './subscription.js';
import { Timers } from './timers.js';
import { DEFAULT_TOKEN_OPTIONS, TokenManager, type TokenOptions } from './token.js';
import { forbidden, handshakeReply, header, plausibleValidationToken, tokenMatches, verificationTokenFor } from './webhook.js';

/** Tuning knobs; the defaults suit production, tests shorten them. */
export interface RingCentralOptions {
  token?: Partial<TokenOptions>;
  sessions?: Partial<SessionOptions>;
  poll?: Partial<PollOptions>;
  subscription?: Partial<SubscriptionOptions>;
  /** how long a RingOut waits for its first session event to be matched by its numbers */
  pendingMs?: number;
  media?: Partial<MediaOptions>;
  /** run the periodic subscription check (default true) */
  maintainSubscription?: boolean;
}

export class RingCentralAdapter implements ProviderAdapter {
  readonly cfg: RcConfig;
  readonly api: RcApi;
  readonly subscription: SubscriptionManager;
  readonly state: CallState;
  private readonly timers = new Timers();
  private readonly sessions: SessionProcessor;
  private readonly poller: RingOutPoller;
  private readonly media: RcMedia;
  private readonly verificationToken: string;
  private readonly pendingMs: number;

  constructor(
    private readonly ctx: ProviderContext,
    options: RingCentralOptions = {},
  ) {
    this.cfg = parseConfig(ctx.provider.config);
    const pid = ctx.provider.id;
    const logger = ctx.logger.child({ provider: pid, kind: 'ringcentral' });
    // keys that depend on the credentials carry their hash; per-call keys only the provider id
    const credPrefix = `rc:${pid}:${this.cfg.credentialTag}`;
    const callPrefix = `rc:${pid}`;
    this.api = rcApi(this.cfg, credPrefix, ctx.shared, ctx.metrics, logger, options.token);
    this.state = new CallState(ctx.shared, callPrefix);
    this.pendingMs = options.pendingMs ?? 120_000;
    this.media = new RcMedia(this.api, this.state, ctx.sink, logger, this.timers, ctx.provider.recording === 'on', { ...DEFAULT_MEDIA_OPTIONS, ...options.media });
    const onAnswered = (id: string, partyId?: string) => {
      void this.scheduleTrialHangUp(id);
      void this.telephonySession(id)
        .then((tsid) => this.media.answered(id, tsid, partyId))
        .catch((err: Error) => logger.warn({ providerCallId: id, err: err.message }, 'ringcentral recording start failed'));
    };
    // what reports a call's end also starts the hunt for its recording (sessions and the RingOut poll alike)
    const sink: CallEventSink = {
      status: async (ev) => {
        const call = await ctx.sink.status(ev);
        if (call && ev.status === 'completed') {
          void this.telephonySession(ev.providerCallId)
            .then((tsid) => this.media.ended(ev.providerCallId, call, tsid))
            .catch((err: Error) => logger.warn({ providerCallId: ev.providerCallId, err: err.message }, 'ringcentral recording lookup failed'));
        }
        return call;
      },
      inbound: (ev) => ctx.sink.inbound(ev),
      media: (ev) => ctx.sink.media?.(ev) ?? Promise.resolve(null),
      findCall: (id) => ctx.sink.findCall(id),
      getCall: (id) => ctx.sink.getCall(id),
      getUser: (id) => ctx.sink.getUser(id),
    };
    this.sessions = new SessionProcessor(this.state, sink, logger, this.timers, { ...DEFAULT_SESSION_OPTIONS, ...options.sessions }, onAnswered);
    this.poller = new RingOutPoller(this.api, this.state, sink, logger, this.timers, { ...DEFAULT_POLL_OPTIONS, ...options.poll }, onAnswered);
    this.verificationToken = verificationTokenFor(pid, this.cfg.clientSecret);
    this.subscription = new SubscriptionManager(
      this.api,
      ctx.shared,
      callPrefix,
      `${ctx.webhookBase}/events`,
      this.verificationToken,
      logger,
      this.timers,
      { ...DEFAULT_SUBSCRIPTION_OPTIONS, ...options.subscription },
    );
    if (options.maintainSubscription !== false) this.subscription.startMaintenance();
  }

  /**
   * RingOut rings leg 1 (`from`: the agent's phone), then leg 2 (`to`: the customer), showing
   * `callerId` to the customer. Trial calls have no agent: leg 1 is then the provider's callerId
   * number itself, so whoever answers that number hears the destination being dialled.
   */
  async dial(req: DialRequest): Promise<DialResult> {
    const leg1 = req.user ? req.user.phone : this.cfg.callerId;
    if (!leg1) {
      throw new ProviderError(
        'invalid_number',
        req.user ? 'the user has no phone number for RingOut to ring first' : 'trial calls through RingCentral need callerId in the provider config',
      );
    }
    const json: Record<string, unknown> = { from: { phoneNumber: leg1 }, to: { phoneNumber: req.to }, playPrompt: this.cfg.playPrompt };
    if (this.cfg.callerId) json.callerId = { phoneNumber: this.cfg.callerId };
    const res = await this.api.call({ operation: 'createRingOut', method: 'POST', path: RINGOUT_PATH, json });
    const body = (res.body ?? {}) as { id?: string | number; status?: RingOutStatus };
    // the spec types id as a string, RingCentral's samples send numbers
    if (body.id === undefined || body.id === null || body.id === '') {
      throw new ProviderError('provider_error', 'RingCentral RingOut response has no id', undefined, false);
    }
    const id = String(body.id);
    await this.state.saveRingOut({ id, leg1, dest: req.to, callerId: this.cfg.callerId, hangUpAfterMs: req.hangUpAfterMs }, this.pendingMs);
    const mapped = body.status ? mapRingOutStatus(body.status, { answered: false, canceled: false }) : null;
    let status: CallStatus = 'dialing';
    if (mapped && TERMINAL_STATUSES.has(mapped.status)) {
      status = mapped.status;
      await this.state.setFlag(id, 'done');
    } else {
      this.poller.start(id);
    }
    return { providerCallId: id, status, ...(this.cfg.callerId ? { from: this.cfg.callerId } : {}) };
  }

  /**
   * Cancels a RingOut that has not connected (DELETE ring-out, which RingCentral only honours
   * before the first leg connects); once a leg is up, drops the telephony session instead.
   * 404 means it already ended.
   */
  async hangUp(call: Call): Promise<void> {
    const id = call.providerCallId;
    if (!id) return;
    await this.endCall(id, call.direction === 'inbound', call.status === 'answered');
  }

  private async endCall(id: string, inbound: boolean, answered: boolean): Promise<void> {
    await this.state.setFlag(id, 'cancel');
    if (inbound) {
      await this.api.call({ operation: 'deleteCallSession', method: 'DELETE', path: sessionPath(id), accept: [404] });
      return;
    }
    const tsid = await this.state.sessionOf(id);
    const connected = answered || (await this.state.flag(id, 'answered')) || (await this.state.flag(id, 'leg1up'));
    if (tsid && connected) {
      await this.api.call({ operation: 'deleteCallSession', method: 'DELETE', path: sessionPath(tsid), accept: [404] });
      return;
    }
    const res = await this.api.call({ operation: 'deleteRingOut', method: 'DELETE', path: ringOutPath(id), accept: [404] });
    if (res.status === 404 && tsid) {
      await this.api.call({ operation: 'deleteCallSession', method: 'DELETE', path: sessionPath(tsid), accept: [404] });
    }
  }

  /** The telephony session of a call: a RingOut's once its events matched it, an inbound call's is its id. */
  private async telephonySession(id: string): Promise<string | null> {
    return (await this.state.sessionOf(id)) ?? ((await this.state.ringOut(id)) ? null : id);
  }

  /** The audio of a recording (`ref`: RingCentral's recording id), streamed with the bearer token, Range passed on. */
  async fetchMedia(_call: Call, kind: 'recording' | 'voicemail', ref: string, range?: string): Promise<MediaStream> {
    if (kind !== 'recording') return { status: 404, contentType: 'application/json' };
    return this.media.fetch(ref, range);
  }

  private async scheduleTrialHangUp(id: string): Promise<void> {
    const rec = await this.state.ringOut(id);
    if (!rec?.hangUpAfterMs || !(await this.state.once(id, 'trial-hangup'))) return;
    this.timers.after(rec.hangUpAfterMs, async () => {
      try {
        await this.endCall(id, false, true);
      } catch (err) {
        this.ctx.logger.warn({ providerCallId: id, code: (err as ProviderError).code }, 'ringcentral trial hang-up failed');
      }
    });
  }

  async handleWebhook(req: WebhookRequest): Promise<WebhookReply> {
    if (req.subpath !== '/events' && req.subpath !== '/events/') {
      return { statusCode: 404, body: { error: { code: 'not_found', message: 'unknown RingCentral webhook path' } } };
    }
    if (req.method !== 'POST') return { statusCode: 405, body: { error: { code: 'validation_failed', message: 'POST only' } } };
    const validation = header(req.headers, 'validation-token');
    if (validation !== undefined) {
      if (!plausibleValidationToken(validation)) return { statusCode: 400, body: { error: { code: 'validation_failed', message: 'bad Validation-Token' } } };
      return handshakeReply(validation);
    }
    if (!tokenMatches(header(req.headers, 'verification-token'), this.verificationToken)) return forbidden;
    let env: Envelope | undefined;
    if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) env = req.body as Envelope;
    else {
      try {
        env = JSON.parse(req.rawBody.toString('utf8')) as Envelope;
      } catch {
        return { statusCode: 400, body: { error: { code: 'validation_failed', message: 'notification body is not JSON' } } };
      }
    }
    try {
      await this.sessions.handle(env);
    } catch (err) {
      // answering an error would only count against the subscription (RingCentral blacklists
      // failing webhooks); the RingOut poll is the safety net
      this.ctx.logger.error({ err: (err as Error).message, provider: this.ctx.provider.id }, 'ringcentral notification could not be applied');
    }
    return { statusCode: 200, body: {} };
  }

  /** The active probe: a token, then the JWT user's extension (what every call needs). */
  async health(): Promise<ProviderHealth> {
    try {
      await this.api.call({ operation: 'readExtension', method: 'GET', path: EXTENSION_PATH });
      return { healthy: true };
    } catch (err) {
      return { healthy: false, detail: err instanceof ProviderError ? err.message : 'error' };
    }
  }

  /**
   * Where a call stands at RingCentral: a RingOut's own status (outbound; our providerCallId is
   * the RingOut id), else its telephony session (inbound). Gone there: a call we knew answered
   * completed (as the RingOut poller concludes), any other is unknown to RingCentral.
   */
  async fetchStatus(call: Call): Promise<CallReport> {
    const id = call.providerCallId;
    if (!id) return { state: 'unknown' };
    const answered = call.status === 'answered';
    const outbound = call.direction === 'outbound';
    const res = await this.api.call(
      outbound
        ? { operation: 'readRingOut', method: 'GET', path: ringOutPath(id), accept: [404] }
        : { operation: 'readCallSession', method: 'GET', path: sessionPath(id), accept: [404] },
    );
    if (res.status === 404) return answered ? { state: 'known', status: 'completed', cause: outbound ? 'ringout:not-found' : 'session:not-found' } : { state: 'unknown' };
    const mapped = outbound
      ? mapRingOutStatus(((res.body ?? {}) as { status?: RingOutStatus }).status ?? {}, { answered, canceled: false })
      : sessionStatus(((res.body ?? {}) as SessionBody).parties ?? [], answered);
    return { state: 'known', status: mapped?.status ?? call.status, ...(mapped?.cause ? { cause: mapped.cause } : {}) };
  }

  async install(): Promise<void> {
    await this.subscription.ensure();
  }

  async uninstall(): Promise<void> {
    await this.subscription.remove();
  }

  async close(): Promise<void> {
    this.timers.close();
  }
}

/** The authenticated client of one set of credentials (its token shared by every instance). */
function rcApi(cfg: RcConfig, credPrefix: string, shared: ProviderContext['shared'], metrics: ProviderContext['metrics'], logger: ProviderContext['logger'], token?: Partial<TokenOptions>): RcApi {
  const transport = new RcTransport(cfg, new RateLimits(shared, credPrefix), metrics, logger);
  return new RcApi(transport, new TokenManager(cfg, shared, credPrefix, transport, logger, { ...DEFAULT_TOKEN_OPTIONS, ...token }));
}

/** Install and config changes: the credentials must get a token and read the JWT user's extension. */
export async function verifyRingCentral(raw: Record<string, unknown>, opts: { logger: ProviderContext['logger']; shared: ProviderContext['shared'] }): Promise<void> {
  const cfg = parseConfig(raw);
  // keys that depend on the credentials carry their hash (no provider id yet)
  const api = rcApi(cfg, `rc:verify:${cfg.credentialTag}`, opts.shared, { apiRequest() {} }, opts.logger);
  await api.call({ operation: 'readExtension', method: 'GET', path: EXTENSION_PATH });
}

export function createRingCentralAdapter(ctx: ProviderContext, options?: RingCentralOptions): RingCentralAdapter {
  return new RingCentralAdapter(ctx, options);
}
