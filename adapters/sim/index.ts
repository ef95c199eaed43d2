// The built-in simulated provider: behaves like a real one (API latency, ring / answer / talk
// delays, an outcome, an outage switch) and reports progress through the same webhook ingress as
// the real providers (ctx.deliverWebhook), so the core cannot tell it apart.
//
// POST /webhooks/sim/{providerId}/inbound {from, to, agentAnswers?} simulates an inbound call to
// DID `to`; it needs no signature (it is a simulator), while /status is accepted only from the
// simulator itself. With the provider's `recording: "on"` an answered call is recorded (a real
// 8 kHz WAV, a tone for the talk time, at most 10 s, ready `recordingDelayMs` after the end); with
// `agentAnswers: false` the agent never answers. An inbound call rings the agent for at most the
// user's ringTimeoutSec (the route carries it): unanswered by then — `agentAnswers: false`, an
// outcome other than answered, or answerAfterMs past the timeout — it is missed at the timeout,
// and with `voicemail: "on"` the caller leaves a voicemail (a 3 s WAV).

import { randomHex } from '../../src/domain/random.js';
import type {
  CallReport,
  DialRequest,
  DialResult,
  ProviderAdapter,
  ProviderContext,
  ProviderHealth,
  ProviderKindDefinition,
  WebhookReply,
  WebhookRequest,
} from '../../src/providers/adapter.js';
import { ProviderError } from '../../src/providers/adapter.js';
import type { MediaStream } from '../../src/providers/adapter.js';
import { bufferMedia, toneWav } from '../../src/providers/media.js';
import type { Call, CallStatus } from '../../src/domain/types.js';

export interface SimConfig {
  ringAfterMs?: number;
  answerAfterMs?: number;
  durationMs?: number;
  outcome?: 'answered' | 'busy' | 'no-answer' | 'failed';
  apiLatencyMs?: number;
  failDial?: boolean;
  /** the number trial calls show; optional */
  callerId?: string;
  /** a recording or voicemail is ready this long after the call ends (default 200) */
  recordingDelayMs?: number;
}

/** the longest recording the simulator makes */
const MAX_RECORDING_SEC = 10;
const VOICEMAIL_SEC = 3;

const ms = { type: 'integer', minimum: 0, maximum: 3_600_000 };

const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ringAfterMs: ms,
    answerAfterMs: ms,
    durationMs: ms,
    outcome: { enum: ['answered', 'busy', 'no-answer', 'failed'] },
    apiLatencyMs: { type: 'integer', minimum: 0, maximum: 60_000 },
    failDial: { type: 'boolean' },
    callerId: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' },
    recordingDelayMs: { type: 'integer', minimum: 0, maximum: 60_000 },
  },
};

interface Live {
  callId: string;
  /** the timer of the next lifecycle step */
  timer: NodeJS.Timeout | undefined;
  answered: boolean;
  answeredAt?: number;
}

/**
 * A simulated call lives in the timers of the instance that placed it, like a SIP dialog on its
 * drachtio connection: its provider call id names that instance, so any instance can tell a call
 * still playing elsewhere from one whose instance died (src/providers/instances.ts).
 */
function simCallId(instanceId: string, inbound = false): string {
  return `${inbound ? 'SIMIN' : 'SIM'}${instanceId}x${randomHex(10)}`;
}

function ownerOf(providerCallId: string): string | undefined {
  return /^SIM(?:IN)?([0-9a-f]+)x[0-9a-f]+$/.exec(providerCallId)?.[1];
}

/** how long a status report is retried while the gateway refuses it */
const REPORT_RETRY_MS = 10 * 60_000;

const STATUS_EVENTS: ReadonlySet<string> = new Set(['ringing', 'answered', 'completed', 'busy', 'no-answer', 'failed', 'canceled']);

class SimAdapter implements ProviderAdapter {
  private readonly cfg: Required<Omit<SimConfig, 'failDial' | 'callerId' | 'recordingDelayMs'>> & { failDial: boolean };
  private readonly callerId?: string;
  private readonly recordingDelayMs: number;
  private readonly media = new Set<NodeJS.Timeout>();
  private readonly live = new Map<string, Live>();
  private closed = false;

  constructor(private readonly ctx: ProviderContext) {
    const c = ctx.provider.config as SimConfig;
    this.cfg = {
      ringAfterMs: c.ringAfterMs ?? 200,
      answerAfterMs: c.answerAfterMs ?? 1000,
      durationMs: c.durationMs ?? 3000,
      outcome: c.outcome ?? 'answered',
      apiLatencyMs: c.apiLatencyMs ?? 0,
      failDial: c.failDial ?? false,
    };
    this.callerId = c.callerId;
    this.recordingDelayMs = c.recordingDelayMs ?? 200;
  }

  async dial(req: DialRequest): Promise<DialResult> {
    const t0 = performance.now();
    if (this.cfg.apiLatencyMs > 0) await new Promise((r) => setTimeout(r, this.cfg.apiLatencyMs));
    if (this.cfg.failDial) {
      this.ctx.metrics.apiRequest('dial', (performance.now() - t0) / 1000, 'error');
      throw new ProviderError('provider_unavailable', 'the simulated provider API refused the call (failDial)');
    }
    this.ctx.metrics.apiRequest('dial', (performance.now() - t0) / 1000, 'ok');
    const providerCallId = simCallId(this.ctx.instances.id);
    this.schedule(providerCallId, req.call.id, req.hangUpAfterMs);
    // the customer sees the local-presence number the gateway chose, else the configured one
    return { providerCallId, status: 'dialing', from: req.call.callerId ?? this.callerId };
  }

  /**
   * Plays the configured lifecycle, reporting each step through the webhook ingress. One timer
   * per live call at a time (each step arms the next): a simulator holding thousands of long
   * calls should not hold three timers for each.
   */
  private schedule(providerCallId: string, callId: string, hangUpAfterMs: number | undefined, inbound?: { agentAnswers: boolean; ringTimeoutMs: number }): void {
    if (this.closed) return;
    const { ringAfterMs, answerAfterMs } = this.cfg;
    const durationMs = hangUpAfterMs ?? this.cfg.durationMs;
    // an inbound call the agent does not answer within the ring timeout is missed right then
    const missed = inbound !== undefined && (!inbound.agentAnswers || answerAfterMs > inbound.ringTimeoutMs || this.cfg.outcome === 'no-answer');
    const voicemail = missed && this.ctx.provider.voicemail === 'on';
    const outcome = missed ? 'no-answer' : this.cfg.outcome;
    // [delay after the previous step, status, extra fields]
    const steps: [number, CallStatus, Record<string, unknown>?][] = [];
    if (!inbound) steps.push([ringAfterMs, 'ringing']);
    if (outcome === 'answered') {
      steps.push([answerAfterMs, 'answered'], [durationMs, 'completed', { durationSec: Math.round(durationMs / 1000) }]);
    } else {
      steps.push([missed ? inbound!.ringTimeoutMs : answerAfterMs, outcome, voicemail ? { cause: 'voicemail' } : undefined]);
    }
    const live: Live = { callId, timer: undefined, answered: false };
    this.live.set(providerCallId, live);
    const next = (i: number) => {
      const [delay, status, extra] = steps[i];
      live.timer = setTimeout(() => {
        live.timer = undefined;
        if (status === 'answered') {
          live.answered = true;
          live.answeredAt = Date.now();
        }
        if (i + 1 < steps.length) next(i + 1);
        else this.live.delete(providerCallId);
        void this.report(providerCallId, callId, status, extra).then(() => this.recordAfter(callId, status, live, voicemail));
      }, delay);
    };
    next(0);
  }

  /**
   * Delivers one status report, retrying with backoff while the gateway cannot take it (its store
   * is down: the ingress throws, as an HTTP webhook would get a 5xx) — real providers redeliver
   * refused webhooks too, and without it a call whose end is reported during a Redis outage would
   * never end, and never be logged. Gives up after REPORT_RETRY_MS or when the adapter closes.
   */
  private async report(providerCallId: string, callId: string, status: CallStatus, extra: Record<string, unknown> = {}): Promise<void> {
    const at = new Date().toISOString();
    const deadline = Date.now() + REPORT_RETRY_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.ctx.deliverWebhook('/status', { providerCallId, callId, status, at, ...extra });
        return;
      } catch (e) {
        if (this.closed || Date.now() + delay > deadline) {
          this.ctx.logger.warn({ err: (e as Error).message, status }, 'sim status delivery failed; giving up');
          return;
        }
        this.ctx.logger.info({ err: (e as Error).message, status, retryInMs: delay }, 'sim status delivery failed; retrying');
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  /** The recording of an answered call (provider recording on), or the voicemail of an unanswered one. */
  private recordAfter(callId: string, status: CallStatus, live: Live, voicemail: boolean): void {
    const sink = this.ctx.sink;
    if (!sink.media || this.closed) return;
    let kind: 'recording' | 'voicemail';
    let seconds: number;
    if (status === 'answered' && this.ctx.provider.recording === 'on') {
      void sink.media({ callId, kind: 'recording', status: 'pending' });
      return;
    }
    if (status === 'completed' && live.answeredAt !== undefined && this.ctx.provider.recording === 'on') {
      kind = 'recording';
      seconds = Math.max(1, Math.round((Date.now() - live.answeredAt) / 1000));
    } else if (status === 'no-answer' && voicemail) {
      kind = 'voicemail';
      seconds = VOICEMAIL_SEC;
      void sink.media({ callId, kind, status: 'pending' });
    } else return;
    const t = setTimeout(() => {
      this.media.delete(t);
      void sink.media!({ callId, kind, status: 'available', durationSec: seconds, ref: `sim:${Math.min(seconds, MAX_RECORDING_SEC)}` }).catch((e: Error) =>
        this.ctx.logger.warn({ err: e.message }, 'sim recording report failed'),
      );
    }, this.recordingDelayMs);
    this.media.add(t);
  }

  /** A real WAV: 8 kHz mono PCM, a tone as long as the reference says (at most 10 s). */
  async fetchMedia(_call: Call, _kind: 'recording' | 'voicemail', ref: string, range?: string): Promise<MediaStream> {
    const m = /^sim:(\d{1,2})$/.exec(ref);
    if (!m) return { status: 404, contentType: 'application/json' };
    return bufferMedia(toneWav(Math.min(Number(m[1]), MAX_RECORDING_SEC)), 'audio/wav', range);
  }

  async hangUp(call: Call): Promise<void> {
    const pcid = call.providerCallId;
    if (!pcid) return;
    const live = this.live.get(pcid);
    if (!live) return;
    clearTimeout(live.timer);
    this.live.delete(pcid);
    if (live.answered) {
      const durationSec = Math.round((Date.now() - (live.answeredAt ?? Date.now())) / 1000);
      await this.report(pcid, live.callId, 'completed', { durationSec, cause: 'hung_up_by_api' });
      this.recordAfter(live.callId, 'completed', live, false);
    } else {
      await this.report(pcid, live.callId, 'canceled', { cause: 'canceled_by_api' });
    }
  }

  async handleWebhook(req: WebhookRequest): Promise<WebhookReply> {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (req.subpath === '/status') {
      if (!req.internal) return { statusCode: 403, body: { error: { code: 'forbidden', message: 'sim status reports come only from the simulator' } } };
      const status = body.status as CallStatus;
      if (typeof body.providerCallId !== 'string' || !STATUS_EVENTS.has(status)) {
        return { statusCode: 400, body: { error: { code: 'validation_failed', message: 'providerCallId and a call status are required' } } };
      }
      await this.ctx.sink.status({
        providerCallId: body.providerCallId,
        callId: typeof body.callId === 'string' ? body.callId : undefined,
        status,
        at: typeof body.at === 'string' ? body.at : new Date().toISOString(),
        cause: typeof body.cause === 'string' ? body.cause : undefined,
        durationSec: typeof body.durationSec === 'number' ? body.durationSec : undefined,
      });
      return { statusCode: 204 };
    }
    if (req.subpath === '/inbound' && req.method === 'POST') {
      const from = body.from;
      const to = body.to;
      if (typeof from !== 'string' || typeof to !== 'string' || from.length > 64 || to.length > 64) {
        return { statusCode: 400, body: { error: { code: 'validation_failed', message: 'body must be {from, to} phone numbers' } } };
      }
      if (body.agentAnswers !== undefined && typeof body.agentAnswers !== 'boolean') {
        return { statusCode: 400, body: { error: { code: 'validation_failed', message: 'agentAnswers must be a boolean' } } };
      }
      const providerCallId = simCallId(this.ctx.instances.id, true);
      const route = await this.ctx.sink.inbound({ providerCallId, from, to, at: new Date().toISOString() });
      if (!route) return { statusCode: 404, body: { error: { code: 'unknown_number', message: `no user of this provider owns ${to}` } } };
      // the agent's phone now rings: play the configured answer / talk time like an outbound call
      this.schedule(providerCallId, route.call.id, undefined, { agentAnswers: body.agentAnswers !== false, ringTimeoutMs: route.ringTimeoutSec * 1000 });
      return { statusCode: 200, body: { callId: route.call.id, userId: route.user.id } };
    }
    return { statusCode: 404, body: { error: { code: 'not_found', message: `no sim webhook at ${req.subpath}` } } };
  }

  async health(): Promise<ProviderHealth> {
    return this.cfg.failDial ? { healthy: false, detail: 'failDial is set: every dial is refused' } : { healthy: true };
  }

  /** "Its own table": the live calls of this instance; another live instance's are left to it. */
  async fetchStatus(call: Call): Promise<CallReport> {
    const pcid = call.providerCallId ?? '';
    const live = this.live.get(pcid);
    if (live) return { state: 'known', status: live.answered ? 'answered' : call.status };
    const owner = ownerOf(pcid);
    if (owner && owner !== this.ctx.instances.id && (await this.ctx.instances.alive(owner))) return { state: 'known', status: call.status };
    return { state: 'unknown' };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.media) clearTimeout(t);
    this.media.clear();
    for (const l of this.live.values()) clearTimeout(l.timer);
    this.live.clear();
  }
}

export const simKind: ProviderKindDefinition = {
  kind: 'sim',
  displayName: 'Simulator',
  capabilities: { recording: true, voicemail: true, inbound: true },
  configSchema,
  secretFields: [],
  create: (ctx) => new SimAdapter(ctx),
  // a simulator reaches every agent, with or without a phone
  canReach: () => true,
  describe: (_p, webhookBase) => ({ inboundUrl: `${webhookBase}/inbound` }),
};
