// The gateway's engine: builds every part of a gateway instance from a Config, a Backend and the
// registered kinds, in one acyclic order, and owns its lifecycle (listen, graceful close). The
// composition roots (src/main.ts; the tests) hand it the kinds from adapters/registry.ts, so
// nothing here imports an adapter.
//
//   backend ─┬─ org snapshots, user cache
//            ├─ call-log queue (+ worker) ─┐
//            ├─ CRM connectors ────────────┼─ call events (the providers' sink) ─ provider runtime
//            └─ figures, trial progress ───┘                                        │
//   policy, router ───────────────────────────────────────────── dispatcher ◄───────┘
//   directory, CRM, trials, housekeeping services ◄─ dispatcher ─ HTTP app

import pino, { type Logger } from 'pino';
import { ApiKeyVerifier } from './auth/api-keys.js';
import { OrgService } from './auth/org-service.js';
import { CredentialService } from './auth/credential-service.js';
import { CallEvents, type CallObserver } from './calls/call-events.js';
import { CallQueries } from './calls/call-queries.js';
import { CallUpdates } from './calls/call-updates.js';
import { Recordings } from './calls/recordings.js';
import { RecordingLinks, recordingLinkKey } from './calls/recording-links.js';
import { Dispatcher } from './calls/dispatch.js';
import { Reconciler } from './calls/reconciler.js';
import { WebhookIngress } from './calls/webhook-ingress.js';
import type { Config } from './config/config.js';
import type { CrmKindDefinition } from './crm/adapter.js';
import { CRM_SETTING, CrmConnectors } from './crm/connectors.js';
import { CrmService } from './crm/crm-service.js';
import { DirectoryService } from './directory/directory-service.js';
import { OrgConfigCache, UserCache } from './directory/org-config.js';
import { Housekeeper } from './housekeeping/housekeeper.js';
import { buildApp, type BuiltApp } from './http/app.js';
import type { AppDeps, ReadinessCheck } from './http/deps.js';
import { callLogQueue, startCallLogWorker } from './jobs/pipeline.js';
import { CostService } from './costs/cost-service.js';
import { DncService } from './policy/dnc.js';
import { Metrics } from './metrics/metrics.js';
import { PerfService } from './perf/perf-service.js';
import { PerfRecorder } from './perf/recorder.js';
import { PolicyService } from './policy/policy-service.js';
import type { ProviderKindDefinition } from './providers/adapter.js';
import { InstanceHeartbeat } from './providers/instances.js';
import { Prober } from './providers/prober.js';
import { ProviderRuntime } from './providers/runtime.js';
import { ProviderWarmer } from './providers/warmer.js';
import { Router } from './routing/router.js';
import { createBackend, type Backend } from './store/backend.js';
import type { CallLogQueue, TrialQueue } from './store/queues/port.js';
import { runTrialPart, type TrialRunnerDeps } from './trials/trial-runner.js';
import { trialObserver } from './trials/trial-observer.js';
import { TrialService } from './trials/trial-service.js';
import { CallWaiters } from './trials/waiters.js';

export interface GatewayOptions {
  config: Config;
  providerKinds: ProviderKindDefinition[];
  crmKinds?: CrmKindDefinition[];
  logger?: Logger;
  /** prefix of every Redis key (tests isolate instances with a random one; one deployment shares it) */
  keyPrefix?: string;
  /** watchers of every call, beside the built-in ones (tests) */
  observers?: CallObserver[];
  /** the time calling hours and cost windows are computed at (tests inject it) */
  clock?: () => number;
  /** trial runs' timing (tests shorten it) */
  trialRunner?: Pick<TrialRunnerDeps, 'abandonAfterMs' | 'pollMs'>;
}

export interface GatewayParts {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  backend: Backend;
  providers: ProviderRuntime;
  dispatcher: Dispatcher;
  callEvents: CallEvents;
  configs: OrgConfigCache;
  policy: PolicyService;
  router: Router;
  callLog: CallLogQueue;
  reconciler: Reconciler;
  prober: Prober;
}

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'dialgate' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-twilio-signature"]', 'req.headers["verification-token"]', '*.apiKey', '*.token', '*.authToken', '*.clientSecret', '*.jwt', '*.refreshToken', '*.secret', '*.password'],
      censor: '[redacted]',
    },
    serializers: {
      req(req: { method: string; url: string; id: string; ip?: string }) {
        // query strings carry access tokens (browser WebSockets, recording links): never log them
        return { method: req.method, url: req.url.replace(/([?&](?:access_token|token)=)[^&]*/g, '$1[redacted]'), reqId: req.id };
      },
    },
  });
}

/** The base URL providers reach: PUBLIC_URL, else the address this instance listens on. */
class PublicUrl {
  listening?: string;
  constructor(private readonly config: Config) {}
  get(): string {
    return this.config.publicUrl ?? this.listening ?? `http://127.0.0.1:${this.config.port}`;
  }
}

export class Gateway {
  private built?: BuiltApp;
  private closing?: Promise<void>;
  private listeningUrl?: string;

  constructor(
    readonly parts: GatewayParts,
    private readonly deps: AppDeps,
    private readonly publicUrlOf: PublicUrl,
    private readonly stoppables: { trialQueue: TrialQueue; housekeeper: Housekeeper; heartbeat: InstanceHeartbeat; warmer: ProviderWarmer },
  ) {}

  /** Settles after this instance's first housekeeping round (probes included): tests that set a provider's health by hand wait for it. */
  housekept(): Promise<void> {
    return this.stoppables.housekeeper.firstRound;
  }

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
    this.publicUrlOf.listening = this.listeningUrl;
    return this.listeningUrl;
  }

  get url(): string {
    if (!this.listeningUrl) throw new Error('gateway is not listening');
    return this.listeningUrl;
  }

  publicUrl(): string {
    return this.publicUrlOf.get();
  }

  /** From now on /readyz answers 503 draining (a load balancer stops sending new work). */
  startDraining(): void {
    this.built?.startDraining();
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
   * Graceful stop: /readyz says draining, new connections and requests are refused (503),
   * in-flight ones finish, then sockets, trial runs, queue, adapters and backend close — bounded
   * by shutdownTimeoutMs. drainGraceMs (the process sets it on SIGTERM): first keep answering on
   * open connections for up to that long.
   */
  close(opts: { drainGraceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      const { logger, config, backend, providers, callLog } = this.parts;
      this.startDraining();
      const timer = setTimeout(() => {
        logger.error('graceful shutdown timed out; closing connections');
        this.built?.app.server.closeAllConnections?.();
      }, Math.max(100, config.shutdownTimeoutMs - 500));
      timer.unref();
      const deadline = Date.now() + config.shutdownTimeoutMs - 1000;
      // each step after the HTTP drain is bounded: with Redis unreachable, queue and client
      // closes wait for a connection that may never come back
      const bounded = async (name: string, p: Promise<unknown> | undefined, maxMs = 3000) => {
        let t: NodeJS.Timeout | undefined;
        const left = Math.max(200, Math.min(maxMs, deadline - Date.now()));
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
        await bounded('housekeeping', this.stoppables.housekeeper.stop());
        await bounded('always-on providers', this.stoppables.warmer.stop(), 1000);
        // after the in-flight work: other instances tell this one's calls from lost ones by it
        await bounded('heartbeat', this.stoppables.heartbeat.stop(), 1000);
        // with the backend unreachable, queues cannot close gracefully (their connections never
        // come back): give them a moment, not the full bound
        const queueMs = (await backend.ready()).ok ? 3000 : 300;
        // trial runs first: interrupted ones hang up their calls while the adapters are alive
        await bounded('trial runs', this.stoppables.trialQueue.close(), queueMs);
        await bounded('call-log queue', callLog.close(), queueMs);
        await bounded('providers', providers.closeAll());
        await bounded('provider kinds', providers.shutdownKinds());
        await bounded('backend', backend.close());
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
  const crmKinds = opts.crmKinds ?? [];
  const backend = await createBackend(config.backend, { logger, keyPrefix: opts.keyPrefix, role: 'gateway' });
  if (!(await backend.whenConnected(3000))) logger.error('the backend is not reachable yet; answering 503 until it is (see /readyz)');
  const publicUrl = new PublicUrl(config);

  const configs = new OrgConfigCache(backend.directory);
  const users = new UserCache();
  const crm = new CrmConnectors({
    kinds: crmKinds,
    // the CRM config rides on the org snapshot: screen pops and live notifications cost no read
    configOf: async (orgId) => (await configs.get(orgId)).setting<Record<string, unknown>>(CRM_SETTING),
    shared: backend.shared,
    logger,
  });
  const callLog = callLogQueue(backend, { logger, registry: metrics.registry });
  if (config.inProcessWorker) startCallLogWorker(callLog, backend, crm, { logger, registry: metrics.registry, concurrency: config.workerConcurrency, providerKinds: opts.providerKinds });

  // changes beside the status (wrap-up, recordings, the pop's match) and the recording links
  const callUpdates = new CallUpdates({ calls: backend.calls, callLog, logger, wrapupSec: config.wrapupSec });
  const recordingLinks = new RecordingLinks(recordingLinkKey(config.adminToken), config.recordingLinkTtlSec, () => publicUrl.get());

  // who watches every call: live figures, trial progress, the CRM's live notifications
  const waiters = new CallWaiters();
  const recorder = new PerfRecorder(backend.perf, metrics.registry, backend.health, logger);
  const crmNotify: CallObserver = {
    dialed() {},
    transitioned(call) {
      if (!call.trial) void crm.notify(call.orgId, call, () => (call.userId ? backend.directory.getUser(call.orgId, call.userId) : Promise.resolve(null)));
    },
  };
  const callEvents = new CallEvents({
    calls: backend.calls,
    directory: backend.directory,
    events: backend.events,
    metrics,
    logger,
    callLog,
    observers: [crmNotify, recorder, trialObserver(backend.trials, waiters, logger), ...(opts.observers ?? [])],
    matcher: (orgId, call) => {
      const number = call.direction === 'outbound' ? call.to : call.from;
      return number ? crm.matchAll(orgId, number, call.id, 1500) : Promise.resolve(null);
    },
    updates: callUpdates,
    mediaLink: (orgId, callId, kind) => recordingLinks.url(orgId, callId, kind),
  });
  const heartbeat = new InstanceHeartbeat(backend.shared);
  heartbeat.start();
  const providers = new ProviderRuntime({
    instances: heartbeat,
    kinds: opts.providerKinds,
    shared: backend.shared,
    logger,
    metrics,
    publicUrl: () => publicUrl.get(),
    sinkFor: (p) => callEvents.sinkFor(p),
  });

  const policy = new PolicyService({ settings: backend.settings, limits: backend.limits, audit: backend.audit, metrics, clock: opts.clock });
  const router = new Router(providers, policy, backend.settings, backend.health, backend.compliance);
  const dispatcher = new Dispatcher({
    calls: backend.calls,
    directory: backend.directory,
    health: backend.health,
    configs,
    users,
    policy,
    router,
    providers,
    events: callEvents,
    metrics,
    logger,
  });

  const reconciler = new Reconciler({
    calls: backend.calls,
    configs,
    providers,
    events: callEvents,
    logger,
    metrics,
    afterMs: config.reconcileAfterSec * 1000,
    maxCallMs: config.maxCallSec * 1000,
  });
  const prober = new Prober({ configs, providers, health: backend.health, metrics, logger, track: (p) => recorder.track(p), perf: backend.perf });

  const trialRunDeps: TrialRunnerDeps = { calls: backend.calls, configs, dispatcher, reconciler, events: callEvents, trials: backend.trials, perf: backend.perf, waiters, logger, ...opts.trialRunner };
  const trialQueue = backend.queues.trials((trialId, orgId, providerId, signal) => runTrialPart(trialRunDeps, trialId, orgId, providerId, signal), { logger });
  // stuck calls and provider probes ride on the housekeeping round: one instance at a time
  const housekeeper = new Housekeeper(backend, callLog, logger, {
    everyMs: config.reconcileEverySec * 1000,
    tasks: [(orgId) => prober.org(orgId), async (orgId) => void (await reconciler.org(orgId))],
  });
  housekeeper.start();
  // SIP providers take inbound calls over their own drachtio connections: every instance opens them
  const warmer = new ProviderWarmer({ orgs: backend.orgs, directory: backend.directory, providers, logger, everyMs: config.reconcileEverySec * 1000 });
  warmer.start();

  const parts: GatewayParts = { config, logger, metrics, backend, providers, dispatcher, callEvents, configs, policy, router, callLog, reconciler, prober };
  const readiness: ReadinessCheck[] = [
    { name: 'backend', check: () => backend.ready() },
    // kinds that share connections across providers (SIP's drachtio links) report them here
    ...opts.providerKinds.filter((k) => k.readiness).map((k) => ({ name: `provider:${k.kind}`, check: async () => k.readiness!() })),
  ];
  const deps: AppDeps = {
    config,
    logger,
    metrics,
    keys: new ApiKeyVerifier(backend.orgs, backend.directory),
    orgs: new OrgService(backend.orgs, backend.audit),
    credentials: new CredentialService({ orgs: backend.orgs, directory: backend.directory, audit: backend.audit }),
    directory: new DirectoryService({ directory: backend.directory, health: backend.health, providers, logger, audit: backend.audit, policy, configs, users, settings: backend.settings }),
    dispatcher,
    reconciler,
    calls: new CallQueries(backend.calls),
    callUpdates,
    recordings: new Recordings({ links: recordingLinks, calls: backend.calls, configs, providers }),
    providerKinds: opts.providerKinds.map((k) => ({ kind: k.kind, name: k.displayName ?? k.kind, capabilities: k.capabilities ?? { recording: false, voicemail: false, inbound: false } })),
    providers,
    events: backend.events,
    webhooks: new WebhookIngress(configs, providers, metrics),
    policy,
    router,
    configs,
    audit: backend.audit,
    crm: new CrmService({ kinds: crmKinds, settings: backend.settings, directory: backend.directory, audit: backend.audit, failed: callLog, dispatcher }),
    perf: new PerfService(configs, backend.perf),
    trials: new TrialService({ configs, trials: backend.trials, perf: backend.perf, policy, audit: backend.audit, queue: trialQueue, costs: backend.costs }),
    costs: new CostService(backend.costs, configs, opts.clock),
    dnc: new DncService(backend.compliance),
    readiness,
    publicUrl: () => publicUrl.get(),
  };
  const gateway = new Gateway(parts, deps, publicUrl, { trialQueue, housekeeper, heartbeat, warmer });
  await gateway.build();
  return gateway;
}
