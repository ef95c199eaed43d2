// A receiver for the signed-webhook CRM: checks Dialgate-Signature (timestamp freshness and
// HMAC-SHA256 over "t.body", compared in constant time) and Idempotency-Key, stores each delivery
// (call.logged and call.log.updated alike) once per key and counts the duplicates it was sent.
// Knobs: 503 for a period, random failures, and "commit, then drop the connection" to exercise
// the sender's exactly-once path. Its search endpoint (`/dialgate/search`, signed the same way)
// answers {matches} from `contacts`, comparing numbers in E.164; it can be slow, down or answer
// garbage.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js';

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
  searchUrl = '';
  /** the CRM's records with their phone numbers as people typed them */
  readonly contacts: { module: string; id: string; name: string; phone: string; url?: string }[] = [];
  /** search requests received (their parsed bodies) */
  readonly searches: Record<string, any>[] = [];
  searchDelayMs = 0;
  searchMode: 'ok' | 'garbage' | 'down' = 'ok';

  constructor(secret = `whsec_${randomBytes(12).toString('hex')}`) {
    this.secret = secret;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.url = `${base}/dialgate/calls`;
    this.searchUrl = `${base}/dialgate/search`;
    return this;
  }

  /** first deliveries (call.logged) of a call: exactly one when all is well */
  logsOf(callId: string): Delivery[] {
    return [...this.deliveries.values()].filter((d) => d.body.type === 'call.logged' && d.body.callId === callId);
  }

  /** call.log.updated deliveries of a call, in arrival order */
  updatesOf(callId: string): Delivery[] {
    return [...this.deliveries.values()].filter((d) => d.body.type === 'call.log.updated' && d.body.callId === callId).sort((a, b) => a.receivedAt - b.receivedAt);
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }

  config(opts: { search?: boolean } = {}): Record<string, unknown> {
    return { kind: 'webhook', url: this.url, secret: this.secret, ...(opts.search ? { searchUrl: this.searchUrl } : {}) };
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

  private async search(body: string, res: ServerResponse): Promise<void> {
    const q = JSON.parse(body) as { phone?: string; callId?: string };
    this.searches.push(q);
    if (this.searchDelayMs) await new Promise((r) => setTimeout(r, this.searchDelayMs));
    if (this.searchMode === 'down') {
      res.socket?.destroy();
      return;
    }
    if (this.searchMode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"matches": [{"module": 42}');
      return;
    }
    // both sides in E.164: "(416) 555-0123" on a Canadian record is +14165550123
    const e164 = (p: string) => parsePhoneNumberFromString(p, 'CA')?.number ?? p;
    const matches = this.contacts.filter((c) => e164(c.phone) === q.phone).map(({ module, id, name, url }) => ({ module, id, name, ...(url ? { url } : {}) }));
    this.reply(res, 200, { matches });
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
    if (req.url === '/dialgate/search') return this.search(body, res);
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
    if (typeof parsed.callId !== 'string' || !['call.logged', 'call.log.updated'].includes(parsed.type)) {
      this.rejected++;
      return this.reply(res, 422, { error: 'type call.logged | call.log.updated and callId required' });
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
