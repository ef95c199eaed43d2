// The sip provider's configuration: its JSON Schema (validated by the core on create/update) and
// the parsed, defaulted form the adapter works with.

import { ProviderError } from '../../src/providers/adapter.js';
import { AddressFilter } from './address-filter.js';

export interface SipConfigInput {
  drachtio: { host: string; port: number; secret: string };
  trunk: { uri: string; username?: string; password?: string };
  /** E.164 number presented to customers */
  callerId: string;
  /** source IPs / CIDRs allowed to send inbound INVITEs; unset = any source */
  inboundAllow?: string[];
  optionsIntervalMs?: number;
  optionsFailureThreshold?: number;
  customerLegTimeoutMs?: number;
  agentLegTimeoutMs?: number;
}

export interface SipUri {
  scheme: 'sip' | 'sips';
  user?: string;
  host: string;
  port?: number;
  /** ";transport=tcp;..." exactly as given, or "" */
  params: string;
}

export interface SipConfig {
  drachtio: { host: string; port: number; secret: string };
  trunk: { uri: string; parsed: SipUri; username?: string; password?: string };
  callerId: string;
  inbound: AddressFilter | null;
  optionsIntervalMs: number;
  optionsFailureThreshold: number;
  customerLegTimeoutMs: number;
  agentLegTimeoutMs: number;
}

export const SIP_DEFAULTS = {
  optionsIntervalMs: 30_000,
  optionsFailureThreshold: 3,
  // Below 64×T1 (32 s): the agent's 200 OK waits for our ACK while the customer rings, and the
  // agent's UA gives up (BYE) if it is not ACKed within 64×T1 (RFC 3261 §13.3.1.4).
  customerLegTimeoutMs: 25_000,
  agentLegTimeoutMs: 30_000,
} as const;

/** 64×T1: the longest a 200 OK may stay unacknowledged. */
export const MAX_UNACKED_MS = 32_000;

const msField = (min: number, max: number) => ({ type: 'integer', minimum: min, maximum: max });

export const configSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['drachtio', 'trunk', 'callerId'],
  properties: {
    drachtio: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'secret'],
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        secret: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
    trunk: {
      type: 'object',
      additionalProperties: false,
      required: ['uri'],
      properties: {
        uri: { type: 'string', pattern: '^sips?:', minLength: 5, maxLength: 512 },
        username: { type: 'string', minLength: 1, maxLength: 256 },
        password: { type: 'string', minLength: 1, maxLength: 256 },
      },
    },
    callerId: { type: 'string', pattern: '^\\+[1-9][0-9]{6,14}$' },
    inboundAllow: { type: 'array', maxItems: 256, items: { type: 'string', minLength: 2, maxLength: 64 } },
    optionsIntervalMs: msField(100, 3_600_000),
    optionsFailureThreshold: { type: 'integer', minimum: 1, maximum: 100 },
    customerLegTimeoutMs: msField(100, MAX_UNACKED_MS - 1000),
    agentLegTimeoutMs: msField(100, 300_000),
  },
};

export const secretFields = ['drachtio.secret', 'trunk.password'];

/** Parses `sip:[user@]host[:port][;params]` (no headers part); null when it is not one. */
export function parseSipUri(uri: string): SipUri | null {
  const m = /^(sips?):(?:([^@;:]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]+)(?::(\d{1,5}))?((?:;[^;?]+)*)$/.exec(uri.trim());
  if (!m) return null;
  const port = m[4] ? Number(m[4]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  return { scheme: m[1] as 'sip' | 'sips', user: m[2], host: m[3], port, params: m[5] ?? '' };
}

/** The Request-URI for `number` at the trunk: sip:<E164>@trunkhost[:port][;params]. */
export function trunkTarget(trunk: SipUri, number: string): string {
  return `${trunk.scheme}:${number}@${trunk.host}${trunk.port ? `:${trunk.port}` : ''}${trunk.params}`;
}

function invalid(msg: string): never {
  throw new ProviderError('provider_error', `invalid sip provider config: ${msg}`);
}

/** Validates beyond the schema (URI and CIDR syntax) and fills the defaults. Never echoes secrets. */
export function parseConfig(raw: Record<string, unknown>): SipConfig {
  const c = raw as unknown as SipConfigInput;
  if (!c || typeof c !== 'object') invalid('not an object');
  const d = c.drachtio;
  if (!d || typeof d.host !== 'string' || !d.host || !Number.isInteger(d.port) || typeof d.secret !== 'string' || !d.secret) {
    invalid('drachtio {host, port, secret} is required');
  }
  if (!c.trunk || typeof c.trunk.uri !== 'string') invalid('trunk.uri is required');
  const parsed = parseSipUri(c.trunk.uri);
  if (!parsed) invalid('trunk.uri is not a sip: URI');
  if (typeof c.callerId !== 'string' || !/^\+[1-9][0-9]{6,14}$/.test(c.callerId)) invalid('callerId must be E.164');
  let inbound: AddressFilter | null = null;
  if (c.inboundAllow !== undefined) {
    try {
      inbound = new AddressFilter(c.inboundAllow);
    } catch (e) {
      invalid((e as Error).message);
    }
  }
  const customerLegTimeoutMs = c.customerLegTimeoutMs ?? SIP_DEFAULTS.customerLegTimeoutMs;
  if (customerLegTimeoutMs >= MAX_UNACKED_MS) invalid('customerLegTimeoutMs must stay below 32000 (64×T1)');
  return {
    drachtio: { host: d.host, port: d.port, secret: d.secret },
    trunk: { uri: c.trunk.uri, parsed, username: c.trunk.username, password: c.trunk.password },
    callerId: c.callerId,
    inbound,
    optionsIntervalMs: c.optionsIntervalMs ?? SIP_DEFAULTS.optionsIntervalMs,
    optionsFailureThreshold: c.optionsFailureThreshold ?? SIP_DEFAULTS.optionsFailureThreshold,
    customerLegTimeoutMs,
    agentLegTimeoutMs: c.agentLegTimeoutMs ?? SIP_DEFAULTS.agentLegTimeoutMs,
  };
}
