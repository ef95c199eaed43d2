// Starts a real gateway in-process for end-to-end tests: real HTTP on 127.0.0.1, on a real Redis
// or Redis Cluster (the throwaway ones from `npm test`, isolated by a random key prefix) or the
// memory backend.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import WebSocket from 'ws';
import { crmKinds, providerKinds } from '../../adapters/registry.js';
import { loadConfig } from '../../src/config/config.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import type { ProviderKindDefinition } from '../../src/providers/adapter.js';
import { testClusterNodes, testRedisUrl } from './redis.js';

export type StoreKind = 'redis' | 'memory' | 'cluster';

/** The environment that points a gateway (or a worker) at one of the test backends. */
export function backendEnv(kind: StoreKind): Record<string, string> {
  if (kind === 'redis') return { REDIS_URL: testRedisUrl() };
  if (kind === 'cluster') return { REDIS_CLUSTER_NODES: testClusterNodes().map((n) => `${n.host}:${n.port}`).join(',') };
  return {};
}

/** Limits high enough that functional tests never meet them. */
export const RELAXED_LIMITS = { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000, liveCallsPerUser: 1000 };

export interface TestGateway {
  gw: Gateway;
  url: string;
  adminToken: string;
  keyPrefix: string;
  /**
   * Creates an org and returns its id and API key. Its dial-policy LIMITS are relaxed by default
   * (functional tests place many calls per user); pass {limits: 'default'} to keep the
   * production defaults (10/min per user, one live call per user...). Countries and number types
   * keep their defaults either way.
   */
  createOrg(name?: string, opts?: { limits?: 'relaxed' | 'default' }): Promise<{ id: string; apiKey: string }>;
  /** JSON request helper against this gateway. */
  req(method: string, path: string, opts?: ReqOpts): Promise<Res>;
  events(apiKey: string, userId?: string): Promise<EventClient>;
  close(): Promise<void>;
}

export interface ReqOpts {
  key?: string;
  body?: unknown;
  /** raw body string; sent as is */
  raw?: string;
  headers?: Record<string, string>;
}

export interface Res {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function httpJson(base: string, method: string, path: string, opts: ReqOpts = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await fetch(base + path, { method, headers, body });
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, body: json, text };
}

export interface EventClient {
  ws: WebSocket;
  messages: any[];
  /** Resolves with the first message (already received or future) matching pred. */
  next(pred: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): void;
}

export function connectEvents(base: string, apiKey: string, userId?: string): Promise<EventClient> {
  const url = base.replace(/^http/, 'ws') + '/v1/events' + (userId ? `?userId=${encodeURIComponent(userId)}` : '');
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${apiKey}` } });
  const messages: any[] = [];
  const waiters: Array<{ pred: (m: any) => boolean; resolve: (m: any) => void }> = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`events socket refused: ${res.statusCode}`)));
    // the server's hello proves the subscription is in place
    const onHello = (data: WebSocket.RawData) => {
      if (JSON.parse(String(data)).type !== 'hello') return;
      ws.off('message', onHello);
      resolve({
        ws,
        messages,
        next(pred, timeoutMs = 5000) {
          const found = messages.find(pred);
          if (found) return Promise.resolve(found);
          return new Promise((res, rej) => {
            const w = { pred, resolve: (m: any) => (clearTimeout(t), res(m)) };
            const t = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              rej(new Error(`no matching event within ${timeoutMs} ms; got: ${JSON.stringify(messages.map((x) => [x.type, x.call?.status]))}`));
            }, timeoutMs);
            waiters.push(w);
          });
        },
        close: () => ws.close(),
      });
    };
    ws.on('message', onHello);
  });
}

export interface StartOptions {
  store?: StoreKind;
  env?: Record<string, string>;
  providerKinds?: ProviderKindDefinition[];
  /** share a key prefix with another instance (two gateways, one deployment) */
  keyPrefix?: string;
  publicUrl?: string;
  observers?: GatewayOptions['observers'];
  trialRunner?: GatewayOptions['trialRunner'];
  clock?: GatewayOptions['clock'];
}

export async function startGateway(opts: StartOptions = {}): Promise<TestGateway> {
  const adminToken = 'test-operator-token-' + randomBytes(8).toString('hex');
  const storeKind = opts.store ?? 'redis';
  const env: Record<string, string> = {
    DIALGATE_ADMIN_TOKEN: adminToken,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    HOST: '127.0.0.1',
    ...backendEnv(storeKind),

    ...(opts.publicUrl ? { PUBLIC_URL: opts.publicUrl } : {}),
    ...(opts.env ?? {}),
  };
  const keyPrefix = opts.keyPrefix ?? `t${randomBytes(4).toString('hex')}:`;
  // a queue tag per deployment: tests sharing one Redis never take each other's jobs, and
  // instances of one deployment (same key prefix) share their queues
  if (!opts.env?.DIALGATE_QUEUE_PREFIX) env.DIALGATE_QUEUE_PREFIX = `{tq${keyPrefix.replace(/[^A-Za-z0-9]/g, '')}}`;
  const config = loadConfig(env);
  const gw = await createGateway({
    config,
    providerKinds: opts.providerKinds ?? providerKinds,
    crmKinds,
    logger: pino({ level: config.logLevel }),
    keyPrefix,
    observers: opts.observers,
    trialRunner: opts.trialRunner,
    clock: opts.clock,
  });
  const url = await gw.listen(0, '127.0.0.1');
  // the gateway's first housekeeping round (1 s after start) probes every provider, which moves
  // their breakers: tests begin once it is over, so it never lands between a test's steps
  // (awaited once listening: the round's timer alone does not keep the process alive)
  await gw.housekept();
  const req = (method: string, path: string, o?: ReqOpts) => httpJson(url, method, path, o);
  return {
    gw,
    url,
    adminToken,
    keyPrefix,
    async createOrg(name = 'Test org', o: { limits?: 'relaxed' | 'default' } = {}) {
      const r = await req('POST', '/v1/orgs', { key: adminToken, body: { name } });
      if (r.status !== 201) throw new Error(`createOrg failed: ${r.status} ${r.text}`);
      if ((o.limits ?? 'relaxed') === 'relaxed') {
        const p = await req('PUT', '/v1/dial-policy', { key: r.body.apiKey, body: { limits: RELAXED_LIMITS } });
        if (p.status !== 200) throw new Error(`relaxing the dial limits failed: ${p.status} ${p.text}`);
      }
      return { id: r.body.id, apiKey: r.body.apiKey };
    },
    req,
    events: (apiKey, userId) => connectEvents(url, apiKey, userId),
    close: () => gw.close(),
  };
}

/** Polls until fn returns a truthy value (or throws after timeoutMs). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
