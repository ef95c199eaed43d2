// RingCentral error bodies → ProviderError. RingCentral says to branch on errorCode, never on the
// message ({errors: [{errorCode, message, parameterName?}]}, sometimes with a top-level errorCode as
// well, e.g. {errorCode: "TokenInvalid", errors: [{errorCode: "OAU-149"}]}). The OAuth endpoint adds
// RFC 6749 fields ({error: "invalid_grant", error_description}).

import { ProviderError } from '../../src/providers/adapter.js';

export interface RcErrorItem {
  errorCode?: string;
  message?: string;
  parameterName?: string;
}

export function errorItems(body: unknown): RcErrorItem[] {
  if (!body || typeof body !== 'object') return [];
  const b = body as Record<string, unknown>;
  const items: RcErrorItem[] = [];
  if (Array.isArray(b.errors)) {
    for (const e of b.errors) if (e && typeof e === 'object') items.push(e as RcErrorItem);
  }
  if (typeof b.errorCode === 'string') items.push({ errorCode: b.errorCode, message: typeof b.message === 'string' ? b.message : undefined });
  if (typeof b.error === 'string') items.push({ errorCode: b.error, message: typeof b.error_description === 'string' ? b.error_description : undefined });
  return items;
}

// Permission errors mean the app or the JWT user is not set up for what we ask (RingOut,
// CallControl, webhooks): an operator has to fix the credentials, like a bad secret.
const PERMISSION_CODES = new Set(['CMN-401', 'CMN-402', 'CMN-405', 'CMN-408']);
const AUTH_CODES = new Set(['TokenInvalid', 'TokenExpired', 'invalid_client', 'invalid_grant', 'unauthorized_client']);

/** Text safe to show a client: RingCentral's codes and messages never carry our credentials. */
function describe(items: RcErrorItem[]): string {
  // the top-level errorCode often repeats the first item of errors[]
  const parts = [...new Set(items.filter((i) => i.errorCode || i.message).map((i) => [i.errorCode, i.message].filter(Boolean).join(' ')))].slice(0, 3);
  return parts.length ? parts.join('; ').slice(0, 300) : 'no error details';
}

/**
 * Maps a failed response. `operation` is ours (createRingOut, token...) and names the request in
 * the message; `notAccepted` follows ProviderError: true when RingCentral surely did nothing.
 */
export function mapRcError(operation: string, status: number, body: unknown, retryAfterSec?: number): ProviderError {
  const items = errorItems(body);
  const codes = items.map((i) => i.errorCode ?? '');
  const text = `RingCentral ${operation} failed (HTTP ${status}): ${describe(items)}`;
  // RingCentral's own code for the caller: the OAuth error (invalid_client...) when there is one
  const oauth = body && typeof body === 'object' ? (body as Record<string, unknown>).error : undefined;
  const own = typeof oauth === 'string' ? oauth : codes.find(Boolean);
  if (status === 429 || codes.some((c) => /^CMN-30[1-4]$|^CMN-310$/.test(c))) {
    return new ProviderError('rate_limited', text, retryAfterSec ?? 60, true, own);
  }
  if (status === 401 || codes.some((c) => c.startsWith('OAU-') || AUTH_CODES.has(c) || PERMISSION_CODES.has(c))) {
    return new ProviderError('provider_auth_failed', text, undefined, true, own);
  }
  if (status >= 500) {
    // 503 means the request was refused before anything happened; other 5xx may have half-run
    return new ProviderError('provider_unavailable', text, retryAfterSec, status === 503, own);
  }
  const phoneParam = items.some((i) => /phone|number|^to$|^from$/i.test(i.parameterName ?? ''));
  if (
    operation === 'createRingOut' &&
    (codes.includes('CMN-101') || codes.includes('CMN-102') || codes.some((c) => c.startsWith('RNG-'))) &&
    (phoneParam || items.every((i) => !i.parameterName))
  ) {
    return new ProviderError('invalid_number', text, undefined, true);
  }
  return new ProviderError('provider_error', text, undefined, true);
}

/** Transport failures: timeouts are ambiguous (the request may have run), refusals are not. */
export function mapTransportError(operation: string, err: unknown): ProviderError {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new ProviderError('provider_unavailable', `RingCentral ${operation} timed out`, undefined, false);
  }
  const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
  return new ProviderError('provider_unavailable', `RingCentral ${operation} unreachable (${code || 'network error'})`, undefined, refused);
}
