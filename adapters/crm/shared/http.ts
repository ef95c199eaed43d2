// Outbound HTTP for CRM adapters: bounded timeouts and one classification of failures, so every
// CRM kind retries the same things (network errors, 429, 5xx) and fails fast on the rest.

import { request } from 'undici';
import { CrmError } from '../../../src/crm/adapter.js';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Sends one request. Network failures (refused, reset, timeout, a connection dropped before the
 * answer) become retryable CrmErrors: the CRM may or may not have acted, which is why writes
 * carry an idempotency key or are looked up before being repeated.
 */
export async function send(req: HttpRequest, label: string): Promise<HttpResponse> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs + 1000),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).name ?? 'network_error';
    // the message of a network error names only the host, never a credential
    throw new CrmError(`${label}: network error (${code})`, true, undefined, 'network_error');
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: HttpResponse['headers'], now = Date.now()): number | undefined {
  const raw = headers['retry-after'];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

export function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
