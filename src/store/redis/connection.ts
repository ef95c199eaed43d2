// Connections to one Redis or a Redis Cluster, as the backend's ports use them: one command
// client (auto-pipelined, failing fast while Redis is away), one subscriber for the org event
// channels (sharded pub/sub), and BullMQ's connections. This file and ../backend.ts are the
// only places that build a client.

import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Readiness, RedisSettings } from '../port.js';
import { LuaScript } from './lua-script.js';
import { luaScripts, type ScriptName } from './scripts.js';

export type Client = Redis | Cluster;

export type ConnectionRole = 'commands' | 'subscriber' | 'queue';

/**
 * How long a command may wait on a connection before it fails (then 503): an outage must not
 * hold a click for longer than a CRM button would wait; no hot-path command takes near it.
 */
const COMMAND_TIMEOUT_MS = 2000;

function redisOptions(role: ConnectionRole, name: string): RedisOptions {
  const common: RedisOptions = {
    connectionName: `dialgate-${name}`,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    // a replica promoted under us answers READONLY: reconnect (DNS/sentinel now point at the
    // primary) and resend. Not on every error reply: NOSCRIPT, a Lua error or WRONGTYPE say
    // nothing about the connection, and a reconnect would fail every command in flight with it.
    reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 2 : false),
  };
  if (role === 'commands') {
    return {
      ...common,
      // commands issued in the same tick (a click makes several) share one socket write
      enableAutoPipelining: true,
      maxRetriesPerRequest: 1,
      commandTimeout: COMMAND_TIMEOUT_MS,
    };
  }
  // BullMQ's blocking commands and the subscriber must survive reconnects
  return { ...common, maxRetriesPerRequest: null };
}

function clusterOptions(settings: RedisSettings, role: ConnectionRole, name: string): ClusterOptions {
  const base = redisOptions(role, name);
  const { enableAutoPipelining: _batched, retryStrategy: _single, ...perNode } = base;
  return {
    // No auto-pipelining on a cluster: ioredis retries a redirected or refused (TRYAGAIN) command
    // of an auto-pipelined batch only when every command of the batch failed alike and the others
    // were read-only; a script meeting its slot half migrated beside a command that succeeded came
    // back to the caller as "TRYAGAIN" / "ASK" (seen in the store contract's reshard case). Sent
    // one by one, each command is followed and retried on its own.
    enableAutoPipelining: false,
    scaleReads: 'master',
    // a slot moving (MOVED/ASK) or a multi-key script meeting a slot half migrated (TRYAGAIN):
    // follow and retry; the slot map is refreshed on every MOVED
    maxRedirections: 32,
    retryDelayOnMoved: 0,
    retryDelayOnTryAgain: 50,
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    slotsRefreshTimeout: 2000,
    slotsRefreshInterval: 5000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    // a master that restarts comes back on the same address with the same slots
    clusterNodeRetryStrategy: (times) => Math.min(100 * times, 1000),
    shardedSubscribers: role === 'subscriber',
    // fail fast while the cluster is away, as on one Redis: without this a command issued while
    // the client is not ready (every node unreachable) waits in the offline queue forever. A
    // slot moving or a failover is still followed (MOVED, ASK, TRYAGAIN, CLUSTERDOWN retries).
    ...(role === 'commands' ? { enableOfflineQueue: false } : {}),
    redisOptions: {
      ...perNode,
      ...(settings.username ? { username: settings.username } : {}),
      ...(settings.password ? { password: settings.password } : {}),
      ...(settings.tls ? { tls: {} } : {}),
    },
    ...(settings.tls ? { dnsLookup: (address: string, cb: (err: Error | null, address: string) => void) => cb(null, address) } : {}),
  };
}

export function connect(settings: RedisSettings, role: ConnectionRole, name: string): Client {
  if (settings.clusterNodes && settings.clusterNodes.length > 0) {
    const nodes: ClusterNode[] = settings.clusterNodes.map((n) => ({ host: n.host, port: n.port }));
    return new Cluster(nodes, clusterOptions(settings, role, name));
  }
  if (!settings.url) throw new Error('Redis settings need a URL or cluster nodes');
  return new Redis(settings.url, {
    ...redisOptions(role, name),
    // fail fast while Redis is away: callers get 503 at once instead of hanging on a queue
    ...(role === 'commands' ? { enableOfflineQueue: false } : {}),
  });
}

/** The backend's shared connection: the command client and the named Lua scripts. */
export class RedisConn {
  readonly client: Client;
  readonly cluster: boolean;
  private readonly scripts: Map<ScriptName, LuaScript>;
  private readonly extra = new Set<Client>();

  constructor(
    readonly settings: RedisSettings,
    readonly logger: Logger,
    readonly role: string,
  ) {
    this.cluster = Boolean(settings.clusterNodes?.length);
    this.client = connect(settings, 'commands', role);
    // commands reject with the error themselves; without a listener ioredis prints every failed
    // reconnect as "[ioredis] Unhandled error event" with a stack
    let lastLog = 0;
    this.client.on('error', (e: Error) => {
      if (Date.now() - lastLog < 5000) return;
      lastLog = Date.now();
      logger.warn({ err: e.message }, 'redis connection error');
    });
    this.scripts = luaScripts();
  }

  /** Runs a named Lua script. */
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.scripts.get(name)!.run(this.client, keys, args);
  }

  /** A new connection of this backend (closed with it). */
  open(role: ConnectionRole, name: string): Client {
    const c = connect(this.settings, role, `${this.role}-${name}`);
    c.on('error', () => {});
    this.extra.add(c);
    return c;
  }

  whenConnected(ms: number): Promise<boolean> {
    const c = this.client;
    // a cluster client takes commands once 'ready' (it fails them fast before: no offline queue)
    const isUp = () => c.status === 'ready';
    if (isUp()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        c.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const t = setTimeout(() => done(isUp()), ms);
      c.on('ready', onReady);
    });
  }

  /** Ready when a real command answers (PING) and, on a cluster, every master says the cluster is ok. */
  async ready(): Promise<Readiness> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Readiness>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, detail: 'redis did not answer within 1 s' }), 1000);
      timer.unref();
    });
    const check = (async (): Promise<Readiness> => {
      if (!this.cluster) {
        return (await this.client.ping()) === 'PONG' ? { ok: true } : { ok: false, detail: 'redis did not answer PING' };
      }
      // not before the client is ready: probing the startup nodes of a cluster client still
      // connecting left it stuck in "connecting" (and every command waiting on it) for good
      if (this.client.status !== 'ready') return { ok: false, detail: `not connected to the Redis Cluster (${this.client.status})` };
      const masters = (this.client as Cluster).nodes('master');
      if (masters.length === 0) return { ok: false, detail: 'no Redis Cluster master reachable' };
      const infos = await Promise.all(masters.map((m) => m.cluster('INFO') as Promise<string>));
      const bad = infos.findIndex((i) => !/cluster_state:ok/.test(i));
      if (bad >= 0) return { ok: false, detail: `Redis Cluster state is not ok on ${masters[bad].options.host}:${masters[bad].options.port}` };
      return { ok: true };
    })().catch((e: Error) => ({ ok: false, detail: `redis unreachable (${e.message.slice(0, 120)})` }));
    try {
      return await Promise.race([check, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    for (const c of this.extra) c.disconnect();
    this.extra.clear();
    const c = this.client;
    // QUIT flushes pending replies; a client that is not connected would only queue it forever
    if (c.status !== 'ready' && c.status !== 'connect') {
      c.disconnect();
      return;
    }
    try {
      await c.quit();
    } catch {
      c.disconnect();
    }
  }
}
