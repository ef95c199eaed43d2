// Instance liveness for adapters built outside a gateway (adapter unit tests): one instance, alone.
import type { InstanceLiveness } from '../../src/providers/adapter.js';

export const LONE_INSTANCE: InstanceLiveness = { id: 'test', alive: async (id) => id === 'test' };
