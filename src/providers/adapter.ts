// The provider adapter interface. The routing core (src/calls, src/http) talks to providers only
// through this file's types; each provider kind lives in its own folder under adapters/ and is
// registered in adapters/registry.ts. The core never imports an adapter.

import type { Logger } from 'pino';
import type { Call, CallStatus, MediaState, Provider, User } from '../domain/types.js';
import type { SharedState } from '../store/state/port.js';

/** A request to start a click-to-call: ring the agent, then the customer, and connect them. */
export interface DialRequest {
  call: Call;
  /** The agent; null for trial calls (which ring the destination directly). */
  user: User | null;
  /** E.164 destination (already normalised and policy-checked). */
  to: string;
  /** Stable per call: adapters pass it as the provider's idempotency token where one exists. */
  idempotencyToken: string;
  /** Trial calls: hang up this long after answer. */
  hangUpAfterMs?: number;
}

export interface DialResult {
  providerCallId: string;
  /** Status the provider reported synchronously (e.g. "dialing"); later ones come as events. */
  status?: CallStatus;
  /** The caller id used, when the adapter knows it. */
  from?: string;
}

/** A normalised status report about one provider call. */
export interface StatusEvent {
  providerCallId: string;
  /** Our call id, when the adapter knows it (e.g. put in its callback URL): found without a lookup
   * and immune to a callback racing the dial response. */
  callId?: string;
  status: CallStatus;
  /** ISO 8601 time the provider says it happened (or arrival time). */
  at: string;
  /** Provider ordering number (Twilio SequenceNumber, RingCentral sequence), informational. */
  seq?: number;
  cause?: string;
  durationSec?: number;
  /** what the provider charged for the call, where it says (e.g. Twilio's price/price_unit): replaces the rate table's cost */
  price?: { amount: number; currency: string };
}

/** A provider reporting a new inbound call to one of its numbers. */
export interface InboundEvent {
  providerCallId: string;
  from: string;
  /** The DID that was called, E.164 */
  to: string;
  at: string;
}

/** A recording or voicemail of a call: pending, then available (or absent / failed). */
export interface MediaEvent {
  /** our call id when the adapter knows it, else found by providerCallId */
  callId?: string;
  providerCallId?: string;
  kind: 'recording' | 'voicemail';
  status: MediaState['status'];
  durationSec?: number;
  /** the provider's reference to fetch it later (a recording sid, a content URI); never shown */
  ref?: string;
}

/** A recording streamed from the provider (the gateway relays it: provider credentials stay here). */
export interface MediaStream {
  /** 200, 206 for a range, 404 when the provider has none, 416 for a range past its end */
  status: number;
  contentType: string;
  headers?: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream;
}

/** What a provider kind can do (GET /v1/provider-kinds); a setting it cannot honour is refused. */
export interface ProviderCapabilities {
  recording: boolean;
  voicemail: boolean;
  inbound: boolean;
}

export interface InboundRoute {
  call: Call;
  user: User;
  /**
   * Seconds the agent may take to answer (the user's ringTimeoutSec, defaulted): unanswered by
   * then, the call goes to the provider's voicemail when its `voicemail` is on, else ends no-answer.
   */
  ringTimeoutSec: number;
}

/** Implemented by the core; adapters feed it what their webhooks (or SIP dialogs) report. */
export interface CallEventSink {
  status(ev: StatusEvent): Promise<Call | null>;
  /**
   * Routes an inbound call: finds the user owning the DID on this provider, creates the inbound
   * call and emits the screen pop. null when the DID is unknown (the adapter refuses the call its
   * provider's way: TwiML <Reject/>, SIP 404...).
   */
  inbound(ev: InboundEvent): Promise<InboundRoute | null>;
  /** A recording or voicemail became pending, available, absent or failed. */
  media?(ev: MediaEvent): Promise<Call | null>;
  /** Looks a call up by the provider's id (e.g. for TwiML requests on an existing call). */
  findCall(providerCallId: string): Promise<Call | null>;
  /** Looks one of our calls up by its id (adapters put it in callback URLs). */
  getCall(callId: string): Promise<Call | null>;
  /** The user of a call, for adapters that must route to the agent. */
  getUser(userId: string): Promise<User | null>;
}

export interface WebhookRequest {
  method: string;
  /** The part of the path after /webhooks/{kind}/{providerId}, e.g. "/voice" or "/status". */
  subpath: string;
  /** The URL the provider requested, rebuilt from PUBLIC_URL (what signatures cover). */
  publicUrl: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  contentType: string;
  /** The body parsed by content type (form → object of string | string[]; JSON → value). */
  body: unknown;
  /** Set only for deliveries from inside the gateway (ctx.deliverWebhook), never from HTTP. */
  internal?: boolean;
}

export interface WebhookReply {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string | Record<string, unknown>;
}

export interface ProviderHealth {
  healthy: boolean;
  detail?: string;
}

/**
 * What a provider says about one of its calls, when the reconciler asks about a call with no news
 * (src/calls/reconciler.ts): its status there; `unknown` when the provider has no such call (the
 * call is then ended failed, cause "stale"); `unsure` when it cannot tell now (its API is down,
 * the dialog is held by another live instance): asked again on the next round.
 */
export type CallReport =
  | { state: 'known'; status: CallStatus; at?: string; durationSec?: number; cause?: string }
  | { state: 'unknown' }
  | { state: 'unsure'; detail?: string };

/** Instances of this deployment that are alive (a heartbeat in the backend): whose in-process calls still exist. */
export interface InstanceLiveness {
  /** this gateway instance */
  readonly id: string;
  alive(instanceId: string): Promise<boolean>;
}

export interface ProviderMetrics {
  /** Time spent in one provider API request, for latency figures and the circuit breaker. */
  apiRequest(operation: string, seconds: number, outcome: 'ok' | 'error' | 'timeout' | 'rate_limited'): void;
}

export interface ProviderContext {
  provider: Provider;
  /** Base URL providers reach us on, without trailing slash (PUBLIC_URL). */
  publicUrl: string;
  /** `${publicUrl}/webhooks/${kind}/${providerId}` */
  webhookBase: string;
  sink: CallEventSink;
  shared: SharedState;
  logger: Logger;
  metrics: ProviderMetrics;
  /** which gateway instances are alive (adapters holding calls in-process tell another's from a lost one) */
  instances: InstanceLiveness;
  /**
   * Delivers a webhook to this provider through the same ingress real HTTP webhooks use
   * (authentication aside): the sim provider reports progress this way.
   */
  deliverWebhook(subpath: string, body: unknown): Promise<WebhookReply>;
}

export interface ProviderAdapter {
  dial(req: DialRequest): Promise<DialResult>;
  /** Hang up an answered call or cancel one still ringing. */
  hangUp(call: Call): Promise<void>;
  /** Verifies the provider's authentication (403 if wrong), then parses and feeds ctx.sink. */
  handleWebhook(req: WebhookRequest): Promise<WebhookReply>;
  /**
   * An active probe of the provider (an authenticated read, an OPTIONS...): run on an interval by
   * one instance, fed into the shared breaker with the same hysteresis as dials.
   */
  health(): Promise<ProviderHealth>;
  /**
   * Streams a recording or voicemail of one of its calls (`ref` as the adapter reported it),
   * honouring an HTTP Range; optional (kinds without recordings).
   */
  fetchMedia?(call: Call, kind: 'recording' | 'voicemail', ref: string, range?: string): Promise<MediaStream>;
  /** Asks the provider where one of its calls stands (the reconciler; src/calls/reconciler.ts). */
  fetchStatus?(call: Call): Promise<CallReport>;
  /** Called once when the provider is installed or its config changed (e.g. create a subscription). */
  install?(): Promise<void>;
  /** Called when it is uninstalled. */
  uninstall?(): Promise<void>;
  /** Release timers and connections. */
  close?(): Promise<void>;
}

export interface ProviderKindDefinition {
  kind: string;
  /** a human name for the kind (GET /v1/provider-kinds) */
  displayName?: string;
  /** absent: none of the optional features */
  capabilities?: ProviderCapabilities;
  /**
   * Seconds after an answered call's end during which this kind may still report its price
   * (StatusEvent.price, e.g. Twilio's, filled in after completion): the call log waits that long
   * for it, so the log carries the provider's cost. Absent: the log does not wait.
   */
  priceWaitSec?: number;
  /** JSON Schema of the config object (validated on create and update). */
  configSchema: Record<string, unknown>;
  /** Config keys (dotted paths) that are secrets: write-only, redacted on every read. */
  secretFields: string[];
  create(ctx: ProviderContext): ProviderAdapter;
  /**
   * Its adapters receive calls over a connection they open themselves (SIP: drachtio routes
   * INVITEs to the apps connected to it), so every instance keeps one live for every provider of
   * the kind from start-up on, not only once something dials (src/providers/warmer.ts).
   */
  alwaysOn?: boolean;
  /**
   * Checks a config's credentials against the provider before it is stored (install, config
   * change). Throws ProviderError provider_auth_failed (the provider refused them: its own error
   * code in providerCode) or provider_unavailable (it could not be reached). Absent: nothing to check.
   */
  verify?(config: Record<string, unknown>, opts: { logger: Logger; shared: SharedState }): Promise<void>;
  /**
   * Whether this provider can ring the agent (e.g. SIP needs user.sipUri, the others a phone).
   * Routing and failover skip providers that cannot. Default: the user has a phone.
   */
  canReach?(user: User, provider: Provider): boolean;
  /**
   * Readiness of what the kind shares across its providers (e.g. SIP: the drachtio connections);
   * /readyz reports it. A silent loss must show here.
   */
  readiness?(): { ok: boolean; detail?: string };
  /** Releases what the kind shares across providers, at gateway shutdown. */
  shutdown?(): Promise<void>;
  /** Extra read-only details for GET /v1/providers/{id} (e.g. the webhook URL to configure). */
  describe?(provider: Provider, webhookBase: string): Record<string, unknown>;
}

export class ProviderError extends Error {
  constructor(
    readonly code: 'provider_auth_failed' | 'provider_error' | 'provider_unavailable' | 'invalid_number' | 'rate_limited',
    message: string,
    /** seconds to wait before retrying, when the provider said */
    readonly retryAfter?: number,
    /** true when the provider never accepted the request (safe to fail over) */
    readonly notAccepted = true,
    /** the provider's own error code (Twilio 20003, RingCentral OAU-146 / invalid_client...), never a secret */
    readonly providerCode?: string,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
