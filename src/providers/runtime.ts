// The provider runtime: the registered kinds, config validation and redaction per kind, one live
// adapter per installed provider (recreated when its config changes, closed on uninstall), and
// the delivery of webhooks to them (HTTP ones through src/calls/webhook-ingress.ts, internal ones
// such as the simulator's progress straight from the adapter). It knows kinds only through the
// definitions it is given (adapters/registry.ts, passed in by the composition root), so nothing
// here imports an adapter.

import { Ajv, type ValidateFunction } from 'ajv';
import type { Logger } from 'pino';
import { DomainError } from '../domain/errors.js';
import type { Provider } from '../domain/types.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SharedState } from '../store/state/port.js';
import { ProviderError, type CallEventSink, type InstanceLiveness, type ProviderAdapter, type ProviderKindDefinition, type WebhookReply, type WebhookRequest } from './adapter.js';
import { keepSecrets, redact, secretValues } from './secrets.js';

interface Live {
  adapter: ProviderAdapter;
  kind: string;
  version: string;
}

export interface ProviderRuntimeDeps {
  kinds: ProviderKindDefinition[];
  shared: SharedState;
  logger: Logger;
  metrics: Metrics;
  publicUrl: () => string;
  sinkFor: (provider: Provider) => CallEventSink;
  instances: InstanceLiveness;
}

export class ProviderRuntime {
  private readonly kinds = new Map<string, ProviderKindDefinition>();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly live = new Map<string, Live>();

  constructor(private readonly deps: ProviderRuntimeDeps) {
    const ajv = new Ajv({ allErrors: false, strict: false, removeAdditional: false, coerceTypes: false });
    for (const k of deps.kinds) {
      this.kinds.set(k.kind, k);
      this.validators.set(k.kind, ajv.compile(k.configSchema));
    }
  }

  kindNames(): string[] {
    return [...this.kinds.keys()];
  }

  definition(kind: string): ProviderKindDefinition | undefined {
    return this.kinds.get(kind);
  }

  /** Throws validation_failed naming the first bad field of a kind's config. */
  validateConfig(kind: string, config: unknown): void {
    const v = this.validators.get(kind);
    if (!v) throw new DomainError('validation_failed', `unknown provider kind "${kind}" (known: ${this.kindNames().join(', ')})`);
    if (!v(config)) {
      const e = v.errors?.[0];
      const where = e?.instancePath ? `config${e.instancePath.replace(/\//g, '.')}` : 'config';
      const extra = e?.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty?: string }).additionalProperty})` : '';
      throw new DomainError('validation_failed', `${where} ${e?.message ?? 'is invalid'}${extra} for kind ${kind}`);
    }
  }

  /** 422 capability_unsupported when a provider asks for what its kind cannot do (e.g. recording on SIP). */
  checkCapabilities(kind: string, want: { recording?: string; voicemail?: string }): void {
    const caps = this.definition(kind)?.capabilities;
    for (const f of ['recording', 'voicemail'] as const) {
      if (want[f] === 'on' && !caps?.[f]) {
        throw new DomainError('capability_unsupported', `provider kind ${kind} cannot do ${f} (GET /v1/provider-kinds lists what each kind can do)`, { capability: f });
      }
    }
  }

  /**
   * Checks a config's credentials with the provider (the kind's verify): 422 provider_auth_failed
   * with the provider's own error code, or 422 provider_unreachable. The message is the adapter's,
   * which never carries a secret.
   */
  async verify(kind: string, config: Record<string, unknown>): Promise<void> {
    const def = this.kinds.get(kind);
    if (!def?.verify) return;
    try {
      await def.verify(config, { logger: this.deps.logger.child({ providerKind: kind }), shared: this.deps.shared });
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      const details = e.providerCode !== undefined ? { providerCode: e.providerCode } : undefined;
      if (e.code === 'provider_auth_failed') throw new DomainError('provider_auth_failed', e.message, details, undefined, 422);
      if (e.code === 'provider_unavailable' || e.code === 'rate_limited') throw new DomainError('provider_unreachable', e.message, details);
      throw new DomainError('provider_auth_failed', e.message, details, undefined, 422);
    }
  }

  redactConfig(provider: Provider): Record<string, unknown> {
    return redact(provider.config, this.kinds.get(provider.kind)?.secretFields ?? []);
  }

  mergeSecrets(kind: string, next: Record<string, unknown>, prev: Record<string, unknown>): Record<string, unknown> {
    return keepSecrets(next, prev, this.kinds.get(kind)?.secretFields ?? []);
  }

  secretsOf(provider: Provider): string[] {
    return secretValues(provider.config, this.kinds.get(provider.kind)?.secretFields ?? []);
  }

  webhookBase(provider: Provider): string {
    return `${this.deps.publicUrl()}/webhooks/${provider.kind}/${provider.id}`;
  }

  describe(provider: Provider): Record<string, unknown> {
    return this.kinds.get(provider.kind)?.describe?.(provider, this.webhookBase(provider)) ?? {};
  }

  /** The live adapter for a provider, created on first use and whenever its config changed. */
  adapter(provider: Provider): ProviderAdapter {
    const version = provider.updatedAt;
    const cur = this.live.get(provider.id);
    if (cur && cur.version === version) return cur.adapter;
    if (cur) void cur.adapter.close?.().catch(() => {});
    const def = this.kinds.get(provider.kind);
    if (!def) throw new DomainError('provider_error', `provider kind ${provider.kind} is not available in this gateway`);
    const labels = { provider_kind: provider.kind, provider_id: provider.id };
    const metrics = this.deps.metrics;
    const adapter = def.create({
      provider,
      publicUrl: this.deps.publicUrl(),
      webhookBase: this.webhookBase(provider),
      sink: this.deps.sinkFor(provider),
      shared: this.deps.shared,
      instances: this.deps.instances,
      logger: this.deps.logger.child({ providerId: provider.id, providerKind: provider.kind }),
      metrics: {
        apiRequest(operation, seconds, outcome) {
          metrics.providerRequest.observe({ ...labels, operation, outcome }, seconds);
        },
      },
      deliverWebhook: (subpath, body) =>
        this.deliver(provider, {
          method: 'POST',
          subpath,
          publicUrl: `${this.webhookBase(provider)}${subpath}`,
          query: {},
          headers: {},
          rawBody: Buffer.alloc(0),
          contentType: 'application/json',
          body,
          internal: true,
        }),
    });
    this.live.set(provider.id, { adapter, kind: provider.kind, version });
    return adapter;
  }

  /** Hands a webhook to the provider's adapter, which authenticates it and feeds the call core. */
  async deliver(provider: Provider, req: WebhookRequest): Promise<WebhookReply> {
    const { metrics, logger } = this.deps;
    try {
      const reply = await this.adapter(provider).handleWebhook(req);
      const result = reply.statusCode === 401 || reply.statusCode === 403 ? 'rejected' : reply.statusCode >= 400 ? 'refused' : 'ok';
      metrics.webhooks.inc({ provider_kind: provider.kind, result });
      return reply;
    } catch (e) {
      metrics.webhooks.inc({ provider_kind: provider.kind, result: 'error' });
      logger.error({ providerId: provider.id, subpath: req.subpath, err: (e as Error).message }, 'webhook handling failed');
      // a 5xx makes the provider retry; the state machine makes the retry harmless
      throw e;
    }
  }

  /** Uninstall hook + close, when a provider is deleted. */
  async release(provider: Provider): Promise<void> {
    const cur = this.live.get(provider.id);
    const adapter = cur?.adapter ?? this.adapter(provider);
    this.live.delete(provider.id);
    try {
      await adapter.uninstall?.();
    } catch (e) {
      this.deps.logger.warn({ providerId: provider.id, err: (e as Error).message }, 'provider uninstall hook failed');
    }
    await adapter.close?.().catch(() => {});
  }

  /** Kind-level shutdown hooks (shared connections), after every adapter is closed. */
  /** The kinds whose adapters every instance keeps live (see ProviderKindDefinition.alwaysOn). */
  alwaysOnKinds(): Set<string> {
    return new Set([...this.kinds.values()].filter((k) => k.alwaysOn).map((k) => k.kind));
  }

  /**
   * Makes the adapters of `providers` (every provider of the always-on kinds, across the orgs)
   * live here, recreated where their config changed, and closes those of always-on kinds no
   * longer among them (deleted through another instance).
   */
  async keepLive(providers: Provider[]): Promise<void> {
    const kinds = this.alwaysOnKinds();
    const wanted = new Set<string>();
    for (const p of providers) {
      if (!kinds.has(p.kind)) continue;
      wanted.add(p.id);
      try {
        this.adapter(p);
      } catch (e) {
        this.deps.logger.warn({ providerId: p.id, err: (e as Error).message }, 'provider adapter could not be started');
      }
    }
    const gone = [...this.live].filter(([id, l]) => !wanted.has(id) && kinds.has(l.kind));
    for (const [id] of gone) this.live.delete(id);
    await Promise.allSettled(gone.map(([, l]) => l.adapter.close?.()));
  }

  async shutdownKinds(): Promise<void> {
    await Promise.allSettled([...this.kinds.values()].map((k) => k.shutdown?.()));
  }

  async closeAll(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.allSettled(all.map((l) => l.adapter.close?.()));
  }
}
