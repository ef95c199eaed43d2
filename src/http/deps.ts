// What the HTTP layer is given: the services its routes call (built by src/gateway.ts). Its own
// module, so app.ts and every route file depend on it and not on each other.

import type { Logger } from 'pino';
import type { ApiKeyVerifier } from '../auth/api-keys.js';
import type { CredentialService } from '../auth/credential-service.js';
import type { OrgService } from '../auth/org-service.js';
import type { CallQueries } from '../calls/call-queries.js';
import type { CallUpdates } from '../calls/call-updates.js';
import type { Recordings } from '../calls/recordings.js';
import type { Reconciler } from '../calls/reconciler.js';
import type { Dispatcher } from '../calls/dispatch.js';
import type { WebhookIngress } from '../calls/webhook-ingress.js';
import type { Config } from '../config/config.js';
import type { CostService } from '../costs/cost-service.js';
import type { CrmService } from '../crm/crm-service.js';
import type { DirectoryService } from '../directory/directory-service.js';
import type { OrgConfigCache } from '../directory/org-config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PerfService } from '../perf/perf-service.js';
import type { DncService } from '../policy/dnc.js';
import type { PolicyService } from '../policy/policy-service.js';
import type { ProviderCapabilities } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { Router } from '../routing/router.js';
import type { AuditLog } from '../store/audit/port.js';
import type { EventBus } from '../store/events/port.js';
import type { TrialService } from '../trials/trial-service.js';

export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: string }>;
  /** set on the check a shutting-down instance adds: /readyz then says "draining" */
  draining?: boolean;
}

/** A provider kind as GET /v1/provider-kinds shows it. */
export interface ProviderKindInfo {
  kind: string;
  name: string;
  capabilities: ProviderCapabilities;
}

export interface AppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  keys: ApiKeyVerifier;
  orgs: OrgService;
  credentials: CredentialService;
  directory: DirectoryService;
  dispatcher: Dispatcher;
  reconciler: Reconciler;
  calls: CallQueries;
  callUpdates: CallUpdates;
  recordings: Recordings;
  providerKinds: ProviderKindInfo[];
  providers: ProviderRuntime;
  events: EventBus;
  webhooks: WebhookIngress;
  policy: PolicyService;
  router: Router;
  configs: OrgConfigCache;
  audit: AuditLog;
  crm: CrmService;
  perf: PerfService;
  trials: TrialService;
  costs: CostService;
  dnc: DncService;
  readiness: ReadinessCheck[];
  publicUrl: () => string;
}
