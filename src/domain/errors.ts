// Errors the domain raises. The HTTP layer maps each to its status; the message is safe to show a
// client (it never carries a secret) and `details` adds machine-readable context.

export type ErrorCode =
  | 'validation_failed'
  | 'invalid_cursor'
  | 'unauthorized'
  | 'not_found'
  | 'user_not_found'
  | 'provider_not_found'
  | 'call_not_found'
  | 'assigned_elsewhere'
  | 'region_unavailable'
  | 'number_taken'
  | 'provider_has_users'
  | 'no_provider'
  | 'invalid_number'
  | 'idempotency_mismatch'
  | 'idempotency_in_progress'
  | 'provider_unavailable'
  | 'provider_auth_failed'
  | 'provider_unreachable'
  | 'provider_error'
  | 'destination_not_allowed'
  | 'rate_limited'
  | 'call_not_active'
  | 'store_unavailable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'forbidden'
  | 'last_admin_key'
  | 'upgrade_required'
  | 'wrapup_closed'
  | 'capability_unsupported'
  | 'internal';

export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  validation_failed: 400,
  invalid_cursor: 400,
  unauthorized: 401,
  forbidden: 403,
  destination_not_allowed: 403,
  not_found: 404,
  user_not_found: 404,
  provider_not_found: 404,
  call_not_found: 404,
  assigned_elsewhere: 409,
  number_taken: 409,
  provider_has_users: 409,
  no_provider: 409,
  idempotency_in_progress: 409,
  call_not_active: 409,
  last_admin_key: 409,
  wrapup_closed: 409,
  capability_unsupported: 422,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  region_unavailable: 422,
  invalid_number: 422,
  idempotency_mismatch: 422,
  provider_unreachable: 422,
  rate_limited: 429,
  internal: 500,
  provider_auth_failed: 502,
  provider_error: 502,
  provider_unavailable: 503,
  store_unavailable: 503,
};

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  /** seconds, sent as Retry-After on 429/503 */
  readonly retryAfter?: number;

  /** the code's usual status unless set (a provider refusing credentials at install is 422, not the dial-time 502) */
  private readonly statusOverride?: number;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, retryAfter?: number, status?: number) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
    this.statusOverride = status;
  }

  get status(): number {
    return this.statusOverride ?? STATUS_BY_CODE[this.code];
  }
}

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}
