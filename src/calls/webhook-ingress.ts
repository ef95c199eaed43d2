// One entry for every provider webhook (HTTP or internal): finds the provider and its org, hands
// the request to the adapter, which authenticates it and feeds the call core. Unknown providers
// answer 404 without revealing whether the id exists in another kind.

import type { Logger } from 'pino';
import type { Provider } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WebhookReply, WebhookRequest } from '../providers/adapter.js';
import type { ProviderRuntime } from '../providers/runtime.js';
import type { ProviderCache } from '../providers/provider-cache.js';

export class WebhookIngress {
  constructor(
    private readonly cache: ProviderCache,
    private readonly providers: ProviderRuntime,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  async handle(kind: string, providerId: string, req: WebhookRequest): Promise<WebhookReply> {
    const provider = await this.cache.byProviderId(providerId);
    if (!provider || provider.kind !== kind) {
      this.metrics.webhooks.inc({ provider_kind: this.providers.definition(kind) ? kind : 'unknown', result: 'unknown_provider' });
      return { statusCode: 404, body: { error: { code: 'not_found', message: 'no such provider' } } };
    }
    return this.deliver(provider, req);
  }

  async deliver(provider: Provider, req: WebhookRequest): Promise<WebhookReply> {
    try {
      const reply = await this.providers.adapter(provider).handleWebhook(req);
      const result = reply.statusCode === 401 || reply.statusCode === 403 ? 'rejected' : reply.statusCode >= 400 ? 'refused' : 'ok';
      this.metrics.webhooks.inc({ provider_kind: provider.kind, result });
      return reply;
    } catch (e) {
      this.metrics.webhooks.inc({ provider_kind: provider.kind, result: 'error' });
      this.logger.error({ providerId: provider.id, subpath: req.subpath, err: (e as Error).message }, 'webhook handling failed');
      // a 5xx makes the provider retry; the state machine makes the retry harmless
      throw e;
    }
  }
}
