// RingCentral: click-to-call with RingOut, telephony session notifications through a webhook
// subscription the gateway manages itself, OAuth JWT tokens shared by every gateway instance.

import type { ProviderKindDefinition } from '../../src/providers/adapter.js';
import type { Provider } from '../../src/domain/types.js';
import { createRingCentralAdapter, verifyRingCentral } from './adapter.js';
import { configSchema, DEFAULT_SERVER_URL, secretFields } from './config.js';

export const ringcentralKind: ProviderKindDefinition = {
  kind: 'ringcentral',
  displayName: 'RingCentral',
  // recordings and voicemail are not wired to RingCentral yet (issue 16 remainder): refused until they are
  capabilities: { recording: false, voicemail: false, inbound: true },
  configSchema,
  secretFields,
  create: (ctx) => createRingCentralAdapter(ctx),
  verify: (config, opts) => verifyRingCentral(config, opts),
  describe: (provider: Provider, webhookBase: string) => ({
    webhookUrl: `${webhookBase}/events`,
    serverUrl: typeof provider.config.serverUrl === 'string' ? provider.config.serverUrl : DEFAULT_SERVER_URL,
    subscription: 'created by the gateway when the provider is installed (telephony session events, renewed automatically)',
    appPermissions: 'RingOut, Call Control, Webhook Subscriptions',
  }),
};

export { createRingCentralAdapter, RingCentralAdapter, type RingCentralOptions } from './adapter.js';
