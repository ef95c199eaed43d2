// A small client for the Twilio REST operations the adapter needs (create, update, fetch and list
// calls; fetch the account: the credentials check and the health probe; stream a recording), with twilio-node's retry rule for 429 and every failure mapped to a ProviderError whose
// message never carries a credential.

import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fetch } from 'undici';
import { ProviderError, type MediaStream, type ProviderMetrics } from '../../src/providers/adapter.js';
import type { TwilioConfig } from './config.js';

export type FormParams = Record<string, string | string[] | undefined>;

/** The fields of Twilio's Call resource the adapter reads. */
export interface TwilioCallResource {
  sid: string;
  status: string;
  [k: string]: unknown;
}

interface TwilioErrorBody {
  code?: number;
  message?: string;
  more_info?: string;
  status?: number;
}

/** Invalid destination / agent numbers: 21211 invalid To, 21214 To unreachable, 21217 not a valid number. */
const INVALID_NUMBER_CODES = new Set([21211, 21214, 21217]);
const AUTH_CODES = new Set([20003]);
const RATE_LIMIT_CODES = new Set([20429]);

export const MAX_RETRIES = 3;

/** twilio-node's full-jitter backoff: rand × min(3000 ms, 100 ms × 2^n). */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(3000, 100 * 2 ** attempt));
}

export function encodeForm(params: FormParams): string {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    // arrays go as repeated keys, as twilio-node sends them (qs arrayFormat "repeat")
    for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
  }
  return body.toString();
}

export interface RestOptions {
  config: TwilioConfig;
  metrics: ProviderMetrics;
  /** injectable so tests can check the jitter without waiting */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class TwilioRest {
  private readonly authHeader: string;

  constructor(private readonly opts: RestOptions) {
    const c = opts.config;
    const user = c.apiKeySid && c.apiKeySecret ? c.apiKeySid : c.accountSid;
    const pass = c.apiKeySid && c.apiKeySecret ? c.apiKeySecret : c.authToken;
    this.authHeader = 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
  }

  private get accountPath(): string {
    return `${this.opts.config.apiBaseUrl}/2010-04-01/Accounts/${encodeURIComponent(this.opts.config.accountSid)}`;
  }

  createCall(params: FormParams, idempotencyToken: string): Promise<TwilioCallResource> {
    return this.send('calls.create', `${this.accountPath}/Calls.json`, params, { 'I-Twilio-Idempotency-Token': idempotencyToken });
  }

  updateCall(sid: string, params: FormParams): Promise<TwilioCallResource> {
    return this.send('calls.update', `${this.accountPath}/Calls/${encodeURIComponent(sid)}.json`, params, {});
  }

  /** GET the Call resource (the reconciler's question); a TwilioApiError 20404 when Twilio has no such call. */
  fetchCall(sid: string): Promise<TwilioCallResource> {
    return this.send('calls.fetch', `${this.accountPath}/Calls/${encodeURIComponent(sid)}.json`, null, {});
  }

  /** GET the account: an authenticated read that changes nothing (credentials check, health probe). */
  fetchAccount(): Promise<TwilioCallResource> {
    return this.send('accounts.fetch', `${this.accountPath}.json`, null, {});
  }

  /** GET the calls a call <Dial>ed (ParentCallSid): their prices add to the parent's. */
  async listChildCalls(parentSid: string): Promise<TwilioCallResource[]> {
    const q = new URLSearchParams({ ParentCallSid: parentSid, PageSize: '50' });
    const page = await this.send<{ calls?: TwilioCallResource[] }>('calls.list', `${this.accountPath}/Calls.json?${q}`, null, {});
    return Array.isArray(page.calls) ? page.calls : [];
  }

  /**
   * Streams a recording's audio (GET .../Recordings/{Sid}.wav|.mp3) with the account's credentials,
   * passing Range through; Twilio's answer (200, 206, 404, 416) is relayed as it came, with its
   * audio headers only. Other failures throw a ProviderError (never a credential in it).
   */
  async fetchRecordingMedia(sid: string, format: 'wav' | 'mp3', range?: string): Promise<MediaStream> {
    const op = 'recordings.media';
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(`${this.accountPath}/Recordings/${encodeURIComponent(sid)}.${format}`, {
        headers: { Authorization: this.authHeader, 'User-Agent': 'dialgate-twilio/0.1', ...(range ? { Range: range } : {}) },
        // the deadline covers the answer's headers; the body then streams at the listener's pace
        signal: AbortSignal.timeout(this.opts.config.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
      this.opts.metrics.apiRequest(op, seconds(), timedOut ? 'timeout' : 'error');
      throw new ProviderError('provider_unavailable', timedOut ? `Twilio API ${op} timed out` : `Twilio API ${op} unreachable (${err.cause?.code ?? 'network error'})`, undefined, false);
    }
    const relay = [200, 206, 404, 416].includes(res.status);
    this.opts.metrics.apiRequest(op, seconds(), relay ? 'ok' : res.status === 429 ? 'rate_limited' : 'error');
    if (!relay) {
      const err = parseError(await res.text().catch(() => ''));
      throw this.mapError(op, res.status, err);
    }
    const headers: Record<string, string> = {};
    for (const h of ['content-length', 'content-range', 'accept-ranges']) {
      const v = res.headers.get(h);
      if (v) headers[h] = v;
    }
    const contentType = res.headers.get('content-type') ?? (format === 'wav' ? 'audio/wav' : 'audio/mpeg');
    if (res.status === 404 || res.status === 416) {
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status, contentType, headers };
    }
    return { status: res.status, contentType, headers, body: res.body ? Readable.fromWeb(res.body as WebReadableStream) : Buffer.alloc(0) };
  }

  /** POST a form (params), or GET (null). */
  private async send<T = TwilioCallResource>(op: string, url: string, params: FormParams | null, extra: Record<string, string>): Promise<T> {
    const { timeoutMs } = this.opts.config;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const body = params === null ? undefined : encodeForm(params);
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      let status: number;
      let text: string;
      let retryAfterHeader: string | null = null;
      try {
        // one deadline covers connect, headers and body
        const res = await fetch(url, {
          method: body === undefined ? 'GET' : 'POST',
          headers: {
            Authorization: this.authHeader,
            ...(body === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' }),
            Accept: 'application/json',
            'User-Agent': 'dialgate-twilio/0.1',
            ...extra,
          },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = res.status;
        retryAfterHeader = res.headers.get('retry-after');
        text = await res.text();
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        if (err.name === 'TimeoutError' || err.name === 'AbortError') {
          this.opts.metrics.apiRequest(op, seconds(), 'timeout');
          // the request may have reached Twilio: not safe to fail over blindly
          throw new ProviderError('provider_unavailable', `Twilio API ${op} timed out after ${timeoutMs} ms`, undefined, false);
        }
        this.opts.metrics.apiRequest(op, seconds(), 'error');
        const code = err.cause?.code ?? 'network error';
        const neverSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
        throw new ProviderError('provider_unavailable', `Twilio API ${op} unreachable (${code})`, undefined, neverSent);
      }

      if (status >= 200 && status < 300) {
        this.opts.metrics.apiRequest(op, seconds(), 'ok');
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new ProviderError('provider_error', `Twilio API ${op} answered ${status} with a body that is not JSON`, undefined, false);
        }
      }

      const err = parseError(text);
      if (status === 429 || (err.code !== undefined && RATE_LIMIT_CODES.has(err.code))) {
        this.opts.metrics.apiRequest(op, seconds(), 'rate_limited');
        // Twilio did not process the request, so retrying is safe (20429)
        if (attempt < MAX_RETRIES) {
          await sleep(backoffMs(attempt, this.opts.random));
          continue;
        }
        const ra = Number(retryAfterHeader);
        throw new ProviderError('rate_limited', `Twilio API ${op} rate limited${codeSuffix(err)}`, Number.isFinite(ra) && ra > 0 ? ra : 1, true);
      }

      this.opts.metrics.apiRequest(op, seconds(), 'error');
      throw this.mapError(op, status, err);
    }
  }

  private mapError(op: string, status: number, err: TwilioErrorBody): ProviderError {
    const detail = `${codeSuffix(err)}${err.message ? `: ${err.message}` : ''}`;
    if (status === 401 || (err.code !== undefined && AUTH_CODES.has(err.code))) {
      return new TwilioApiError('provider_auth_failed', `Twilio rejected the account credentials${codeSuffix(err)}`, err.code ?? 20003, status, true);
    }
    if (status >= 500) {
      return new TwilioApiError('provider_unavailable', `Twilio API ${op} failed with ${status}${detail}`, err.code, status, false);
    }
    if (err.code !== undefined && INVALID_NUMBER_CODES.has(err.code)) {
      return new TwilioApiError('invalid_number', `Twilio refused the number${detail}`, err.code, status, true);
    }
    return new TwilioApiError('provider_error', `Twilio API ${op} refused with ${status}${detail}`, err.code, status, true);
  }
}

function parseError(text: string): TwilioErrorBody {
  try {
    const b = JSON.parse(text) as TwilioErrorBody;
    return b && typeof b === 'object' ? b : {};
  } catch {
    return {};
  }
}

function codeSuffix(err: TwilioErrorBody): string {
  return err.code !== undefined ? ` (Twilio error ${err.code})` : '';
}

/** A ProviderError that also carries Twilio's own error code, for callers that branch on it (e.g. 20404). */
export class TwilioApiError extends ProviderError {
  constructor(
    code: ProviderError['code'],
    message: string,
    readonly twilioCode: number | undefined,
    readonly httpStatus: number,
    notAccepted: boolean,
  ) {
    super(code, message, undefined, notAccepted, twilioCode !== undefined ? String(twilioCode) : undefined);
  }
}
