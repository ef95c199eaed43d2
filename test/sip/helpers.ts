// Shared fixtures for the sip provider tests: a drachtio-server double with an agent phone, a
// trunk and a second trunk, a recording CallEventSink, and a provider context.

import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Call, CallStatus, Provider, User } from '../../src/domain/types.js';
import { ringTimeoutOf } from '../../src/domain/types.js';
import type { CallEventSink, InboundEvent, InboundRoute, ProviderContext, StatusEvent } from '../../src/providers/adapter.js';
import { SipAdapter } from '../../adapters/sip/index.js';
import { SipConnectionPool } from '../../adapters/sip/connection-pool.js';
import { FakeDrachtioServer } from '../fakes/drachtio/server.js';
import { LONE_INSTANCE } from '../helpers/instances.js';

export const SECRET = 'cymru-test-secret';
export const AGENT_URI = 'sip:alice@agents.test';
export const TRUNK_ADDR = '127.0.0.21';
export const TRUNK2_ADDR = '127.0.0.31';

export async function startDouble(opts: { timerBMs?: number } = {}): Promise<FakeDrachtioServer> {
  const d = new FakeDrachtioServer({ secret: SECRET, timerBMs: opts.timerBMs ?? 32_000, timerFMs: 2_000 });
  d.addUa({ name: 'agent', host: 'agents.test', address: '127.0.0.11' });
  d.addUa({ name: 'trunk', host: `${TRUNK_ADDR}:5060`, address: TRUNK_ADDR });
  d.addUa({ name: 'trunk2', host: `${TRUNK2_ADDR}:5060`, address: TRUNK2_ADDR });
  d.addUa({ name: 'stranger', host: 'stranger.test', address: '127.0.0.99' });
  await d.listen();
  return d;
}

export function testPool(): SipConnectionPool {
  return new SipConnectionPool({
    pingIntervalMs: 5_000,
    pongTimeoutMs: 1_000,
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
    connectTimeoutMs: 3_000,
  });
}

export async function waitFor<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function user(over: Partial<User> = {}): User {
  const now = new Date().toISOString();
  return { id: `u-${randomUUID()}`, region: 'US', sipUri: AGENT_URI, numbers: [], providerId: null, createdAt: now, updatedAt: now, ...over };
}

export function call(over: Partial<Call> = {}): Call {
  const now = new Date().toISOString();
  return {
    id: `c-${randomUUID()}`,
    orgId: 'org-1',
    userId: 'u-1',
    providerId: 'p-1',
    providerKind: 'sip',
    direction: 'outbound',
    to: '+15551230000',
    status: 'dialing',
    createdAt: now,
    updatedAt: now,
    history: [],
    ...over,
  };
}

/** A CallEventSink that records what the adapter reports and owns a DID → user table. */
export class RecordingSink implements CallEventSink {
  readonly events: StatusEvent[] = [];
  readonly inboundEvents: InboundEvent[] = [];
  readonly dids = new Map<string, User>();
  readonly inboundCalls = new Map<string, Call>();
  failInbound = false;

  async status(ev: StatusEvent): Promise<Call | null> {
    this.events.push(ev);
    return null;
  }

  async inbound(ev: InboundEvent): Promise<InboundRoute | null> {
    this.inboundEvents.push(ev);
    if (this.failInbound) throw new Error('store down');
    const u = this.dids.get(ev.to);
    if (!u) return null;
    const c = call({ direction: 'inbound', to: ev.to, from: ev.from, providerCallId: ev.providerCallId, userId: u.id, status: 'ringing' });
    this.inboundCalls.set(ev.providerCallId, c);
    return { call: c, user: u, ringTimeoutSec: ringTimeoutOf(u) };
  }

  async findCall(): Promise<Call | null> {
    return null;
  }

  async getCall(): Promise<Call | null> {
    return null;
  }

  async getUser(): Promise<User | null> {
    return null;
  }

  /** statuses reported for one provider call id, in order */
  statuses(providerCallId: string): CallStatus[] {
    return this.events.filter((e) => e.providerCallId === providerCallId).map((e) => e.status);
  }

  last(providerCallId: string): StatusEvent | undefined {
    return this.events.filter((e) => e.providerCallId === providerCallId).at(-1);
  }

  terminal(providerCallId: string): StatusEvent | undefined {
    return this.events.find(
      (e) => e.providerCallId === providerCallId && ['completed', 'failed', 'busy', 'no-answer', 'canceled'].includes(e.status),
    );
  }
}

export function sipConfig(double: FakeDrachtioServer, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    drachtio: { host: '127.0.0.1', port: double.port, secret: SECRET },
    trunk: { uri: `sip:${TRUNK_ADDR}:5060` },
    callerId: '+15550001111',
    optionsIntervalMs: 60_000,
    ...over,
  };
}

export function provider(config: Record<string, unknown>, over: Partial<Provider> = {}): Provider {
  const now = new Date().toISOString();
  return {
    id: `p-${randomUUID()}`,
    orgId: 'org-1',
    kind: 'sip',
    name: 'sip test',
    config,
    regions: {},
    priority: 0,
    scope: 'all',
    futureUsers: false,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

export const silentLogger = pino({ level: 'silent' });

export function context(p: Provider, sink: CallEventSink): ProviderContext {
  return {
    provider: p,
    publicUrl: 'http://127.0.0.1:1',
    webhookBase: `http://127.0.0.1:1/webhooks/sip/${p.id}`,
    sink,
    shared: {
      get: async () => null,
      set: async () => undefined,
      del: async () => undefined,
      renewLock: async () => true,
    acquireLock: async () => 'x',
      releaseLock: async () => undefined,
    },
    logger: silentLogger,
    metrics: { apiRequest: () => undefined },
    instances: LONE_INSTANCE,
    deliverWebhook: async () => ({ statusCode: 404 }),
  };
}

/** A connected adapter on the double. */
export async function adapterOn(
  double: FakeDrachtioServer,
  pool: SipConnectionPool,
  over: Record<string, unknown> = {},
  sink = new RecordingSink(),
): Promise<{ adapter: SipAdapter; sink: RecordingSink; provider: Provider }> {
  const p = provider(sipConfig(double, over));
  const adapter = new SipAdapter(context(p, sink), pool);
  await adapter.conn.waitConnected(5_000);
  return { adapter, sink, provider: p };
}

/** Number of dialogs drachtio-srf still tracks on the adapter's current connection. */
export function srfDialogs(adapter: SipAdapter): number {
  return (adapter.conn.srf as unknown as { _dialogs?: Map<string, unknown> })?._dialogs?.size ?? 0;
}
