// What the marketplace knows about each provider kind: a description and the config form. Kinds
// the gateway offers but this file does not describe get a raw JSON editor, so a new adapter is
// installable from the console before anyone writes its form.

export type FieldType = 'text' | 'number' | 'secret' | 'bool' | 'select' | 'list';

export interface Field {
  /** dotted path in the config object */
  path: string;
  label: string;
  type: FieldType;
  required?: boolean;
  options?: string[];
  help?: string;
  placeholder?: string;
  min?: number;
  max?: number;
  /** shown under "Advanced settings" */
  advanced?: boolean;
}

export interface KindInfo {
  kind: string;
  title: string;
  blurb: string;
  fields: Field[] | null;
}

const KNOWN: Record<string, Omit<KindInfo, 'kind'>> = {
  sim: {
    title: 'Simulator',
    blurb: 'A built-in simulated provider: rings, answers and hangs up on a schedule you choose. For demos, tests and trials.',
    fields: [
      { path: 'ringAfterMs', label: 'Ring after (ms)', type: 'number', min: 0, max: 3_600_000, placeholder: 'default' },
      { path: 'answerAfterMs', label: 'Answer after (ms)', type: 'number', min: 0, max: 3_600_000, placeholder: 'default' },
      { path: 'durationMs', label: 'Talk time (ms)', type: 'number', min: 0, max: 3_600_000, placeholder: 'default' },
      { path: 'outcome', label: 'Outcome', type: 'select', options: ['answered', 'busy', 'no-answer', 'failed'] },
      { path: 'apiLatencyMs', label: 'API latency (ms)', type: 'number', min: 0, max: 60_000, advanced: true, placeholder: 'default' },
      { path: 'callerId', label: 'Caller ID (E.164)', type: 'text', placeholder: '+15550100', advanced: true },
      { path: 'failDial', label: 'Simulate an outage (refuse every dial)', type: 'bool', advanced: true },
    ],
  },
  twilio: {
    title: 'Twilio',
    blurb: 'Click-to-call and inbound calls through a Twilio account (Programmable Voice).',
    fields: [
      { path: 'accountSid', label: 'Account SID', type: 'text', required: true, placeholder: 'AC…', help: 'Starts with AC, 34 characters.' },
      { path: 'authToken', label: 'Auth token', type: 'secret', required: true },
      { path: 'callerId', label: 'Caller ID (a Twilio number, E.164)', type: 'text', required: true, placeholder: '+15550100' },
      { path: 'apiKeySid', label: 'API key SID (optional)', type: 'text', advanced: true, placeholder: 'SK…' },
      { path: 'apiKeySecret', label: 'API key secret', type: 'secret', advanced: true },
      { path: 'agentIdentity', label: 'Ring agents on', type: 'select', options: ['phone', 'client'], advanced: true },
      { path: 'ringTimeoutSec', label: 'Ring timeout (s)', type: 'number', min: 5, max: 600, advanced: true },
      { path: 'timeoutMs', label: 'API timeout (ms)', type: 'number', min: 100, max: 60_000, advanced: true },
      { path: 'apiBaseUrl', label: 'API base URL', type: 'text', advanced: true, placeholder: 'https://api.twilio.com' },
    ],
  },
  ringcentral: {
    title: 'RingCentral',
    blurb: 'RingOut click-to-call and call events from a RingCentral account; the gateway creates its webhook subscription itself.',
    fields: [
      { path: 'clientId', label: 'Client ID', type: 'text', required: true },
      { path: 'clientSecret', label: 'Client secret', type: 'secret', required: true },
      { path: 'jwt', label: 'JWT credential', type: 'secret', required: true },
      { path: 'callerId', label: 'Caller ID (E.164)', type: 'text', placeholder: '+15550100' },
      { path: 'playPrompt', label: 'Play the "press 1" prompt to agents', type: 'bool', advanced: true },
      { path: 'timeoutMs', label: 'API timeout (ms)', type: 'number', min: 500, max: 60_000, advanced: true },
      { path: 'serverUrl', label: 'Server URL', type: 'text', advanced: true, placeholder: 'https://platform.ringcentral.com' },
    ],
  },
  sip: {
    title: 'SIP trunk',
    blurb: 'Your own SIP trunk, driven through a drachtio server (third-party call control).',
    fields: [
      { path: 'drachtio.host', label: 'drachtio host', type: 'text', required: true },
      { path: 'drachtio.port', label: 'drachtio port', type: 'number', required: true, min: 1, max: 65535, placeholder: '9022' },
      { path: 'drachtio.secret', label: 'drachtio secret', type: 'secret', required: true },
      { path: 'trunk.uri', label: 'Trunk URI', type: 'text', required: true, placeholder: 'sip:trunk.example.com' },
      { path: 'trunk.username', label: 'Trunk username', type: 'text' },
      { path: 'trunk.password', label: 'Trunk password', type: 'secret' },
      { path: 'callerId', label: 'Caller ID (E.164)', type: 'text', required: true, placeholder: '+15550100' },
      { path: 'inboundAllow', label: 'Accept inbound calls only from (IPs or CIDRs, comma-separated)', type: 'list', advanced: true, placeholder: '10.0.0.0/8, 192.0.2.7' },
    ],
  },
};

export const DEFAULT_KINDS = ['sim', 'twilio', 'ringcentral', 'sip'];

export function kindInfo(kind: string): KindInfo {
  const k = KNOWN[kind];
  if (k) return { kind, ...k };
  return { kind, title: kind, blurb: 'A provider kind offered by this gateway. Its configuration is entered as JSON.', fields: null };
}

/** The kinds the gateway accepts, read from its OpenAPI document (the POST /v1/providers enum). */
export async function fetchKinds(): Promise<string[]> {
  try {
    const res = await fetch('/openapi.json', { cache: 'no-store' });
    if (!res.ok) return DEFAULT_KINDS;
    const doc = await res.json();
    const schema = doc?.paths?.['/v1/providers']?.post?.requestBody?.content?.['application/json']?.schema;
    const kinds = schema?.properties?.kind?.enum;
    return Array.isArray(kinds) && kinds.every((k) => typeof k === 'string') && kinds.length ? kinds : DEFAULT_KINDS;
  } catch {
    return DEFAULT_KINDS;
  }
}
