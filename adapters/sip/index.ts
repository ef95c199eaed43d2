// The "sip" provider kind: the gateway speaks SIP through drachtio-srf to a drachtio-server,
// which faces the organisation's own SIP trunk or PBX (PROTOCOLS.md §4).
//   outbound click-to-call: third-party call control (click-to-call.ts)
//   inbound: DID → user → B2BUA to the user's sipUri (inbound.ts)
//   health: drachtio connection state (connection-pool.ts) + trunk OPTIONS (trunk-health.ts)
// SIP has no webhooks: progress reaches the core through ctx.sink.status directly.

import type { Logger } from 'pino';
import type { Call } from '../../src/domain/types.js';
import type {
  CallReport,
  DialRequest,
  DialResult,
  InboundRoute,
  ProviderAdapter,
  ProviderContext,
  ProviderHealth,
  ProviderKindDefinition,
  WebhookReply,
} from '../../src/providers/adapter.js';
import { ProviderError } from '../../src/providers/adapter.js';
import { ClickToCallSession, TrialSession } from './click-to-call.js';
import { configSchema, parseConfig, secretFields, type SipConfig } from './config.js';
import { defaultSipPool, type InviteListener, type SipConnection, type SipConnectionPool } from './connection-pool.js';
import { InboundSession, dispatchInvite, type InboundProvider } from './inbound.js';
import { Reporter } from './reporter.js';
import { within, type CallSession, type SessionDeps } from './session.js';
import type { SrfLike, SrfRequest, SrfResponse } from './srf-types.js';
import { TrunkHealth } from './trunk-health.js';

export { sipConnectionsHealthy, defaultSipPool, SipConnectionPool } from './connection-pool.js';

const CLOSE_WAIT_MS = 5_000;
/** how long the owner of a dialog is remembered (longer than any call: DIALGATE_MAX_CALL_SEC ends it first) */
const DIALOG_OWNER_TTL_MS = 7 * 86_400_000;

export class SipAdapter implements ProviderAdapter, InviteListener, InboundProvider {
  readonly providerId: string;
  readonly cfg: SipConfig;
  readonly sink: ProviderContext['sink'];
  readonly defaultCountry?: string;
  readonly conn: SipConnection;
  readonly trunk: TrunkHealth;
  private readonly log: Logger;
  private readonly reporter: Reporter;
  private readonly sessions = new Map<string, CallSession>();
  private closed = false;

  constructor(
    private readonly ctx: ProviderContext,
    private readonly pool: SipConnectionPool,
  ) {
    this.cfg = parseConfig(ctx.provider.config);
    this.providerId = ctx.provider.id;
    this.sink = ctx.sink;
    const allow = ctx.provider.regions?.allow;
    if (allow?.length === 1) this.defaultCountry = allow[0];
    this.log = ctx.logger.child({ provider: ctx.provider.id, kind: 'sip' });
    this.reporter = new Reporter(ctx.sink, this.log);
    this.conn = pool.acquire(this.cfg.drachtio, ctx.logger);
    this.conn.addInviteListener(this);
    this.conn.on('down', this.onDown);
    this.trunk = new TrunkHealth(this.conn, this.cfg, this.log);
    this.trunk.start();
  }

  /** Calls in progress (for tests and leak checks). */
  activeCalls(): number {
    return this.sessions.size;
  }

  private readonly onDown = (srf: SrfLike, reason: string): void => {
    for (const s of [...this.sessions.values()]) if (s.srf === srf) s.connectionLost(reason);
  };

  private deps(srf: SrfLike, callId: string | undefined): SessionDeps {
    return {
      srf,
      cfg: this.cfg,
      log: this.log,
      report: (r) => void this.reporter.report({ ...r, ...(callId ? { callId } : {}) }),
      register: (s) => {
        this.sessions.set(s.providerCallId, s);
        // which instance holds the dialog: another instance's reconciler leaves it to a live one
        void this.ctx.shared.set(this.ownerKey(s.providerCallId), this.ctx.instances.id, DIALOG_OWNER_TTL_MS).catch(() => {});
      },
      unregister: (s) => {
        if (this.sessions.get(s.providerCallId) === s) this.sessions.delete(s.providerCallId);
        void this.ctx.shared.del(this.ownerKey(s.providerCallId)).catch(() => {});
      },
    };
  }

  async dial(req: DialRequest): Promise<DialResult> {
    if (this.closed) throw new ProviderError('provider_unavailable', 'sip provider is closing');
    const srf = this.conn.srf;
    if (!srf) {
      throw new ProviderError('provider_unavailable', `drachtio-server ${this.conn.server} is not connected`);
    }
    const deps = this.deps(srf, req.call.id);
    const session = req.user ? new ClickToCallSession(deps, req) : new TrialSession(deps, req);
    return session.start();
  }

  async hangUp(call: Call): Promise<void> {
    const s = call.providerCallId ? this.sessions.get(call.providerCallId) : undefined;
    if (!s) return;
    await s.hangUp();
  }

  private ownerKey(providerCallId: string): string {
    return `sip:${this.providerId}:dialog:${providerCallId}`;
  }

  /**
   * "The dialog on the connection": a SIP call lives on the drachtio connection of the instance
   * that set it up. Held here: still up; held by another live instance: left to it; else the
   * dialog is gone (its instance died, or it ended unreported).
   */
  async fetchStatus(call: Call): Promise<CallReport> {
    const pcid = call.providerCallId ?? '';
    if (this.sessions.has(pcid)) return { state: 'known', status: call.status };
    const owner = pcid ? await this.ctx.shared.get(this.ownerKey(pcid)) : null;
    if (owner && owner !== this.ctx.instances.id && (await this.ctx.instances.alive(owner))) return { state: 'known', status: call.status };
    return { state: 'unknown' };
  }

  async handleWebhook(): Promise<WebhookReply> {
    return { statusCode: 404, body: { error: { code: 'not_found', message: 'the sip provider takes no webhooks' } } };
  }

  async health(): Promise<ProviderHealth> {
    if (!this.conn.connected) {
      const why = this.conn.lastError ? `: ${this.conn.lastError}` : '';
      return { healthy: false, detail: `drachtio-server ${this.conn.server} not connected${why}` };
    }
    if (!this.trunk.trunkUp) {
      return {
        healthy: false,
        detail: `trunk not answering OPTIONS (${this.trunk.consecutiveFailures} consecutive failures, last: ${this.trunk.lastOutcome ?? 'none'})`,
      };
    }
    return { healthy: true, detail: `drachtio-server ${this.conn.server} connected; trunk ${this.trunk.probes ? 'answering OPTIONS' : 'not probed yet'}` };
  }

  onInvite(req: SrfRequest, res: SrfResponse): void {
    const providers = this.conn.inviteListeners().filter((l): l is SipAdapter => l instanceof SipAdapter);
    dispatchInvite(providers, req, res, this.log).catch((err) => {
      this.log.error({ err: (err as Error)?.message }, 'sip: inbound dispatch failed');
      if (!res.finalResponseSent) res.send(500);
    });
  }

  bridge(req: SrfRequest, res: SrfResponse, route: InboundRoute, canceled: () => boolean): void {
    const providerCallId = req.get('Call-ID') ?? '';
    const report = (status: 'canceled' | 'failed', cause: string) =>
      void this.reporter.report({ providerCallId, callId: route.call.id, status, cause });
    if (canceled()) {
      if (!res.finalResponseSent) res.send(487);
      report('canceled', 'caller hung up before answer');
      return;
    }
    const srf = this.conn.srf;
    const target = route.user.sipUri;
    if (!srf || !target) {
      res.send(480);
      report('failed', target ? 'drachtio connection lost' : 'the user has no sipUri');
      return;
    }
    new InboundSession(this.deps(srf, route.call.id), req, res, target).start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.trunk.stop();
    this.conn.removeInviteListener(this);
    // Calls die with the connection reference: end them cleanly rather than orphan their dialogs.
    await Promise.allSettled([...this.sessions.values()].map((s) => within(s.hangUp(), CLOSE_WAIT_MS, 'hang-up')));
    // A CANCEL ends its call only when the 487 comes back.
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while (this.sessions.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await within(this.reporter.drain(), CLOSE_WAIT_MS, 'reports').catch(() => undefined);
    this.conn.off('down', this.onDown);
    this.pool.release(this.conn);
  }
}

export function createSipKind(opts: { pool?: SipConnectionPool } = {}): ProviderKindDefinition {
  const pool = opts.pool ?? defaultSipPool;
  return {
    kind: 'sip',
    displayName: 'SIP trunk (drachtio)',
    // drachtio signals only: without a media server there is nothing to record and no voicemail to play
    capabilities: { recording: false, voicemail: false, inbound: true },
    // drachtio routes inbound INVITEs to connected apps: every instance connects at start-up
    alwaysOn: true,
    configSchema,
    secretFields,
    create: (ctx) => new SipAdapter(ctx, pool),
    canReach: (user) => Boolean(user.sipUri),
    readiness: () => {
      const h = pool.health();
      const down = h.detail.filter((c) => !c.connected);
      return h.ok ? { ok: true } : { ok: false, detail: `drachtio connection lost: ${down.map((c) => c.server).join(', ')}` };
    },
    shutdown: async () => pool.closeAll(),
    describe: (provider) => {
      const d = (provider.config as { drachtio?: { host?: string; port?: number }; trunk?: { uri?: string } }) ?? {};
      return { drachtioServer: `${d.drachtio?.host ?? '?'}:${d.drachtio?.port ?? '?'}`, trunkUri: d.trunk?.uri ?? null };
    },
  };
}

export const sipKind = createSipKind();
