// Which gateway instances of this deployment are alive: each one writes a short-lived heartbeat
// into the backend's shared state. Adapters whose calls live inside one process (the simulator's
// timers, SIP dialogs on that instance's drachtio connection) tell a call held by another live
// instance from one whose instance died, so the reconciler ends only the lost ones.

import { randomHex } from '../domain/random.js';
import type { SharedState } from '../store/state/port.js';
import type { InstanceLiveness } from './adapter.js';

const BEAT_MS = 2000;
/** a heartbeat outlives a couple of missed beats (a busy event loop), not a dead process */
const TTL_MS = 3 * BEAT_MS;

export class InstanceHeartbeat implements InstanceLiveness {
  readonly id = randomHex(6);
  private timer?: NodeJS.Timeout;

  constructor(private readonly shared: SharedState) {}

  private key(id: string): string {
    return `instance:${id}`;
  }

  start(): void {
    const beat = () => void this.shared.set(this.key(this.id), '1', TTL_MS).catch(() => {});
    beat();
    this.timer = setInterval(beat, BEAT_MS).unref();
  }

  async alive(instanceId: string): Promise<boolean> {
    if (instanceId === this.id) return true;
    return (await this.shared.get(this.key(instanceId))) !== null;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.shared.del(this.key(this.id)).catch(() => {});
  }
}
