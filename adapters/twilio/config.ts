// The Twilio provider's config. The auth token is required even when an API key is given: Twilio
// signs webhooks with the account's auth token only, so without it no webhook could be verified
// and every callback would be refused (an API key signs REST requests, never webhooks).

export interface TwilioConfig {
  accountSid: string;
  authToken: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  /** E.164 number (a Twilio number or verified caller id) shown to the agent and the customer */
  callerId: string;
  /** how agents are reached: their phone (default) or a Twilio Client identity `client:<user id>` */
  agentIdentity: 'phone' | 'client';
  apiBaseUrl: string;
  timeoutMs: number;
  /** seconds Twilio lets each leg ring */
  ringTimeoutSec: number;
}

export const TWILIO_SECRET_FIELDS = ['authToken', 'apiKeySecret'];

export const twilioConfigSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['accountSid', 'authToken', 'callerId'],
  properties: {
    accountSid: { type: 'string', pattern: '^AC[0-9a-fA-F]{32}$' },
    authToken: { type: 'string', minLength: 1, maxLength: 256 },
    apiKeySid: { type: 'string', pattern: '^SK[0-9a-fA-F]{32}$' },
    apiKeySecret: { type: 'string', minLength: 1, maxLength: 256 },
    callerId: { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}$' },
    agentIdentity: { type: 'string', enum: ['phone', 'client'] },
    apiBaseUrl: { type: 'string', pattern: '^https?://[^\\s/]+(/[^\\s]*)?$' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 60000 },
    ringTimeoutSec: { type: 'integer', minimum: 5, maximum: 600 },
  },
  // an API key is a pair
  dependencies: { apiKeySid: ['apiKeySecret'], apiKeySecret: ['apiKeySid'] },
};

export const DEFAULT_API_BASE_URL = 'https://api.twilio.com';

/** Reads a config the core already validated against the schema; defaults filled in. */
export function readTwilioConfig(raw: Record<string, unknown>): TwilioConfig {
  const str = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const num = (k: string) => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined);
  return {
    accountSid: str('accountSid') ?? '',
    authToken: str('authToken') ?? '',
    apiKeySid: str('apiKeySid'),
    apiKeySecret: str('apiKeySecret'),
    callerId: str('callerId') ?? '',
    agentIdentity: str('agentIdentity') === 'client' ? 'client' : 'phone',
    apiBaseUrl: (str('apiBaseUrl') ?? DEFAULT_API_BASE_URL).replace(/\/+$/, ''),
    timeoutMs: num('timeoutMs') ?? 10_000,
    ringTimeoutSec: num('ringTimeoutSec') ?? 30,
  };
}
