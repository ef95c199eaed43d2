// A receiver for the signed-webhook CRM: checks Dialgate-Signature (timestamp freshness and
// HMAC-SHA256 over "t.body", compared in constant time) and Idempotency-Key, stores each call log
// once per key and counts the duplicates it was sent. Knobs: 503 for a period, random failures,
// and "commit, then drop the connection" to exercise the sender's exactly-once path.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Delivery {
  key: string;
  body: Record<string, any>;
  receivedAt: number;
}

export class WebhookCrmFake {
  readonly secret: string;
  readonly deliveries = new Map<string, Delivery>();
  duplicates = 0;
  rejected = 0;
  requests = 0;
  droppedAfterCommit = 0;
  /** allowed clock skew for the signature timestamp */
  toleranceSec = 300;
  /** answer 503 until this time (epoch ms) */
  unavailableUntil = 0;
  failRate = 0;
  failStatus = 503;
  retryAfterSec: number | undefined = undefined;
  dropAfterCommitRate = 0;
  /** answer this status to every valid request (e.g. 400 to simulate a permanent refusal); null = normal */
  forceStatus: number | null = null;
  /** arrival times of every request, for backoff assertions */
  readonly arrivals: number[] = [];
  private server: Server | null = null;
  url = '';

  constructor(secret = `whsec_${randomBytes(12).toString('hex')}`) {
    this.secret = secret;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/dialgate/calls`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }

  config(): Record<string, unknown> {
    return { kind: 'webhook', url: this.url, secret: this.secret };
  }

  /** Verifies a Dialgate-Signature header against a body; exported logic for tests. */
  verify(header: string | undefined, body: string, nowSec = Math.floor(Date.now() / 1000)): string | null {
    if (!header) return 'missing signature';
    const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
    const t = Number(parts.t);
    if (!Number.isInteger(t)) return 'bad timestamp';
    if (Math.abs(nowSec - t) > this.toleranceSec) return 'stale timestamp';
    if (!parts.v1 || !/^[0-9a-f]{64}$/.test(parts.v1)) return 'bad v1';
    const expected = createHmac('sha256', this.secret).update(`${t}.${body}`).digest();
    if (!timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'))) return 'signature mismatch';
    return null;
  }

  private reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.requests++;
    this.arrivals.push(Date.now());
    if (req.method !== 'POST') return this.reply(res, 405, { error: 'method not allowed' });
    if (!/^application\/json/.test(req.headers['content-type'] ?? '')) return this.reply(res, 415, { error: 'json expected' });
    const bad = this.verify(req.headers['dialgate-signature'] as string | undefined, body);
    if (bad) {
      this.rejected++;
      return this.reply(res, 401, { error: bad });
    }
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length === 0) {
      this.rejected++;
      return this.reply(res, 400, { error: 'Idempotency-Key required' });
    }
    const retryHeaders: Record<string, string> = this.retryAfterSec !== undefined ? { 'retry-after': String(this.retryAfterSec) } : {};
    if (Date.now() < this.unavailableUntil) return this.reply(res, 503, { error: 'unavailable' }, retryHeaders);
    if (this.failRate > 0 && Math.random() < this.failRate) return this.reply(res, this.failStatus, { error: 'injected failure' }, retryHeaders);
    if (this.forceStatus !== null) return this.reply(res, this.forceStatus, { error: 'forced' });
    let parsed: Record<string, any>;
    try {
      parsed = JSON.parse(body);
    } catch {
      return this.reply(res, 400, { error: 'invalid json' });
    }
    if (this.deliveries.has(key)) {
      this.duplicates++;
      return this.reply(res, 200, { received: true, duplicate: true });
    }
    this.deliveries.set(key, { key, body: parsed, receivedAt: Date.now() });
    if (this.dropAfterCommitRate > 0 && Math.random() < this.dropAfterCommitRate) {
      this.droppedAfterCommit++;
      req.socket.destroy();
      return;
    }
    this.reply(res, 200, { received: true });
  }
}
