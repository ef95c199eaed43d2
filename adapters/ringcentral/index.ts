// RingCentral: click-to-call with RingOut, telephony session notifications through a webhook
// subscription the gateway manages itself, OAuth JWT tokens shared by every gateway instance.

import type { ProviderKindDefinition } from '../../src/providers/adapter.js';
import type { Provider } from '../../src/domain/types.js';
import { createRingCentralAdapter, verifyRingCentral } from './adapter.js';
import { configSchema, DEFAULT_SERVER_URL, secretFields } from './config.js';

export const ringcentralKind: ProviderKindDefinition = {
  kind: 'ringcentral',
  displayName: 'RingCentral',
  // recording: Call Control records the answering party, the call log gives the recording id
  // (media.ts). voicemail: not wired — the ring time before RingCentral's voicemail is the
  // extension's answering rule, not per call, and its message is in that extension's message
  // store, which this adapter does not read yet: refused until it does
  capabilities: { recording: true, voicemail: false, inbound: true },
  configSchema,
  secretFields,
  create: (ctx) => createRingCentralAdapter(ctx),
  verify: (config, opts) => verifyRingCentral(config, opts),
  describe: (provider: Provider, webhookBase: string) => ({
    webhookUrl: `${webhookBase}/events`,
    serverUrl: typeof provider.config.serverUrl === 'string' ? provider.config.serverUrl : DEFAULT_SERVER_URL,
    subscription: 'created by the gateway when the provider is installed (telephony session events, renewed automatically)',
    appPermissions: 'RingOut, Call Control, Webhook Subscriptions, Read Call Log and Read Call Recording (for recordings)',
  }),
};

export { createRingCentralAdapter, RingCentralAdapter, type RingCentralOptions } from './adapter.js';
