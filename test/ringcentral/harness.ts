// Adapter-level harness for the RingCentral tests: the fake platform, a recording CallEventSink
// that applies the real state machine, a minimal webhook ingress (a real HTTP server that hands
// /webhooks/ringcentral/{id}/... to the adapter the way the core does), shared state on the
// memory store or on Redis, and a logger whose every line is kept for secret checks.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createRingCentralAdapter, type RingCentralAdapter, type RingCentralOptions } from '../../adapters/ringcentral/index.js';
import { applyTransition } from '../../src/domain/state-machine.js';
import type { Call, Provider, User } from '../../src/domain/types.js';
import { ringTimeoutOf } from '../../src/domain/types.js';
import type { CallEventSink, InboundEvent, ProviderContext, StatusEvent } from '../../src/providers/adapter.js';
import type { SharedState } from '../../src/store/state/port.js';
import { startFakeRingCentral, type FakeRingCentral, type FakeRingCentralOptions } from '../fakes/ringcentral/server.js';
import { testBackend } from '../helpers/backend.js';
import { LONE_INSTANCE } from '../helpers/instances.js';

export const SECRET = {
  clientId: 'fake-client-id',
  clientSecret: 'CLIENT-SECRET-must-never-leak-0123456789',
  jwt: 'eyJhbGciOiJSUzI1NiJ9.JWT-ASSERTION-must-never-leak.c2lnbmF0dXJl',
};

export const AGENT_PHONE = '+16505550101';
export const CALLER_ID = '+16505550199';
export const CUSTOMER = '+14155550123';
export const DID = '+16505550150';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until cond() is truthy (generous bound for loaded machines). */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export class LogCapture {
  readonly lines: string[] = [];
  readonly logger = pino(
    { level: 'trace' },
    new Writable({
      write: (chunk, _enc, cb) => {
        this.lines.push(String(chunk));
        cb();
      },
    }),
  );
  text(): string {
    return this.lines.join('');
  }
}

/** A CallEventSink over an in-memory call table, running the real state machine. */
export class RecordingSink implements CallEventSink {
  readonly statusEvents: StatusEvent[] = [];
  readonly inboundEvents: InboundEvent[] = [];
  readonly calls = new Map<string, Call>();
  /** DID → user, for inbound routing */
  readonly owners = new Map<string, User>();

  constructor(readonly providerId: string) {}

  /** What the core does after dial(): a call linked to the provider's id. */
  link(providerCallId: string, opts: Partial<Call> = {}): Call {
    const now = new Date().toISOString();
    const call: Call = {
      id: `call-${randomBytes(4).toString('hex')}`,
      orgId: 'org-1',
      userId: 'u1',
      providerId: this.providerId,
      providerKind: 'ringcentral',
      direction: 'outbound',
      to: CUSTOMER,
      status: 'dialing',
      providerCallId,
      createdAt: now,
      updatedAt: now,
      history: [{ status: 'queued', at: now }, { status: 'dialing', at: now }],
      ...opts,
    };
    this.calls.set(providerCallId, call);
    return call;
  }

  async status(ev: StatusEvent): Promise<Call | null> {
    this.statusEvents.push(ev);
    const call = this.calls.get(ev.providerCallId);
    if (!call) return null;
    applyTransition(call, { status: ev.status, at: new Date().toISOString(), cause: ev.cause });
    return call;
  }

  async inbound(ev: InboundEvent) {
    this.inboundEvents.push(ev);
    const user = this.owners.get(ev.to);
    if (!user) return null;
    const call = this.link(ev.providerCallId, { direction: 'inbound', from: ev.from, to: ev.to, userId: user.id, status: 'ringing' });
    return { call, user, ringTimeoutSec: ringTimeoutOf(user) };
  }

  async findCall(providerCallId: string) {
    return this.calls.get(providerCallId) ?? null;
  }
  async getCall(callId: string) {
    return [...this.calls.values()].find((c) => c.id === callId) ?? null;
  }
  async getUser(_userId: string) {
    return null;
  }

  finalStatus(providerCallId: string) {
    return this.calls.get(providerCallId)?.status;
  }
}

export function user(phone = AGENT_PHONE): User {
  const now = new Date().toISOString();
  return { id: 'u1', region: 'US', phone, numbers: [DID], providerId: 'p', createdAt: now, updatedAt: now };
}

export interface Harness {
  fake: FakeRingCentral;
  providerId: string;
  ingressUrl: string;
  logs: LogCapture;
  metrics: { operation: string; outcome: string }[];
  sinks: RecordingSink[];
  adapters: RingCentralAdapter[];
  /** a new adapter instance ("another gateway instance") on the given shared state */
  adapter(opts?: { shared?: SharedState; sink?: RecordingSink; options?: RingCentralOptions; config?: Record<string, unknown> }): RingCentralAdapter;
  close(): Promise<void>;
}

export const FAST: RingCentralOptions = {
  sessions: { graceMs: 150, retryMs: 50, retries: 20 },
  poll: { intervalMs: 60_000 },
  maintainSubscription: false,
};

/**
 * Shared state on the test Redis under this key prefix (a backend of its own, so two calls with
 * one prefix are two instances sharing it). Returned at once; the backend connects behind it and
 * every call waits for it (a backend that cannot be made fails the first call that needs it).
 */
export function redisShared(prefix: string): { shared: SharedState; close: () => Promise<void> } {
  const made = testBackend('redis', { keyPrefix: prefix });
  made.catch(() => {}); // reported by the first use, not as an unhandled rejection
  const on = async () => (await made).backend.shared;
  const shared: SharedState = {
    get: async (key) => (await on()).get(key),
    set: async (key, value, ttlMs) => (await on()).set(key, value, ttlMs),
    del: async (key) => (await on()).del(key),
    acquireLock: async (key, ttlMs) => (await on()).acquireLock(key, ttlMs),
    renewLock: async (key, token, ttlMs) => (await on()).renewLock(key, token, ttlMs),
    releaseLock: async (key, token) => (await on()).releaseLock(key, token),
  };
  return {
    shared,
    close: async () => {
      const b = await made.catch(() => null);
      await b?.close();
    },
  };
}

export async function startHarness(opts: { fake?: Partial<FakeRingCentralOptions>; store?: 'memory' | 'redis' } = {}): Promise<Harness> {
  const fake = await startFakeRingCentral({ credentials: SECRET, ...opts.fake });
  const providerId = `prv_${randomBytes(4).toString('hex')}`;
  const logs = new LogCapture();
  const metrics: { operation: string; outcome: string }[] = [];
  const sinks: RecordingSink[] = [];
  const adapters: RingCentralAdapter[] = [];
  const closers: (() => Promise<void>)[] = [];
  let defaultShared: SharedState;
  if (opts.store === 'redis') {
    const r = redisShared(`rctest${randomBytes(4).toString('hex')}:`);
    defaultShared = r.shared;
    closers.push(r.close);
  } else {
    const memory = await testBackend('memory');
    defaultShared = memory.backend.shared;
    closers.push(memory.close);
  }

  // the webhook ingress: whichever adapter was created last for this provider answers, like a
  // load balancer picking an instance
  let target: RingCentralAdapter | null = null;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/webhooks\/ringcentral\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m || m[1] !== providerId || !target) return void res.writeHead(404).end();
    let body: unknown = undefined;
    if (rawBody.length) {
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        body = undefined;
      }
    }
    const reply = await target.handleWebhook({
      method: req.method ?? 'GET',
      subpath: m[2] ?? '/',
      publicUrl: `${ingressUrl}${url.pathname}${url.search}`,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody,
      contentType: String(req.headers['content-type'] ?? ''),
      body,
    });
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    let payload = '';
    if (reply.body !== undefined) {
      payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      headers['content-type'] ??= 'application/json';
    }
    res.writeHead(reply.statusCode, headers).end(payload);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ingressUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider: Provider = {
    id: providerId,
    orgId: 'org-1',
    kind: 'ringcentral',
    name: 'RC test',
    config: { ...SECRET, serverUrl: fake.url, callerId: CALLER_ID, timeoutMs: 2000 },
    regions: {},
    priority: 0,
    scope: 'all',
    futureUsers: false,
    createdAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };

  const h: Harness = {
    fake,
    providerId,
    ingressUrl,
    logs,
    metrics,
    sinks,
    adapters,
    adapter(o = {}) {
      const sink = o.sink ?? new RecordingSink(providerId);
      if (!sinks.includes(sink)) sinks.push(sink);
      const ctx: ProviderContext = {
        provider: { ...provider, config: { ...provider.config, ...(o.config ?? {}) } },
        publicUrl: ingressUrl,
        webhookBase: `${ingressUrl}/webhooks/ringcentral/${providerId}`,
        sink,
        shared: o.shared ?? defaultShared,
        logger: logs.logger,
        metrics: { apiRequest: (operation, _s, outcome) => void metrics.push({ operation, outcome }) },
        instances: LONE_INSTANCE,
        deliverWebhook: async () => ({ statusCode: 501 }),
      };
      const a = createRingCentralAdapter(ctx, { ...FAST, ...(o.options ?? {}) });
      adapters.push(a);
      target = a;
      return a;
    },
    async close() {
      for (const a of adapters) await a.close();
      await fake.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      for (const c of closers) await c();
    },
  };
  return h;
}
