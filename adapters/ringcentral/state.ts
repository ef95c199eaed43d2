// Per-call facts every gateway instance must see: a RingOut's numbers, the telephony session it
// turned into, whether the customer answered, whether we asked to cancel. Webhooks for one call
// may land on any instance, so these live in SharedState. Flags are set-only keys (never
// read-modify-write), so concurrent instances cannot lose each other's updates.

import type { SharedState } from '../../src/store/state/port.js';

export const CALL_TTL_MS = 12 * 3600_000;

export interface RingOutRecord {
  id: string;
  /** leg 1: the agent's phone (or the caller id for trial calls) */
  leg1: string;
  /** leg 2: the customer */
  dest: string;
  callerId?: string;
  hangUpAfterMs?: number;
}

export type SessionLink = { kind: 'ringout'; id: string; leg1: string; dest: string } | { kind: 'inbound'; id: string } | { kind: 'ignored' };

export type Flag = 'answered' | 'leg1up' | 'event' | 'cancel' | 'done' | 'targetSeen' | 'recording' | 'recfailed';

/** Unordered pair key: a RingOut party shows the two numbers in either direction. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export class CallState {
  constructor(
    private readonly shared: SharedState,
    /** rc:<providerId> */
    private readonly prefix: string,
  ) {}

  private callKey(id: string, part: string): string {
    return `${this.prefix}:call:${id}:${part}`;
  }

  async setFlag(id: string, flag: Flag): Promise<void> {
    await this.shared.set(this.callKey(id, flag), '1', CALL_TTL_MS);
  }

  async flag(id: string, flag: Flag): Promise<boolean> {
    return (await this.shared.get(this.callKey(id, flag))) !== null;
  }

  /** true for the first caller only (SET NX): one-time actions across instances. */
  async once(id: string, what: string): Promise<boolean> {
    return (await this.shared.acquireLock(this.callKey(id, `once:${what}`), CALL_TTL_MS)) !== null;
  }

  /** Undoes once(): the action failed and another delivery may try it again. */
  async forgetOnce(id: string, what: string): Promise<void> {
    await this.shared.del(this.callKey(id, `once:${what}`));
  }

  async saveRingOut(r: RingOutRecord, pendingMs: number): Promise<void> {
    const json = JSON.stringify(r);
    await this.shared.set(this.callKey(r.id, 'ringout'), json, CALL_TTL_MS);
    await this.shared.set(`${this.prefix}:pending:${pairKey(r.leg1, r.dest)}`, json, pendingMs);
    if (r.callerId && r.callerId !== r.leg1) {
      await this.shared.set(`${this.prefix}:pending:${pairKey(r.callerId, r.dest)}`, json, pendingMs);
    }
  }

  async ringOut(id: string): Promise<RingOutRecord | null> {
    const raw = await this.shared.get(this.callKey(id, 'ringout'));
    return raw ? (JSON.parse(raw) as RingOutRecord) : null;
  }

  /** The RingOut we started between these two numbers, if one is pending. */
  async pendingFor(a: string, b: string): Promise<RingOutRecord | null> {
    const raw = await this.shared.get(`${this.prefix}:pending:${pairKey(a, b)}`);
    return raw ? (JSON.parse(raw) as RingOutRecord) : null;
  }

  async clearPending(r: RingOutRecord): Promise<void> {
    await this.shared.del(`${this.prefix}:pending:${pairKey(r.leg1, r.dest)}`);
    if (r.callerId && r.callerId !== r.leg1) await this.shared.del(`${this.prefix}:pending:${pairKey(r.callerId, r.dest)}`);
  }

  async setSessionOf(id: string, telephonySessionId: string): Promise<void> {
    await this.shared.set(this.callKey(id, 'session'), telephonySessionId, CALL_TTL_MS);
  }

  async sessionOf(id: string): Promise<string | null> {
    return this.shared.get(this.callKey(id, 'session'));
  }

  async link(telephonySessionId: string): Promise<SessionLink | null> {
    const raw = await this.shared.get(`${this.prefix}:session:${telephonySessionId}`);
    return raw ? (JSON.parse(raw) as SessionLink) : null;
  }

  async setLink(telephonySessionId: string, link: SessionLink): Promise<void> {
    await this.shared.set(`${this.prefix}:session:${telephonySessionId}`, JSON.stringify(link), CALL_TTL_MS);
  }

  /** Marks one notification as seen; false when it was already (a duplicate delivery). */
  async firstDelivery(telephonySessionId: string, marker: string): Promise<boolean> {
    return (await this.shared.acquireLock(`${this.prefix}:seen:${telephonySessionId}:${marker}`, CALL_TTL_MS)) !== null;
  }
}
