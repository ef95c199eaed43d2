// One drachtio-srf connection per drachtio-server (host:port + secret), shared by every sip
// provider that uses that server and closed when the last one is released.
//
// Lifecycle: each connection attempt gets a fresh Srf with srf's own reconnect disabled
// (reconnect.maxAttempts = 1); we reconnect ourselves with capped exponential backoff. A dropped
// connection orphans its dialogs anyway (drachtio-server routes in-dialog messages to the client
// that created the dialog, and srf's Dialogs keep the dead socket), so a fresh Srf per attempt
// loses nothing and lets us tear a connection down completely, even mid-connect.
//
// Silent loss: srf sends `ping` every pingInterval when enablePing is set, but never checks that
// the pong came back, so a peer that vanished without a FIN/RST would go unnoticed until TCP gives
// up (many minutes). We watch srf's wire protocol ourselves: a ping with no message received
// within pongTimeoutMs marks the connection lost and forces a reconnect.

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SrfLike, SrfRequest, SrfResponse, WireProtocolLike } from './srf-types.js';

const require = createRequire(import.meta.url);

export interface DrachtioTarget {
  host: string;
  port: number;
  secret: string;
}

export interface PoolOptions {
  /** srf ping interval (srf accepts 5000–300000 ms) */
  pingIntervalMs?: number;
  /** a ping with nothing received for this long means the connection is silently gone */
  pongTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** TCP connect + authenticate must finish within this */
  connectTimeoutMs?: number;
  logger?: Logger;
  /** for tests that want to wrap srf */
  srfFactory?: () => SrfLike;
}

/** Something that may take an inbound INVITE arriving on a connection (one per sip provider). */
export interface InviteListener {
  onInvite(req: SrfRequest, res: SrfResponse): void;
}

export interface ConnectionState {
  server: string;
  connected: boolean;
  since: string;
  lastError?: string;
  users: number;
  reconnects: number;
}

const DEFAULTS = {
  pingIntervalMs: 10_000,
  pongTimeoutMs: 5_000,
  reconnectMinMs: 250,
  reconnectMaxMs: 10_000,
  connectTimeoutMs: 10_000,
};

function defaultSrf(): SrfLike {
  const Srf = require('drachtio-srf') as new () => SrfLike;
  return new Srf();
}

interface Internals {
  wp?: WireProtocolLike & { closing?: boolean; reconnectVars?: { retryTimer?: NodeJS.Timeout | null } };
  mapServer?: Map<Socket, unknown>;
}

function internals(srf: SrfLike): Internals {
  return (srf.app?.client ?? {}) as Internals;
}

/**
 * Events: 'up' (srf) once authenticated; 'down' (srf, reason) when that srf's connection is lost.
 * Listeners of 'down' must treat every dialog created on that srf as gone.
 */
export class SipConnection extends EventEmitter {
  readonly server: string;
  connected = false;
  since = new Date().toISOString();
  lastError?: string;
  reconnects = 0;
  users = 0;
  private current: SrfLike | null = null;
  private ready: SrfLike | null = null;
  private sockets = new Set<Socket>();
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private pongTimer: NodeJS.Timeout | null = null;
  private pingOutstandingSince: number | null = null;
  private readonly listeners_ = new Set<InviteListener>();
  private readonly opts: Required<Omit<PoolOptions, 'logger' | 'srfFactory'>>;
  private readonly log?: Logger;

  constructor(
    private readonly target: DrachtioTarget,
    opts: PoolOptions,
    private readonly factory: () => SrfLike,
  ) {
    super();
    this.server = `${target.host}:${target.port}`;
    this.opts = {
      pingIntervalMs: opts.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
      pongTimeoutMs: opts.pongTimeoutMs ?? DEFAULTS.pongTimeoutMs,
      reconnectMinMs: opts.reconnectMinMs ?? DEFAULTS.reconnectMinMs,
      reconnectMaxMs: opts.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    };
    this.log = opts.logger?.child({ drachtio: this.server });
    // 'down' listeners are per provider; more than 10 providers on one server is legitimate.
    this.setMaxListeners(0);
  }

  /** The connected Srf, or null while (re)connecting. */
  get srf(): SrfLike | null {
    return this.ready;
  }

  addInviteListener(l: InviteListener): void {
    this.listeners_.add(l);
  }

  removeInviteListener(l: InviteListener): void {
    this.listeners_.delete(l);
  }

  inviteListeners(): InviteListener[] {
    return [...this.listeners_];
  }

  /** Resolves when connected, or rejects after timeoutMs. */
  waitConnected(timeoutMs: number): Promise<SrfLike> {
    if (this.ready) return Promise.resolve(this.ready);
    return new Promise((resolve, reject) => {
      const onUp = (srf: SrfLike) => {
        clearTimeout(t);
        resolve(srf);
      };
      const t = setTimeout(() => {
        this.off('up', onUp);
        reject(new Error(`drachtio-server ${this.server} not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.once('up', onUp);
    });
  }

  state(): ConnectionState {
    return {
      server: this.server,
      connected: this.connected,
      since: this.since,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      users: this.users,
      reconnects: this.reconnects,
    };
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const srf = this.current;
    if (srf) this.drop(srf, 'closed', false);
  }

  private setState(connected: boolean, error?: string): void {
    if (this.connected !== connected) this.since = new Date().toISOString();
    this.connected = connected;
    if (error) this.lastError = error;
  }

  private connect(): void {
    if (this.stopped) return;
    const srf = this.factory();
    this.current = srf;
    // srf re-emits socket errors; without a listener they would throw.
    srf.on('error', (err: Error) => {
      if (this.current === srf) this.lastError = `connection error: ${err?.message ?? String(err)}`;
    });
    srf.on('connect', (err: Error | null) => {
      if (this.current !== srf || this.stopped) {
        this.teardown(srf);
        return;
      }
      if (err) {
        this.drop(srf, 'authentication to drachtio-server failed', true);
        return;
      }
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.attempt = 0;
      this.ready = srf;
      this.setState(true);
      this.log?.info('connected to drachtio-server');
      this.emit('up', srf);
    });
    srf.on('close', () => {
      if (this.current === srf) this.drop(srf, 'connection to drachtio-server closed', true);
    });
    srf.invite((req, res) => this.dispatchInvite(req, res));
    srf.connect({
      host: this.target.host,
      port: this.target.port,
      secret: this.target.secret,
      enablePing: true,
      pingInterval: this.opts.pingIntervalMs,
      reconnect: { maxAttempts: 1 },
    });
    this.watch(srf);
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.current === srf && !this.ready) this.drop(srf, 'connect to drachtio-server timed out', true);
    }, this.opts.connectTimeoutMs);
  }

  private watch(srf: SrfLike): void {
    const wp = internals(srf).wp;
    if (!wp) {
      this.log?.warn('drachtio-srf internals changed: silent connection loss detection disabled');
      return;
    }
    wp.on('connect', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      if (this.current !== srf || this.stopped) socket.destroy();
    });
    wp.on('msg', () => {
      this.pingOutstandingSince = null;
    });
    wp.on('ping', () => {
      if (this.current !== srf) return;
      this.pingOutstandingSince ??= Date.now();
      if (this.pongTimer) return;
      this.pongTimer = setTimeout(() => {
        this.pongTimer = null;
        const since = this.pingOutstandingSince;
        if (this.current === srf && since !== null && Date.now() - since >= this.opts.pongTimeoutMs) {
          this.drop(srf, 'drachtio-server stopped answering pings (silent connection loss)', true);
        }
      }, this.opts.pongTimeoutMs);
    });
  }

  /** Ends one Srf's connection; `retry` schedules a new attempt with backoff. */
  private drop(srf: SrfLike, reason: string, retry: boolean): void {
    if (this.current !== srf) return;
    const wasUp = this.ready === srf;
    this.current = null;
    this.ready = null;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pongTimer = null;
    this.pingOutstandingSince = null;
    this.setState(false, reason === 'closed' ? undefined : reason);
    this.teardown(srf);
    if (wasUp) {
      if (reason !== 'closed') this.log?.warn({ reason }, 'lost drachtio-server connection');
      this.emit('down', srf, reason);
    }
    if (retry && !this.stopped) this.scheduleReconnect();
  }

  private teardown(srf: SrfLike): void {
    const { wp, mapServer } = internals(srf);
    if (wp) {
      // keeps srf from reconnecting on its own
      wp.closing = true;
      if (wp.reconnectVars?.retryTimer) clearTimeout(wp.reconnectVars.retryTimer);
    }
    for (const s of mapServer?.keys() ?? []) s.destroy();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer) return;
    const base = Math.min(this.opts.reconnectMaxMs, this.opts.reconnectMinMs * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt = Math.min(this.attempt + 1, 30);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.reconnects++;
      this.connect();
    }, delay);
  }

  private dispatchInvite(req: SrfRequest, res: SrfResponse): void {
    const first = this.listeners_.values().next().value;
    if (!first) {
      res.send(480, 'No Provider');
      return;
    }
    // Every listener shares one dispatcher (inbound.ts) that picks the provider; any listener can
    // run it, as it sees all of them through inviteListeners().
    first.onInvite(req, res);
  }
}

function keyOf(t: DrachtioTarget): string {
  const h = createHash('sha256').update(t.secret).digest('hex').slice(0, 16);
  return `${t.host}:${t.port}#${h}`;
}

export class SipConnectionPool {
  private readonly conns = new Map<string, SipConnection>();

  constructor(private readonly opts: PoolOptions = {}) {}

  acquire(target: DrachtioTarget, logger?: Logger): SipConnection {
    const key = keyOf(target);
    let c = this.conns.get(key);
    if (!c) {
      c = new SipConnection(target, { logger, ...this.opts }, this.opts.srfFactory ?? defaultSrf);
      this.conns.set(key, c);
      c.start();
    }
    c.users++;
    return c;
  }

  release(conn: SipConnection): void {
    conn.users = Math.max(0, conn.users - 1);
    if (conn.users > 0) return;
    for (const [k, c] of this.conns) if (c === conn) this.conns.delete(k);
    conn.stop();
  }

  connections(): SipConnection[] {
    return [...this.conns.values()];
  }

  /** For /readyz: every drachtio connection in use is up. */
  health(): { ok: boolean; detail: ConnectionState[] } {
    const detail = this.connections().map((c) => c.state());
    return { ok: detail.every((d) => d.connected), detail };
  }

  closeAll(): void {
    for (const c of this.conns.values()) c.stop();
    this.conns.clear();
  }
}

/** The pool the registered sip kind uses. */
export const defaultSipPool = new SipConnectionPool();

/** Readiness of the gateway's drachtio connections (ok when none is configured). */
export function sipConnectionsHealthy(): { ok: boolean; detail: ConnectionState[] } {
  return defaultSipPool.health();
}
