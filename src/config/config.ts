// Configuration from the environment (names in DESIGN.md) over an optional JSON file
// (DIALGATE_CONFIG, e.g. config/dialgate.json). Validated once at start: a bad value stops start-up
// with one line that names the setting.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BackendConfig, RedisSettings } from '../store/backend.js';

export interface Config {
  port: number;
  host: string;
  /** the storage backend (only src/store/backend.ts looks inside: redis absent = local mode) */
  backend: BackendConfig;
  adminToken: string;
  /** true when the operator token was generated at start (local mode only) */
  adminTokenGenerated: boolean;
  /** base URL providers reach us on; undefined = derived from the listening address */
  publicUrl?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** run the call-log worker inside the gateway process */
  inProcessWorker: boolean;
  workerConcurrency: number;
  /** max request body in bytes */
  bodyLimit: number;
  shutdownTimeoutMs: number;
  /** housekeeping (and the stuck-call reconciler) runs this often */
  reconcileEverySec: number;
  /** a live call with no news for this long is checked with its provider */
  reconcileAfterSec: number;
  /** a call answered longer than this is hung up */
  maxCallSec: number;
  /** PATCH /v1/calls/{id} is accepted this long after the call ended */
  wrapupSec: number;
  /** a recording link works this long after it was made */
  recordingLinkTtlSec: number;
}

export class ConfigError extends Error {
  constructor(readonly setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

const FILE_KEYS: Record<string, string> = {
  port: 'PORT',
  host: 'HOST',
  redisUrl: 'REDIS_URL',
  redisClusterNodes: 'REDIS_CLUSTER_NODES',
  redisUsername: 'REDIS_USERNAME',
  redisPassword: 'REDIS_PASSWORD',
  redisTls: 'REDIS_TLS',
  publicUrl: 'PUBLIC_URL',
  logLevel: 'LOG_LEVEL',
  inProcessWorker: 'DIALGATE_IN_PROCESS_WORKER',
  workerConcurrency: 'WORKER_CONCURRENCY',
  bodyLimit: 'DIALGATE_BODY_LIMIT',
  shutdownTimeoutMs: 'DIALGATE_SHUTDOWN_TIMEOUT_MS',
  queuePrefix: 'DIALGATE_QUEUE_PREFIX',
  queueShards: 'DIALGATE_QUEUE_SHARDS',
  callRetentionSec: 'DIALGATE_CALL_RETENTION_SEC',
  reconcileEverySec: 'DIALGATE_RECONCILE_EVERY_SEC',
  reconcileAfterSec: 'DIALGATE_RECONCILE_AFTER_SEC',
  maxCallSec: 'DIALGATE_MAX_CALL_SEC',
  wrapupSec: 'DIALGATE_WRAPUP_SEC',
  recordingLinkTtlSec: 'DIALGATE_RECORDING_LINK_TTL_SEC',
};

function readFile(path: string): Source {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('DIALGATE_CONFIG', `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('DIALGATE_CONFIG', `${path} is not valid JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('DIALGATE_CONFIG', `${path} must hold a JSON object`);
  const out: Source = {};
  for (const [k, v] of Object.entries(parsed)) {
    const env = FILE_KEYS[k];
    if (!env) throw new ConfigError('DIALGATE_CONFIG', `${path}: unknown setting "${k}" (known: ${Object.keys(FILE_KEYS).join(', ')})`);
    out[env] = String(v);
  }
  return out;
}

function int(src: Source, name: string, def: number, min: number, max: number): number {
  const v = src[name];
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v.trim())) throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(src: Source, name: string, def: boolean): boolean {
  const v = src[name]?.trim().toLowerCase();
  if (v === undefined || v === '') return def;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${src[name]}"`);
}

function url_(src: Source, name: string, protocols: string[]): string | undefined {
  const v = src[name];
  if (v === undefined || v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(u.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${u.protocol}`);
  return v;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** REDIS_CLUSTER_NODES: "host:port,host:port,..." (IPv6 hosts in brackets: "[::1]:7000"). */
function clusterNodes(src: Source): RedisSettings['clusterNodes'] {
  const v = src.REDIS_CLUSTER_NODES?.trim();
  if (!v) return undefined;
  return v.split(',').map((part) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(part.trim());
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError('REDIS_CLUSTER_NODES', `"${part.trim()}" is not host:port (expected a comma-separated list such as redis-1:6379,redis-2:6379)`);
    }
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

function redisSettings(src: Source): RedisSettings | undefined {
  const url = url_(src, 'REDIS_URL', ['redis:', 'rediss:']);
  const nodes = clusterNodes(src);
  if (url && nodes) throw new ConfigError('REDIS_URL', 'and REDIS_CLUSTER_NODES are both set: use REDIS_URL for one Redis or REDIS_CLUSTER_NODES for a Redis Cluster, not both');
  if (!url && !nodes) return undefined;
  return {
    ...(url ? { url } : { clusterNodes: nodes }),
    ...(src.REDIS_USERNAME ? { username: src.REDIS_USERNAME } : {}),
    ...(src.REDIS_PASSWORD ? { password: src.REDIS_PASSWORD } : {}),
    ...(bool(src, 'REDIS_TLS', false) ? { tls: true } : {}),
  };
}

/** `worker`: the stand-alone call-log worker, which needs REDIS_URL and no operator token. */
export function loadConfig(env: Source = process.env, role: 'gateway' | 'worker' = 'gateway'): Config {
  const file = env.DIALGATE_CONFIG ? readFile(env.DIALGATE_CONFIG) : {};
  const src: Source = { ...file };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) src[k] = v;

  const redis = redisSettings(src);
  const publicUrlRaw = url_(src, 'PUBLIC_URL', ['http:', 'https:']);
  const publicUrl = publicUrlRaw?.replace(/\/+$/, '');

  const logLevel = (src.LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${src.LOG_LEVEL}"`);

  let adminToken = src.DIALGATE_ADMIN_TOKEN ?? '';
  let adminTokenGenerated = false;
  if (role === 'worker' && !redis) throw new ConfigError('REDIS_URL', 'or REDIS_CLUSTER_NODES is required by the worker (it takes jobs from the shared queue)');
  if (!adminToken && role === 'worker') {
    adminToken = 'unused-by-the-worker';
  } else if (!adminToken) {
    if (redis) throw new ConfigError('DIALGATE_ADMIN_TOKEN', 'is required with REDIS_URL or REDIS_CLUSTER_NODES (the operator token that creates orgs)');
    adminToken = 'dgop_' + randomBytes(24).toString('base64url');
    adminTokenGenerated = true;
  } else if (adminToken.length < 16) {
    throw new ConfigError('DIALGATE_ADMIN_TOKEN', 'must be at least 16 characters');
  }

  const host = src.HOST?.trim() || '0.0.0.0';
  const queuePrefix = src.DIALGATE_QUEUE_PREFIX?.trim() || '{dialgate}';
  if (!/^\{[^{}]+\}$/.test(queuePrefix)) throw new ConfigError('DIALGATE_QUEUE_PREFIX', 'must be a Redis hash tag such as {dialgate}, so every queue key shares one cluster slot');

  return {
    port: int(src, 'PORT', 8080, 0, 65535),
    host,
    backend: {
      ...(redis ? { redis } : {}),
      queuePrefix,
      queueShards: int(src, 'DIALGATE_QUEUE_SHARDS', 1, 1, 256),
      callRetentionSec: int(src, 'DIALGATE_CALL_RETENTION_SEC', 7 * 86_400, 1, 10 * 365 * 86_400),
    },
    adminToken,
    adminTokenGenerated,
    publicUrl,
    logLevel: logLevel as Config['logLevel'],
    inProcessWorker: bool(src, 'DIALGATE_IN_PROCESS_WORKER', true),
    workerConcurrency: int(src, 'WORKER_CONCURRENCY', 8, 1, 1000),
    bodyLimit: int(src, 'DIALGATE_BODY_LIMIT', 256 * 1024, 1024, 16 * 1024 * 1024),
    shutdownTimeoutMs: int(src, 'DIALGATE_SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    reconcileEverySec: int(src, 'DIALGATE_RECONCILE_EVERY_SEC', 30, 1, 3600),
    reconcileAfterSec: int(src, 'DIALGATE_RECONCILE_AFTER_SEC', 300, 1, 86_400),
    maxCallSec: int(src, 'DIALGATE_MAX_CALL_SEC', 14_400, 10, 7 * 86_400),
    wrapupSec: int(src, 'DIALGATE_WRAPUP_SEC', 600, 0, 30 * 86_400),
    recordingLinkTtlSec: int(src, 'DIALGATE_RECORDING_LINK_TTL_SEC', 7 * 86_400, 60, 365 * 86_400),
  };
}
