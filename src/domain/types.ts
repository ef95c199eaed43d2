// The domain's nouns, shared by the store, the routing core, the HTTP layer and the adapters.
// Field names follow the API contract in DESIGN.md (camelCase JSON).

export type ProviderKind = string; // "sim" | "twilio" | "ringcentral" | "sip" | ...more from the registry

export interface Org {
  id: string;
  name: string;
  createdAt: string;
}

/** What a credential may do: everything (admin), read (GET only), or act as one agent. */
export type KeyScope = 'admin' | 'read' | 'agent';

export interface ApiKeyRecord {
  keyId: string;
  orgId: string;
  /** hex sha256 of the secret part; the key itself is never stored */
  secretHash: string;
  createdAt: string;
  /** absent on keys made before scopes existed: admin */
  scope?: KeyScope;
  name?: string;
  /** agent tokens: the user they act as */
  userId?: string;
  /** agent tokens: when they stop working (ISO 8601) */
  expiresAt?: string;
  /** agent tokens: the user's token version when minted (DirectoryStore.tokenVersion); a later one revokes it */
  tokenVersion?: number;
}

export interface Regions {
  allow?: string[];
  deny?: string[];
}

export interface User {
  id: string;
  region: string;
  name?: string;
  email?: string;
  /** E.164 */
  phone?: string;
  sipUri?: string;
  /** DIDs owned by this user, E.164, unique within the org */
  numbers: string[];
  crmUserId?: string;
  /** seconds an inbound call rings the agent before it is missed (voicemail or no-answer); see RING_TIMEOUT_SEC */
  ringTimeoutSec?: number;
  providerId: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A user's ring timeout: the default for users stored without one, and the bounds PUT /v1/users accepts. */
export const RING_TIMEOUT_SEC = { default: 25, min: 5, max: 120 } as const;

/** How long an inbound call rings this user before it is missed. */
export function ringTimeoutOf(user: Pick<User, 'ringTimeoutSec'>): number {
  return user.ringTimeoutSec ?? RING_TIMEOUT_SEC.default;
}

/** What a client may set on a user (PUT /v1/users/{id}); providerId is managed by assignment. */
export type UserInput = Omit<User, 'id' | 'providerId' | 'createdAt' | 'updatedAt'>;

export type InstallScope = 'all' | 'specific';

/** A provider's circuit-breaker settings (each optional; defaults in src/providers/breaker.ts). */
export interface BreakerSettings {
  /** consecutive failures (dials the provider never took, failed probes) that open it */
  failureThreshold?: number;
  /** seconds it stays open before a half-open trial */
  openSec?: number;
  /** trial successes (dials or probes) that close it again */
  closeAfter?: number;
}

export interface Provider {
  id: string;
  orgId: string;
  kind: ProviderKind;
  name: string;
  /** Kind-specific configuration including secrets; redact before it leaves the process. */
  config: Record<string, unknown>;
  regions: Regions;
  priority: number;
  scope: InstallScope;
  futureUsers: boolean;
  /** record bridged calls / take unanswered inbound calls to voicemail (absent: off); the kind must be capable */
  recording?: MediaSetting;
  voicemail?: MediaSetting;
  /** circuit-breaker settings; absent: the defaults */
  health?: BreakerSettings;
  createdAt: string;
  updatedAt: string;
}

export type MediaSetting = 'off' | 'on';

export type ConflictReason = 'assigned_elsewhere' | 'region_unavailable' | 'unknown_user';

export interface Conflict {
  userId: string;
  providerId?: string;
  reason: ConflictReason;
}

export interface AssignResult {
  assigned: string[];
  conflicts: Conflict[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const CALL_STATUSES = [
  'queued',
  'dialing',
  'ringing',
  'answered',
  'completed',
  'failed',
  'busy',
  'no-answer',
  'canceled',
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<CallStatus> = new Set([
  'completed',
  'failed',
  'busy',
  'no-answer',
  'canceled',
]);

export type CallDirection = 'outbound' | 'inbound';

export interface CrmRecordRef {
  module: string;
  id: string;
}

export interface StatusChange {
  status: CallStatus;
  /** ISO 8601 */
  at: string;
  /** free-form cause from the provider (e.g. a SIP status or Twilio error), never a secret */
  cause?: string;
}

export interface CrmLogState {
  status: 'pending' | 'logged' | 'failed' | 'skipped';
  recordId?: string;
  attempts: number;
  lastError?: string;
  /**
   * The change counters (Call.changes) the first log already carried: a later update of a group
   * at or below its count was folded into the log and is not sent again.
   */
  covers?: Record<string, number>;
}

/** A recording or a voicemail of a call: `url` is the gateway's own signed, expiring link. */
export interface MediaState {
  status: 'pending' | 'available' | 'absent' | 'failed';
  durationSec?: number;
  url?: string;
}

/** A CRM record a phone search found (screen pops, candidates when there are several). */
export interface CrmCandidate {
  module: string;
  id: string;
  name?: string;
  url?: string;
}

export interface Call {
  id: string;
  orgId: string;
  userId: string;
  providerId: string;
  providerKind: ProviderKind;
  direction: CallDirection;
  from?: string;
  to: string;
  status: CallStatus;
  providerCallId?: string;
  crmRecord?: CrmRecordRef;
  failedOverFrom?: string;
  createdAt: string;
  updatedAt: string;
  answeredAt?: string;
  endedAt?: string;
  /** seconds between answer and end, when answered */
  durationSec?: number;
  history: StatusChange[];
  crmLog?: CrmLogState;
  /** the number the customer sees (local presence: the provider's pool number that best matches the destination) */
  callerId?: string;
  /** an ended outbound call's cost (src/costs) */
  cost?: { amount: number; currency: string; source: 'rates' | 'provider' };
  /** the price the provider reported for the call, when it does (replaces the rate table's) */
  providerPrice?: { amount: number; currency: string };
  /** true for trial calls, which have no user (userId is "") */
  trial?: boolean;
  trialId?: string;
  /** wrap-up (PATCH /v1/calls/{id}) */
  disposition?: string;
  notes?: string;
  subject?: string;
  recording?: MediaState;
  voicemail?: MediaState;
  /** an inbound call nobody answered */
  missed?: boolean;
  /** the screen pop's CRM match (null: none, or several: see candidates) */
  match?: CrmCandidate | null;
  /** several records matched the customer's number: no guess, the agent picks (crmRecord) */
  candidates?: CrmCandidate[];
  /**
   * Internal, never shown: per change group (src/domain/call-updates.ts) how many times its
   * fields changed, so each change reaches the CRM once (job and Idempotency-Key carry the count).
   */
  changes?: Record<string, number>;
  /** Internal: the provider's reference to the recording / voicemail (a sid, a content URI), for streaming it */
  recordingRef?: string;
  voicemailRef?: string;
}

/** A call as clients see it (API responses, events): everything but the org, which they know. */
export type PublicCall = Omit<Call, 'orgId' | 'changes' | 'recordingRef' | 'voicemailRef'>;

export function toPublicCall(call: Call): PublicCall {
  const { orgId: _org, changes: _changes, recordingRef: _rr, voicemailRef: _vr, ...rest } = call;
  return rest;
}
