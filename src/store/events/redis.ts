// Events on Redis: sharded pub/sub (SSUBSCRIBE / SPUBLISH), one shard channel per org in the
// org's slot, subscribed while a socket on this instance needs it. On a cluster each master
// carries only its own orgs' events (classic PUBLISH would copy every message to every node);
// on one Redis the same commands work alike. The call scripts publish most events themselves.

import type { Logger } from 'pino';
import type { KeyLayout } from '../keys.js';
import type { Client, RedisConn } from '../redis/connection.js';
import { Listeners, decodeBusMessage, encodeBusMessage, type EventBus, type EventListener, type EventType } from './port.js';

/** how often channels with listeners are subscribed again (a no-op when still subscribed) */
const RESUBSCRIBE_MS = 5000;

export class RedisEvents implements EventBus {
  private readonly listeners = new Listeners();
  private sub: Client | null = null;
  private timer?: NodeJS.Timeout;
  private lastErrorLog = 0;

  constructor(
    private readonly conn: RedisConn,
    private readonly keys: KeyLayout,
    private readonly logger: Logger,
  ) {}

  private subscriber(): Client {
    if (this.sub) return this.sub;
    const sub = this.conn.open('subscriber', 'events');
    sub.on('smessage', (channel: string, message: string) => {
      const orgId = this.keys.orgOfChannel(channel);
      const ev = orgId === null ? null : decodeBusMessage(message);
      if (orgId !== null && ev) this.listeners.emit(orgId, ev);
    });
    // Belt and braces: a slot that moved to another master (resharding, a failover) ends its
    // subscriptions there; ioredis follows, and this makes sure within RESUBSCRIBE_MS.
    this.timer = setInterval(() => {
      for (const orgId of this.listeners.orgs()) void this.ssubscribe(orgId);
    }, RESUBSCRIBE_MS);
    this.timer.unref();
    this.sub = sub;
    return sub;
  }

  private warn(msg: string, e: Error): void {
    if (Date.now() - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = Date.now();
    this.logger.warn({ err: e.message }, msg);
  }

  private ssubscribe(orgId: string): Promise<void> {
    return this.subscriber()
      .ssubscribe(this.keys.org(orgId).events)
      .then(
        () => undefined,
        (e: Error) => this.warn('event subscribe failed', e),
      );
  }

  publish(orgId: string, type: EventType, userId: string, json: string): void {
    // fire and forget: a lost event must not fail the call path
    this.conn.client.spublish(this.keys.org(orgId).events, encodeBusMessage(type, userId, json)).catch((e: Error) => this.warn('event publish failed', e));
  }

  async subscribe(orgId: string, listener: EventListener): Promise<() => void> {
    this.listeners.add(orgId, listener);
    // every listener waits for an acknowledged SSUBSCRIBE (a no-op on the server when the
    // channel is subscribed already), so nothing published after this resolves is missed
    await this.ssubscribe(orgId);
    return () => {
      if (this.listeners.remove(orgId, listener) && this.sub) {
        this.sub.sunsubscribe(this.keys.org(orgId).events).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.sub?.disconnect();
    this.sub = null;
  }
}
