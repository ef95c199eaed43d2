// A provider kind that is the sim with a tally: every dial request per provider and per call,
// and which of them the provider accepted (an accepted dial is the agent's phone starting to
// ring). Passed to startGateway({providerKinds}) so the suites can prove nobody is rung twice.

import { simKind } from '../../adapters/sim/index.js';
import type { ProviderKindDefinition } from '../../src/providers/adapter.js';

export interface DialTally {
  /** dial requests per provider id */
  requested: Map<string, number>;
  /** accepted dials per call id, each with the provider that took it */
  accepted: Map<string, string[]>;
  requestedBy(providerId: string): number;
}

export function countingSimKind(kind = 'countsim'): { def: ProviderKindDefinition; tally: DialTally } {
  const tally: DialTally = {
    requested: new Map(),
    accepted: new Map(),
    requestedBy: (id) => tally.requested.get(id) ?? 0,
  };
  const def: ProviderKindDefinition = {
    ...simKind,
    kind,
    create(ctx) {
      const inner = simKind.create(ctx);
      return {
        ...inner,
        hangUp: (call) => inner.hangUp(call),
        handleWebhook: (req) => inner.handleWebhook(req),
        health: () => inner.health(),
        close: () => inner.close?.() ?? Promise.resolve(),
        async dial(req) {
          const id = ctx.provider.id;
          tally.requested.set(id, tally.requestedBy(id) + 1);
          const res = await inner.dial(req);
          tally.accepted.set(req.call.id, [...(tally.accepted.get(req.call.id) ?? []), id]);
          return res;
        },
      };
    },
  };
  return { def, tally };
}
