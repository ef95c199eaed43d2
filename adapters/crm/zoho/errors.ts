// Zoho's error shapes turned into CrmErrors. Top level: {code, details, message, status:"error"};
// per record: {data:[{code, details, message, status:"error"}]}. Messages keep Zoho's code and
// the field it names, never a token.

import { CrmError } from '../../../src/crm/adapter.js';
import { isRetryableStatus, parseJson, retryAfterMs, type HttpResponse } from '../shared/http.js';

export interface ZohoErrorBody {
  code?: string;
  details?: Record<string, unknown>;
  message?: string;
  status?: string;
}

const RETRYABLE_CODES = new Set(['TOO_MANY_REQUESTS', 'INTERNAL_ERROR', 'INTERNAL_SERVER_ERROR', 'API_TIMEOUT']);

/** Zoho's default penalty when it gives no Retry-After on a rate limit. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;

export function describe(e: ZohoErrorBody): string {
  const field = e.details && typeof e.details.api_name === 'string' ? ` (${e.details.api_name})` : '';
  const msg = typeof e.message === 'string' ? `: ${e.message.slice(0, 200)}` : '';
  return `${e.code ?? 'UNKNOWN'}${field}${msg}`;
}

/** A CrmError for a record-level error (INVALID_DATA, MANDATORY_NOT_FOUND, DUPLICATE_DATA...). */
export function recordError(e: ZohoErrorBody, label: string): CrmError {
  const retryable = RETRYABLE_CODES.has(e.code ?? '');
  return new CrmError(`${label}: ${describe(e)}`, retryable, undefined, e.code);
}

/** A CrmError for a non-2xx answer. INVALID_TOKEN is left to the caller, which refreshes once. */
export function responseError(res: HttpResponse, label: string): CrmError {
  const body = parseJson(res.text) as (ZohoErrorBody & { data?: ZohoErrorBody[] }) | undefined;
  const top: ZohoErrorBody = body?.code ? body : (body?.data?.[0] ?? {});
  const code = top.code ?? `HTTP_${res.status}`;
  const reason = top.code ? describe(top) : `HTTP ${res.status}`;
  if (isRetryableStatus(res.status) || RETRYABLE_CODES.has(code)) {
    const wait = retryAfterMs(res.headers) ?? (res.status === 429 || code === 'TOO_MANY_REQUESTS' ? DEFAULT_RATE_LIMIT_WAIT_MS : undefined);
    return new CrmError(`${label}: ${reason}`, true, wait, code);
  }
  return new CrmError(`${label}: ${reason}`, false, undefined, code);
}

export function isInvalidToken(res: HttpResponse): boolean {
  if (res.status !== 401) return false;
  const body = parseJson(res.text) as ZohoErrorBody | undefined;
  return body?.code === 'INVALID_TOKEN';
}
