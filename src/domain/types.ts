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
  providerId: string | null;
  createdAt: string;
  updatedAt: string;
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
  /** circuit-breaker settings; absent: the defaults */
  health?: BreakerSettings;
  createdAt: string;
  updatedAt: string;
}

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
  /** true for trial calls, which have no user (userId is "") */
  trial?: boolean;
  trialId?: string;
}

/** A call as clients see it (API responses, events): everything but the org, which they know. */
export type PublicCall = Omit<Call, 'orgId'>;

export function toPublicCall(call: Call): PublicCall {
  const { orgId: _org, ...rest } = call;
  return rest;
}
