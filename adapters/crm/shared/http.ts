// Outbound HTTP for CRM adapters: bounded timeouts and one classification of failures, so every
// CRM kind retries the same things (network errors, 429, 5xx) and fails fast on the rest.

import { Agent } from 'undici';
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
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * One connection pool per CRM origin, shared by every adapter in the process (adapters are
 * rebuilt when an org's config changes; the pool is not): a call log costs one request on a warm
 * keep-alive connection instead of a TCP (and TLS) handshake. An idle socket is closed after 4 s,
 * or after the idle time the CRM announces in Keep-Alive (capped at 30 s), so a CRM that drops
 * idle connections sooner is not handed a dead socket.
 */
const agent = new Agent({
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 30_000,
  connect: { timeout: CONNECT_TIMEOUT_MS },
});

function networkError(label: string, e: unknown): CrmError {
  const code = (e as { code?: string }).code ?? (e as Error).name ?? 'network_error';
  // the message of a network error names only its kind, never a URL or a credential
  return new CrmError(`${label}: network error (${code})`, true, undefined, 'network_error');
}

/**
 * Sends one request. Network failures (refused, reset, timeout, a connection dropped before the
 * answer) become retryable CrmErrors: the CRM may or may not have acted, which is why writes
 * carry an idempotency key or are looked up before being repeated.
 *
 * Bounded without an AbortSignal per request (a timer each): connecting takes at most 10 s, the
 * answer's headers at most `timeoutMs` after, and no gap in its body may exceed `timeoutMs`.
 * Uses undici's dispatch API with a plain handler rather than `request`, whose stream per
 * response costs more than the rest of a webhook call log.
 */
export function send(req: HttpRequest, label: string): Promise<HttpResponse> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise<HttpResponse>((resolve, reject) => {
    let status = 0;
    let headers: HttpResponse['headers'] = {};
    let chunks: Buffer[] = [];
    try {
      const url = new URL(req.url);
      agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers: req.headers,
          body: req.body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        {
          onRequestStart() {},
          onResponseStart(_c, statusCode, h) {
            status = statusCode;
            headers = h;
            chunks = [];
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
            resolve({ status, headers, text });
          },
          onResponseError(_c, e) {
            reject(networkError(label, e));
          },
        },
      );
    } catch (e) {
      reject(networkError(label, e));
    }
  });
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
