// One HTTP exchange with RingCentral: bounded by a timeout, timed for metrics, held back while the
// operation's rate-limit group is in a penalty window, and recording a new window on 429.
// The Authorization header is built by the caller and never logged.

import { request } from 'undici';
import type { MediaStream } from '../../src/providers/adapter.js';
import type { Logger } from 'pino';
import type { ProviderMetrics } from '../../src/providers/adapter.js';
import { ProviderError } from '../../src/providers/adapter.js';
import type { RcConfig } from './config.js';
import { mapRcError, mapTransportError } from './errors.js';
import { penaltySeconds, type RateLimits } from './rate-limit.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RcRequest {
  /** our operation name: metrics label, rate-limit group lookup, error messages */
  operation: string;
  method: HttpMethod;
  /** path and query, e.g. /restapi/v1.0/subscription */
  path: string;
  json?: unknown;
  form?: Record<string, string>;
  authorization: string;
}

export interface RcResponse {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export class RcTransport {
  constructor(
    private readonly cfg: RcConfig,
    private readonly limits: RateLimits,
    private readonly metrics: ProviderMetrics,
    private readonly logger: Logger,
  ) {}

  /** Throws ProviderError('rate_limited') when the operation's group is in a penalty window. */
  async checkPenalty(operation: string): Promise<void> {
    const group = await this.limits.groupOf(operation);
    const left = await this.limits.penaltyLeft(group);
    if (left > 0) {
      throw new ProviderError('rate_limited', `RingCentral ${operation}: rate limit group ${group} is in its penalty window`, left, true);
    }
  }

  /**
   * Sends the request; any HTTP status comes back as a response except 429, which records the
   * penalty for the group and throws. Transport failures throw ProviderError.
   */
  async send(req: RcRequest): Promise<RcResponse> {
    await this.checkPenalty(req.operation);
    const headers: Record<string, string> = { accept: 'application/json', authorization: req.authorization };
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let res: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      res = await request(this.cfg.serverUrl + req.path, {
        method: req.method,
        headers,
        body,
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
        headersTimeout: this.cfg.timeoutMs,
        bodyTimeout: this.cfg.timeoutMs,
      });
      text = await res.body.text();
    } catch (err) {
      const mapped = mapTransportError(req.operation, err);
      this.metrics.apiRequest(req.operation, elapsed(), mapped.notAccepted ? 'error' : 'timeout');
      this.logger.warn({ operation: req.operation, code: mapped.code }, 'ringcentral request failed');
      throw mapped;
    }
    const resHeaders = res.headers as Record<string, string | string[] | undefined>;
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    const groupHeader = resHeaders['x-rate-limit-group'];
    const group = Array.isArray(groupHeader) ? groupHeader[0] : groupHeader;
    await this.limits.learn(req.operation, group);
    if (res.statusCode === 429) {
      const sec = penaltySeconds(resHeaders);
      await this.limits.penalize(group ?? (await this.limits.groupOf(req.operation)), sec);
      this.metrics.apiRequest(req.operation, elapsed(), 'rate_limited');
      this.logger.warn({ operation: req.operation, group, retryAfterSec: sec }, 'ringcentral rate limit hit');
      throw mapRcError(req.operation, 429, parsed, sec);
    }
    this.metrics.apiRequest(req.operation, elapsed(), res.statusCode < 400 ? 'ok' : 'error');
    this.logger.debug({ operation: req.operation, status: res.statusCode }, 'ringcentral request');
    return { status: res.statusCode, body: parsed, headers: resHeaders };
  }

  /**
   * A binary GET (a recording's content) relayed as it comes: the deadline covers the answer's
   * headers, the body then streams at the listener's pace. 200/206/404/416 come back as a
   * MediaStream (401 too, for the caller's token retry); anything else throws like send().
   */
  async stream(req: { operation: string; path: string; authorization: string; range?: string }): Promise<MediaStream> {
    await this.checkPenalty(req.operation);
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(this.cfg.serverUrl + req.path, {
        method: 'GET',
        headers: { accept: 'audio/mpeg, audio/x-wav', authorization: req.authorization, ...(req.range ? { range: req.range } : {}) },
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
        headersTimeout: this.cfg.timeoutMs,
      });
    } catch (err) {
      const mapped = mapTransportError(req.operation, err);
      this.metrics.apiRequest(req.operation, elapsed(), mapped.notAccepted ? 'error' : 'timeout');
      throw mapped;
    }
    const h = res.headers as Record<string, string | string[] | undefined>;
    const one = (k: string) => (Array.isArray(h[k]) ? (h[k] as string[])[0] : (h[k] as string | undefined));
    const relay = [200, 206, 401, 404, 416].includes(res.statusCode);
    this.metrics.apiRequest(req.operation, elapsed(), relay ? 'ok' : res.statusCode === 429 ? 'rate_limited' : 'error');
    if (!relay) {
      const text = await res.body.text().catch(() => '');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (res.statusCode === 429) await this.limits.penalize(one('x-rate-limit-group') ?? (await this.limits.groupOf(req.operation)), penaltySeconds(h));
      throw mapRcError(req.operation, res.statusCode, parsed, res.statusCode === 429 ? penaltySeconds(h) : undefined);
    }
    const headers: Record<string, string> = {};
    for (const k of ['content-length', 'content-range', 'accept-ranges']) {
      const v = one(k);
      if (v) headers[k] = v;
    }
    const contentType = one('content-type') ?? 'audio/mpeg';
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      await res.body.dump().catch(() => undefined);
      return { status: res.statusCode, contentType, headers };
    }
    return { status: res.statusCode, contentType, headers, body: res.body };
  }
}
