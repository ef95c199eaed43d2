// The composition root's engine: builds every part of a gateway instance from a Config and the
// registered kinds, and owns its lifecycle (listen, graceful close). src/main.ts runs it; tests
// start it in-process.

import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { ApiKeyVerifier } from './auth/api-keys.js';
import { OrgService } from './auth/org-service.js';
import { CallService, type CallLogSink, type CallObserver, type CallerMatcher } from './calls/call-service.js';
import { WebhookIngress } from './calls/webhook-ingress.js';
import type { Config } from './config/config.js';
import type { CrmKindDefinition } from './crm/adapter.js';
import { DirectoryService } from './directory/directory-service.js';
import { LocalEventBus, RedisEventBus, type EventBus } from './events/event-bus.js';
import { buildApp, type AppDeps, type BuiltApp } from './http/app.js';
import type { ReadinessCheck } from './http/routes/ops.js';
import { Metrics } from './metrics/metrics.js';
import type { ProviderKindDefinition } from './providers/adapter.js';
import { ProviderRuntime } from './providers/runtime.js';
import { MemoryStore } from './store/memory/memory-store.js';
import { RedisStore } from './store/redis/redis-store.js';
import type { Store } from './store/store.js';
import { MemoryAuditLog, RedisAuditLog, type AuditLog } from './audit/audit-log.js';
import { MemorySettingsStore, RedisSettingsStore, type SettingsStore } from './settings/settings-store.js';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from './policy/rate-limiter.js';
import { PolicyService } from './policy/policy-service.js';
import { Router } from './routing/router.js';
import { ProviderCache } from './providers/provider-cache.js';

export interface GatewayOptions {
  config: Config;
  providerKinds: ProviderKindDefinition[];
  crmKinds?: CrmKindDefinition[];
  logger?: Logger;
  /** Redis key prefix (tests isolate instances with a random one; all instances of one deployment share it). */
  keyPrefix?: string;
  /** Extra parts wired by the composition root (call-log queue, matcher, route plugins, readiness). */
  extend?: (g: GatewayParts) => Promise<GatewayExtension | void>;
}

export interface GatewayParts {
  config: Config;
  store: Store;
  redis?: Redis;
  logger: Logger;
  metrics: Metrics;
  providers: ProviderRuntime;
  calls: CallService;
  events: EventBus;
  crmKinds: CrmKindDefinition[];
  matcher?: CallerMatcher;
  settings: SettingsStore;
  audit: AuditLog;
  policy: PolicyService;
  router: Router;
  /** prefix of every Redis key of this deployment */
  keyPrefix: string;
}

export interface GatewayExtension {
  callLog?: CallLogSink;
  observer?: CallObserver;
  matcher?: CallerMatcher;
  plugins?: AppDeps['plugins'];
  readiness?: ReadinessCheck[];
  /** closed after the HTTP server has drained, before the store */
  close?: () => Promise<void>;
}

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'dialgate' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-twilio-signature"]', 'req.headers["verification-token"]', '*.apiKey', '*.authToken', '*.clientSecret', '*.jwt', '*.refreshToken', '*.secret', '*.password'],
      censor: '[redacted]',
    },
    serializers: {
      req(req: { method: string; url: string; id: string; ip?: string }) {
        // query strings can carry access_token (browser WebSockets): never log them
        return { method: req.method, url: req.url.replace(/([?&]access_token=)[^&]*/g, '$1[redacted]'), reqId: req.id };
      },
    },
  });
}

/** Waits for a client's first connection, up to ms; the gateway starts either way (readyz tells). */
function whenReady(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => done(false), ms);
    const done = (ok: boolean) => {
      clearTimeout(t);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    client.on('ready', onReady);
  });
}

function redisClient(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: `dialgate-${name}`,
    // fail fast while Redis is away: callers get 503 at once instead of hanging on a queue
    enableOfflineQueue: false,
    // commands issued in the same tick (a click makes several) share one socket write
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    // a command in flight when Redis dies fails after this long (then 503): an outage must not
    // hold a click for longer than a CRM button would wait; no hot-path command takes near it
    commandTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    // a replica promoted under us answers READONLY: reconnect (DNS/sentinel now point at the
    // primary) and resend. Not on every error reply: NOSCRIPT, a Lua error or WRONGTYPE say
    // nothing about the connection, and a reconnect would fail every command in flight with it.
    reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 2 : false),
  });
}

export class Gateway {
  private built?: BuiltApp;
  private closing?: Promise<void>;
  private listeningUrl?: string;

  constructor(
    readonly parts: GatewayParts,
    private readonly deps: AppDeps,
    private readonly extension: GatewayExtension,
    private readonly subscriber?: Redis,
  ) {}

  get app() {
    if (!this.built) throw new Error('gateway not built');
    return this.built.app;
  }

  get sockets() {
    if (!this.built) throw new Error('gateway not built');
    return this.built.sockets;
  }

  async build(): Promise<void> {
    this.built = await buildApp(this.deps);
  }

  /** Listens and returns the local URL. */
  async listen(port = this.parts.config.port, host = this.parts.config.host): Promise<string> {
    const app = this.app;
    await app.listen({ port, host });
    const addr = app.server.address();
    const p = typeof addr === 'object' && addr ? addr.port : port;
    this.listeningUrl = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${p}`;
    return this.listeningUrl;
  }

  get url(): string {
    if (!this.listeningUrl) throw new Error('gateway is not listening');
    return this.listeningUrl;
  }

  publicUrl(): string {
    return this.parts.config.publicUrl ?? this.listeningUrl ?? `http://127.0.0.1:${this.parts.config.port}`;
  }

  /**
   * For up to graceMs, keeps serving — new connections too, as a load balancer may still send for
   * a moment — with Connection: close on every answer, so clients let go of their connections.
   * Closing at once reset requests already on the wire: Node's server.close() destroys idle
   * keep-alive sockets, and the kernel resets connections still in the accept backlog (found by
   * the stress suite: most requests in flight at SIGTERM under load were reset).
   */
  private async drainConnections(graceMs: number): Promise<void> {
    const built = this.built;
    if (!built || !built.app.server.listening) return;
    const server = built.app.server;
    built.drain();
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      const open = await new Promise<number>((r) => server.getConnections((e, n) => r(e ? 0 : n)));
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Graceful stop: refuse new connections and requests (503), finish in-flight ones, then close
   * sockets, adapters, queue and store — bounded by shutdownTimeoutMs. drainGraceMs (the process
   * sets it on SIGTERM): first keep answering on open connections for up to that long.
   */
  close(opts: { drainGraceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      const { logger, config } = this.parts;
      const timer = setTimeout(() => {
        logger.error('graceful shutdown timed out; closing connections');
        this.built?.app.server.closeAllConnections?.();
      }, Math.max(100, config.shutdownTimeoutMs - 500));
      timer.unref();
      const deadline = Date.now() + config.shutdownTimeoutMs - 1000;
      // each step after the HTTP drain is bounded: with Redis unreachable, queue and client
      // closes wait for a connection that may never come back
      const bounded = async (name: string, p: Promise<unknown> | undefined) => {
        let t: NodeJS.Timeout | undefined;
        const left = Math.max(200, Math.min(3000, deadline - Date.now()));
        const timedOut = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), left)));
        const r = await Promise.race([Promise.resolve(p).then(() => 'ok' as const, () => 'error' as const), timedOut]);
        clearTimeout(t);
        if (r !== 'ok') logger.warn({ step: name, result: r }, 'shutdown step did not finish cleanly');
      };
      try {
        await this.built?.sockets.close();
        if (opts.drainGraceMs) await this.drainConnections(Math.min(opts.drainGraceMs, config.shutdownTimeoutMs / 4));
        this.built?.refuse();
        await this.built?.app.close();
        await bounded('call-log queue', this.extension.close?.());
        await bounded('providers', this.parts.providers.closeAll());
        await bounded('provider kinds', this.parts.providers.shutdownKinds());
        await bounded('events', this.parts.events.close());
        this.subscriber?.disconnect();
        await bounded('store', this.parts.store.close());
        this.parts.redis?.disconnect();
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.closing;
  }
}

export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger(config.logLevel);
  const metrics = new Metrics();

  let store: Store;
  let redis: Redis | undefined;
  let subscriber: Redis | undefined;
  let events: EventBus;
  let settings: SettingsStore;
  let audit: AuditLog;
  let limiter: RateLimiter;
  const keyPrefix = opts.keyPrefix ?? 'dg:';
  if (config.redisUrl) {
    redis = redisClient(config.redisUrl, 'store');
    subscriber = new Redis(config.redisUrl, { connectionName: 'dialgate-events', maxRetriesPerRequest: null, enableOfflineQueue: true });
    store = new RedisStore(redis, { keyPrefix: opts.keyPrefix });
    events = new RedisEventBus(redis, subscriber, logger);
    redis.on('error', (e: Error) => logger.warn({ err: e.message }, 'redis connection error'));
    subscriber.on('error', () => {});
    if (!(await whenReady(redis, 3000))) logger.error('Redis is not reachable yet; answering 503 until it is (see /readyz)');
    settings = new RedisSettingsStore(redis, keyPrefix);
    audit = new RedisAuditLog(redis, keyPrefix);
    limiter = new RedisRateLimiter(redis);
  } else {
    const memory = new MemoryStore();
    store = memory;
    events = new LocalEventBus();
    settings = new MemorySettingsStore();
    audit = new MemoryAuditLog();
    limiter = new MemoryRateLimiter(memory.limits);
  }
  const regionCache = new Map<string, { regions: Promise<string[]>; until: number }>();
  const regionScans = new Map<string, Promise<string[]>>();
  const policy = new PolicyService({
    settings,
    limiter,
    audit,
    metrics,
    keyPrefix,
    // cached: a big org's regions change rarely, and this runs on every click
    orgRegions: (orgId) => {
      const hit = regionCache.get(orgId);
      if (hit && hit.until > Date.now()) return hit.regions;
      // one scan per org at a time: concurrent clicks on a cold cache share it
      const pending = regionScans.get(orgId);
      if (pending) return pending;
      const scan = store
        .orgRegions(orgId)
        .then((regions) => {
          if (regionCache.size > 10_000) regionCache.clear();
          regionCache.set(orgId, { regions: Promise.resolve(regions), until: Date.now() + 30_000 });
          return regions;
        })
        .finally(() => regionScans.delete(orgId));
      regionScans.set(orgId, scan);
      return scan;
    },
  });

  // late-bound: the runtime needs the call service's sinks and the ingress, which need the runtime
  let gateway: Gateway | undefined;
  let ingress: WebhookIngress | undefined;
  let calls: CallService | undefined;
  const publicUrl = () => gateway?.publicUrl() ?? config.publicUrl ?? `http://127.0.0.1:${config.port}`;
  const providers = new ProviderRuntime({
    kinds: opts.providerKinds,
    shared: store.shared,
    logger,
    metrics,
    publicUrl,
    sinkFor: (p) => calls!.sinkFor(p),
    deliver: (p, req) => ingress!.deliver(p, req),
  });
  const providerCache = new ProviderCache(store);
  const router = new Router(store, providers, settings, providerCache);
  const parts: GatewayParts = {
    config,
    store,
    redis,
    logger,
    metrics,
    providers,
    calls: undefined as unknown as CallService,
    events,
    crmKinds: opts.crmKinds ?? [],
    settings,
    audit,
    policy,
    router,
    keyPrefix,
  };
  calls = new CallService({
    store,
    providers,
    events,
    metrics,
    logger,
    router,
    policy,
    providerCallsPerSecond: (p) => policy.callsPerSecond(p),
  });
  parts.calls = calls;
  // the extension (call-log queue, CRM matcher...) needs the parts above and gives back its own
  const extension = (await opts.extend?.(parts)) ?? {};
  calls.attach({ callLog: extension.callLog, matcher: extension.matcher, observer: extension.observer });
  parts.matcher = extension.matcher;
  ingress = new WebhookIngress(providerCache, providers, metrics, logger);

  const readiness: ReadinessCheck[] = [
    { name: 'store', check: async () => ((await store.ping()) ? { ok: true } : { ok: false, detail: `${store.kind} store unreachable` }) },
    ...(extension.readiness ?? []),
    // kinds that share connections across providers (SIP's drachtio links) report them here
    ...opts.providerKinds
      .filter((k) => k.readiness)
      .map((k) => ({ name: `provider:${k.kind}`, check: async () => k.readiness!() })),
  ];

  const deps: AppDeps = {
    config,
    logger,
    metrics,
    keys: new ApiKeyVerifier(store),
    orgs: new OrgService(store),
    directory: new DirectoryService(store, providers, logger, audit, policy, providerCache),
    policy,
    router,
    audit,
    calls,
    providers,
    events,
    webhooks: ingress,
    readiness,
    publicUrl,
    plugins: extension.plugins,
  };
  gateway = new Gateway(parts, deps, extension, subscriber);
  await gateway.build();
  return gateway;
}
