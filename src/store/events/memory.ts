// Events in local mode: one process, delivered at once.

import type { MemoryData } from '../memory/state.js';
import type { EventBus, EventListener, EventType } from './port.js';

export class MemoryEvents implements EventBus {
  constructor(private readonly data: MemoryData) {}

  publish(orgId: string, type: EventType, userId: string, json: string): void {
    this.data.emit(orgId, type, userId, json);
  }

  async subscribe(orgId: string, listener: EventListener): Promise<() => void> {
    this.data.listeners.add(orgId, listener);
    return () => void this.data.listeners.remove(orgId, listener);
  }

  async close(): Promise<void> {}
}
