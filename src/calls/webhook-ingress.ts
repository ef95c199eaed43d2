// One entry for every provider webhook over HTTP: finds the provider and its org, hands the
// request to the provider runtime (the adapter authenticates it and feeds the call core).
// Unknown providers answer 404 without revealing whether the id exists in another kind.

import type { OrgConfigCache } from '../directory/org-config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WebhookReply, WebhookRequest } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';

export class WebhookIngress {
  constructor(
    private readonly configs: OrgConfigCache,
    private readonly providers: ProviderRuntime,
    private readonly metrics: Metrics,
  ) {}

  async handle(kind: string, providerId: string, req: WebhookRequest): Promise<WebhookReply> {
    const provider = await this.configs.providerById(providerId);
    if (!provider || provider.kind !== kind) {
      this.metrics.webhooks.inc({ provider_kind: this.providers.definition(kind) ? kind : 'unknown', result: 'unknown_provider' });
      return { statusCode: 404, body: { error: { code: 'not_found', message: 'no such provider' } } };
    }
    return this.providers.deliver(provider, req);
  }
}
