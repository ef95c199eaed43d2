// Call events for agent screens. Listeners are per org; the Redis bus fans events out to every
// gateway instance through pub/sub (one channel per org, subscribed while a local socket needs it).
// Each instance delivers its own events locally at once and ignores its own echo from Redis.

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Call } from '../domain/types.js';

export type EventType = 'call.created' | 'call.status' | 'call.incoming' | 'call.matched';

export interface GatewayEvent {
  type: EventType;
  orgId: string;
  call: PublicCall;
  match?: unknown;
}

export type PublicCall = Omit<Call, 'orgId'>;

export function toPublicCall(call: Call): PublicCall {
  const { orgId: _org, ...rest } = call;
  return rest;
}

/** A delivered event; `json` is the wire message, serialised once for every socket. */
export interface DeliveredEvent {
  type: EventType;
  userId: string;
  json: string;
}

export type EventListener = (ev: DeliveredEvent) => void;

export interface EventBus {
  publish(ev: GatewayEvent): void;
  subscribe(orgId: string, listener: EventListener): () => void;
  close(): Promise<void>;
}

function deliverable(ev: GatewayEvent): DeliveredEvent {
  const msg: Record<string, unknown> = { type: ev.type, call: ev.call };
  if (ev.match !== undefined) msg.match = ev.match;
  return { type: ev.type, userId: ev.call.userId, json: JSON.stringify(msg) };
}

class Listeners {
  private readonly byOrg = new Map<string, Set<EventListener>>();

  add(orgId: string, l: EventListener): boolean {
    let set = this.byOrg.get(orgId);
    const first = !set;
    if (!set) this.byOrg.set(orgId, (set = new Set()));
    set.add(l);
    return first;
  }

  /** returns true when the org has no listener left */
  remove(orgId: string, l: EventListener): boolean {
    const set = this.byOrg.get(orgId);
    if (!set) return false;
    set.delete(l);
    if (set.size === 0) {
      this.byOrg.delete(orgId);
      return true;
    }
    return false;
  }

  emit(orgId: string, ev: DeliveredEvent): void {
    const set = this.byOrg.get(orgId);
    if (!set) return;
    for (const l of set) l(ev);
  }
}

export class LocalEventBus implements EventBus {
  private readonly listeners = new Listeners();

  publish(ev: GatewayEvent): void {
    this.listeners.emit(ev.orgId, deliverable(ev));
  }

  subscribe(orgId: string, listener: EventListener): () => void {
    this.listeners.add(orgId, listener);
    return () => void this.listeners.remove(orgId, listener);
  }

  async close(): Promise<void> {}
}

const channelOf = (orgId: string) => `dg:{org:${orgId}}:events`;

export class RedisEventBus implements EventBus {
  private readonly listeners = new Listeners();
  private readonly instanceId = randomUUID();

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly logger: Logger,
  ) {
    sub.on('message', (channel: string, message: string) => {
      // our own echo: already delivered locally
      if (message.startsWith(this.instanceId)) return;
      const m = /^dg:\{org:(.+)\}:events$/.exec(channel);
      if (!m) return;
      const sep = message.indexOf('|');
      const body = message.slice(sep + 1);
      let parsed: { type: EventType; call: { userId: string } };
      try {
        parsed = JSON.parse(body);
      } catch {
        return;
      }
      this.listeners.emit(m[1], { type: parsed.type, userId: parsed.call.userId, json: body });
    });
  }

  publish(ev: GatewayEvent): void {
    const d = deliverable(ev);
    this.listeners.emit(ev.orgId, d);
    // fire and forget: a lost cross-instance event must not fail the call path; ioredis queues
    // the command while reconnecting
    this.pub.publish(channelOf(ev.orgId), `${this.instanceId}|${d.json}`).catch((e: Error) => {
      this.logger.warn({ err: e.message }, 'event publish to Redis failed');
    });
  }

  subscribe(orgId: string, listener: EventListener): () => void {
    if (this.listeners.add(orgId, listener)) {
      this.sub.subscribe(channelOf(orgId)).catch((e: Error) => this.logger.warn({ err: e.message }, 'event subscribe failed'));
    }
    return () => {
      if (this.listeners.remove(orgId, listener)) {
        this.sub.unsubscribe(channelOf(orgId)).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    this.sub.disconnect();
  }
}
