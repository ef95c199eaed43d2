// A stand-in for the gateway core around one Twilio adapter: an in-memory call table fed through a
// recording CallEventSink (the real state machine's rules), and an HTTP server that hands
// /webhooks/twilio/{providerId}/... to handleWebhook with the URL rebuilt from a PUBLIC_URL, as the
// core does. The end-to-end tests (gateway.e2e.test.ts) run the real core instead.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { applyTransition } from '../../src/domain/state-machine.js';
import type { Call, Provider, User } from '../../src/domain/types.js';
import { ringTimeoutOf } from '../../src/domain/types.js';
import type { CallEventSink, InboundEvent, InboundRoute, ProviderContext, StatusEvent, WebhookRequest } from '../../src/providers/adapter.js';
import { TwilioAdapter, type TwilioAdapterOptions } from '../../adapters/twilio/index.js';
import { FakeTwilio } from '../fakes/twilio/server.js';
import { LONE_INSTANCE } from '../helpers/instances.js';

export interface SinkCall {
  method: keyof CallEventSink;
  arg: unknown;
}

export class RecordingSink implements CallEventSink {
  readonly calls = new Map<string, Call>();
  readonly users = new Map<string, User>();
  readonly bySid = new Map<string, string>();
  readonly log: SinkCall[] = [];
  readonly statusEvents: StatusEvent[] = [];
  /** status events whose CallSid was not (yet) linked to a call */
  misses = 0;
  readonly screenPops: Array<{ call: Call; user: User }> = [];

  constructor(private readonly providerId: string) {}

  async status(ev: StatusEvent): Promise<Call | null> {
    this.log.push({ method: 'status', arg: ev });
    // like the core: our call id (when the adapter knows it) wins over a CallSid lookup
    const byId = ev.callId ? this.calls.get(ev.callId) : undefined;
    const id = byId && byId.providerId === this.providerId ? byId.id : this.bySid.get(ev.providerCallId);
    const call = id ? this.calls.get(id) : undefined;
    if (!this.bySid.has(ev.providerCallId)) this.misses++;
    if (!call) return null;
    this.statusEvents.push(ev);
    applyTransition(call, { status: ev.status, at: ev.at, cause: ev.cause, durationSec: ev.durationSec });
    return structuredClone(call);
  }

  async inbound(ev: InboundEvent): Promise<InboundRoute | null> {
    this.log.push({ method: 'inbound', arg: ev });
    const user = [...this.users.values()].find((u) => u.numbers.includes(ev.to));
    if (!user) return null;
    const call = newCall({ userId: user.id, providerId: this.providerId, direction: 'inbound', from: ev.from, to: ev.to, status: 'ringing' });
    call.providerCallId = ev.providerCallId;
    this.calls.set(call.id, call);
    this.bySid.set(ev.providerCallId, call.id);
    this.screenPops.push({ call: structuredClone(call), user });
    return { call: structuredClone(call), user, ringTimeoutSec: ringTimeoutOf(user) };
  }

  async findCall(providerCallId: string): Promise<Call | null> {
    this.log.push({ method: 'findCall', arg: providerCallId });
    const id = this.bySid.get(providerCallId);
    return id ? structuredClone(this.calls.get(id)!) : null;
  }

  async getCall(callId: string): Promise<Call | null> {
    this.log.push({ method: 'getCall', arg: callId });
    const c = this.calls.get(callId);
    return c ? structuredClone(c) : null;
  }

  async getUser(userId: string): Promise<User | null> {
    this.log.push({ method: 'getUser', arg: userId });
    return this.users.get(userId) ?? null;
  }

  link(callId: string, sid: string): void {
    const call = this.calls.get(callId)!;
    call.providerCallId = sid;
    this.bySid.set(sid, callId);
  }
}

let seq = 0;
export function newCall(p: Partial<Call> & Pick<Call, 'providerId' | 'to'>): Call {
  const now = new Date().toISOString();
  return {
    id: `call-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`,
    orgId: 'org-test',
    userId: p.userId ?? 'u1',
    providerKind: 'twilio',
    direction: 'outbound',
    status: 'queued',
    createdAt: now,
    updatedAt: now,
    history: [{ status: p.status ?? 'queued', at: now }],
    ...p,
  };
}

export function newUser(id: string, phone: string | undefined, numbers: string[] = []): User {
  const now = new Date().toISOString();
  return { id, region: 'US', phone, numbers, providerId: 'prov-twilio', createdAt: now, updatedAt: now };
}

export interface HarnessOptions {
  config?: Record<string, unknown>;
  adapter?: TwilioAdapterOptions;
  /** PUBLIC_URL differs from the listening address (a proxy in front of the gateway) */
  publicBase?: string;
  /** ms the "core" takes to link a dialled call to its CallSid after dial() returns */
  linkDelayMs?: number | 'never';
}

export class Harness {
  readonly fake: FakeTwilio;
  sink!: RecordingSink;
  adapter!: TwilioAdapter;
  ctx!: ProviderContext;
  readonly logLines: string[] = [];
  readonly metrics: Array<{ op: string; seconds: number; outcome: string }> = [];
  private server: Server | null = null;
  internalBase = '';
  publicBase = '';
  readonly providerId = 'prov-twilio';

  constructor(private readonly opts: HarnessOptions = {}) {
    this.fake = new FakeTwilio();
  }

  async start(): Promise<this> {
    await this.fake.start();
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const rawBody = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://x');
      const prefix = `/webhooks/twilio/${this.providerId}`;
      if (!u.pathname.startsWith(prefix)) {
        res.writeHead(404).end();
        return;
      }
      const contentType = String(req.headers['content-type'] ?? '');
      let body: unknown = undefined;
      if (contentType.startsWith('application/x-www-form-urlencoded')) {
        const o: Record<string, string | string[]> = {};
        for (const [k, v] of new URLSearchParams(rawBody.toString('utf8'))) {
          const prev = o[k];
          o[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        }
        body = o;
      } else if (contentType.startsWith('application/json')) {
        try {
          body = JSON.parse(rawBody.toString('utf8'));
        } catch {
          body = undefined;
        }
      }
      const wreq: WebhookRequest = {
        method: req.method ?? 'GET',
        subpath: u.pathname.slice(prefix.length) || '/',
        publicUrl: this.publicBase + (req.url ?? '/'),
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        rawBody,
        contentType,
        body,
      };
      try {
        const reply = await this.adapter.handleWebhook(wreq);
        const out = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.statusCode, reply.headers ?? {}).end(out);
      } catch (e) {
        this.logLines.push(`handler error: ${(e as Error).message}`);
        res.writeHead(500).end();
      }
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.internalBase = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.publicBase = this.opts.publicBase ?? this.internalBase;
    if (this.opts.publicBase) {
      const pub = this.opts.publicBase;
      this.fake.route = (url) => (url.startsWith(pub) ? this.internalBase + url.slice(pub.length) : url);
    }
    this.build();
    return this;
  }

  /** (Re)creates the adapter, e.g. after changing the config. */
  build(config: Record<string, unknown> = {}): void {
    const provider: Provider = {
      id: this.providerId,
      orgId: 'org-test',
      kind: 'twilio',
      name: 'Twilio test',
      config: {
        accountSid: this.fake.accountSid,
        authToken: this.fake.authToken,
        callerId: '+15005550006',
        apiBaseUrl: this.fake.url,
        timeoutMs: 10_000,
        ...this.opts.config,
        ...config,
      },
      regions: {},
      priority: 0,
      scope: 'all',
      futureUsers: false,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    };
    const lines = this.logLines;
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const previous = this.sink;
    this.sink = new RecordingSink(this.providerId);
    if (previous) for (const u of previous.users.values()) this.sink.users.set(u.id, u);
    const webhookBase = `${this.publicBase}/webhooks/twilio/${this.providerId}`;
    this.ctx = {
      provider,
      publicUrl: this.publicBase,
      webhookBase,
      sink: this.sink,
      shared: {
        get: async () => null,
        set: async () => undefined,
        del: async () => undefined,
        renewLock: async () => true,
      acquireLock: async () => 'x',
        releaseLock: async () => undefined,
      },
      logger,
      metrics: { apiRequest: (op, seconds, outcome) => void this.metrics.push({ op, seconds, outcome }) },
      instances: LONE_INSTANCE,
      deliverWebhook: async () => ({ statusCode: 501 }),
    };
    this.adapter = new TwilioAdapter(this.ctx, { sleep: async () => undefined, ...this.opts.adapter });
  }

  addUser(user: User): User {
    this.sink.users.set(user.id, user);
    return user;
  }

  /** Does what the core does for POST /v1/calls: store the call, dial, link the CallSid. */
  async clickToCall(user: User | null, to: string, extra: { idempotencyToken?: string; hangUpAfterMs?: number } = {}): Promise<Call> {
    const call = newCall({ providerId: this.providerId, userId: user?.id ?? 'trial', to, trial: user ? undefined : true });
    this.sink.calls.set(call.id, call);
    const res = await this.adapter.dial({ call, user, to, idempotencyToken: extra.idempotencyToken ?? call.id, hangUpAfterMs: extra.hangUpAfterMs });
    const link = () => {
      this.sink.link(call.id, res.providerCallId);
      if (res.status) applyTransition(this.sink.calls.get(call.id)!, { status: res.status, at: new Date().toISOString() });
    };
    if (this.opts.linkDelayMs === 'never') return this.sink.calls.get(call.id)!;
    if (this.opts.linkDelayMs) setTimeout(link, this.opts.linkDelayMs);
    else link();
    return this.sink.calls.get(call.id)!;
  }

  call(id: string): Call {
    return this.sink.calls.get(id)!;
  }

  async waitFor<T>(what: string, fn: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await this.fake.close();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
  }
}
