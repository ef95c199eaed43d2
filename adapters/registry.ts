// The registry of provider and CRM kinds. Adding a provider = one folder under adapters/ and one
// line here. Only src/main.ts (the composition root) imports this file; the core receives it.

import type { ProviderKindDefinition } from '../src/providers/adapter.js';
import type { CrmKindDefinition } from '../src/crm/adapter.js';
import { simKind } from './sim/index.js';
import { twilioKind } from './twilio/index.js';
import { ringcentralKind } from './ringcentral/index.js';
import { sipKind } from './sip/index.js';
import { zohoCrmKind } from './crm/zoho/index.js';
import { webhookCrmKind } from './crm/webhook/index.js';

export const providerKinds: ProviderKindDefinition[] = [
  simKind,
  twilioKind,
  ringcentralKind,
  sipKind,
];

export const crmKinds: CrmKindDefinition[] = [
  zohoCrmKind,
  webhookCrmKind,
];
