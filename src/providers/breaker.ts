// A provider's circuit-breaker settings (provider field `health`), as the backend's breaker
// (src/store/health) applies them to dials and probes alike. Defaults and bounds are written once
// here: the route schemas, the README and the breaker all read them.

import type { BreakerSettings, Provider } from '../domain/types.js';
import { DEFAULT_BREAKER, type BreakerPolicy } from '../store/health/port.js';

export const BREAKER_DEFAULTS: Required<BreakerSettings> = {
  failureThreshold: DEFAULT_BREAKER.threshold,
  openSec: DEFAULT_BREAKER.openMs / 1000,
  closeAfter: DEFAULT_BREAKER.closeAfter,
};

/** JSON Schema of the provider field `health` (create and PATCH; null on PATCH restores the defaults). */
export const breakerSettingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    failureThreshold: { type: 'integer', minimum: 1, maximum: 1000 },
    openSec: { type: 'integer', minimum: 1, maximum: 86_400 },
    closeAfter: { type: 'integer', minimum: 1, maximum: 100 },
  },
} as const;

/** The settings in force: the provider's own over the defaults. */
export function breakerSettingsOf(provider: Pick<Provider, 'health'>): Required<BreakerSettings> {
  return { ...BREAKER_DEFAULTS, ...(provider.health ?? {}) };
}

/** What the backend's breaker takes. */
export function breakerPolicyOf(provider: Pick<Provider, 'health'>): BreakerPolicy {
  if (!provider.health) return DEFAULT_BREAKER;
  const s = breakerSettingsOf(provider);
  return { threshold: s.failureThreshold, openMs: s.openSec * 1000, closeAfter: s.closeAfter };
}
