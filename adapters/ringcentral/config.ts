// The RingCentral provider's configuration: JSON Schema for the core's validation, and the parsed
// form the adapter works with. The secrets (clientSecret, jwt) are write-only: the core redacts
// the fields named in secretFields, and nothing in this folder ever logs or echoes them.

import { createHash } from 'node:crypto';

export const DEFAULT_SERVER_URL = 'https://platform.ringcentral.com';
export const DEFAULT_TIMEOUT_MS = 10_000;

export const configSchema: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['clientId', 'clientSecret', 'jwt'],
  properties: {
    clientId: { type: 'string', minLength: 1, maxLength: 256 },
    clientSecret: { type: 'string', minLength: 1, maxLength: 512 },
    jwt: { type: 'string', minLength: 1, maxLength: 8192 },
    serverUrl: { type: 'string', pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$', maxLength: 512 },
    callerId: { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}$' },
    playPrompt: { type: 'boolean' },
    timeoutMs: { type: 'integer', minimum: 500, maximum: 60_000 },
  },
};

export const secretFields = ['clientSecret', 'jwt'];

export interface RcConfig {
  clientId: string;
  clientSecret: string;
  jwt: string;
  serverUrl: string;
  callerId?: string;
  playPrompt: boolean;
  timeoutMs: number;
  /**
   * Short hash of the credentials: part of every shared key that depends on them, so a config
   * change (new JWT, other app) never reuses a token or penalty learned under the old one.
   */
  credentialTag: string;
}

export function parseConfig(raw: Record<string, unknown>): RcConfig {
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`ringcentral config: ${k} is required`);
    return v;
  };
  const clientId = str('clientId');
  const clientSecret = str('clientSecret');
  const jwt = str('jwt');
  const serverUrl = (typeof raw.serverUrl === 'string' && raw.serverUrl ? raw.serverUrl : DEFAULT_SERVER_URL).replace(/\/+$/, '');
  const credentialTag = createHash('sha256').update(`${serverUrl}\n${clientId}\n${clientSecret}\n${jwt}`).digest('hex').slice(0, 12);
  return {
    clientId,
    clientSecret,
    jwt,
    serverUrl,
    callerId: typeof raw.callerId === 'string' && raw.callerId ? raw.callerId : undefined,
    playPrompt: raw.playPrompt === true,
    timeoutMs: typeof raw.timeoutMs === 'number' ? raw.timeoutMs : DEFAULT_TIMEOUT_MS,
    credentialTag,
  };
}
