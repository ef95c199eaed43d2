// Call events for agent screens, fanned out to every gateway instance. Listeners are per org.
// Most events are published by the call scripts themselves, atomically with the change they
// announce (src/store/calls); publish() is for the rest (screen-pop matches).
// Wire message on the bus: "<type>|<userId>|<json>", the json being what sockets receive.

import type { PublicCall } from '../../domain/types.js';

export type EventType =
  | 'call.created'
  | 'call.status'
  | 'call.incoming'
  | 'call.matched'
  | 'call.recording'
  | 'call.missed'
  | 'call.updated';

/** A delivered event; `json` is the wire message, serialised once for every socket. */
export interface DeliveredEvent {
  type: EventType;
  userId: string;
  json: string;
}

export type EventListener = (ev: DeliveredEvent) => void;

export interface EventBus {
  /** publishes `{type, call, ...extra}` (json already serialised) to the org's listeners everywhere */
  publish(orgId: string, type: EventType, userId: string, json: string): void;
  /** resolves, with the unsubscribe function, once events of the org reach this listener */
  subscribe(orgId: string, listener: EventListener): Promise<() => void>;
  close(): Promise<void>;
}

export function encodeBusMessage(type: string, userId: string, json: string): string {
  return `${type}|${userId}|${json}`;
}

export function decodeBusMessage(msg: string): DeliveredEvent | null {
  const a = msg.indexOf('|');
  const b = a < 0 ? -1 : msg.indexOf('|', a + 1);
  if (a < 0 || b < 0) return null;
  return { type: msg.slice(0, a) as EventType, userId: msg.slice(a + 1, b), json: msg.slice(b + 1) };
}

/** Routes delivered events to an org's local listeners. */
export class Listeners {
  private readonly byOrg = new Map<string, Set<EventListener>>();

  /** true when this is the org's first listener */
  add(orgId: string, l: EventListener): boolean {
    let set = this.byOrg.get(orgId);
    const first = !set;
    if (!set) this.byOrg.set(orgId, (set = new Set()));
    set.add(l);
    return first;
  }

  /** true when the org has no listener left */
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

  orgs(): string[] {
    return [...this.byOrg.keys()];
  }

  emit(orgId: string, ev: DeliveredEvent): void {
    const set = this.byOrg.get(orgId);
    if (!set) return;
    for (const l of set) l(ev);
  }
}

/** The message sockets receive for a call event (the Lua scripts build the same shape). */
export function callEventJson(type: EventType, call: PublicCall, extra?: Record<string, unknown>): string {
  return JSON.stringify({ type, call, ...(extra ?? {}) });
}
