// A dialgate deployment of real processes on loopback: its own redis-server (append-only, fixed
// port), one or more gateways, the call-log worker as its own process, and the webhook-CRM fake
// as its own process. Every process logs to a file of the run directory.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, killAll, NodeProc, RedisProc, until } from './proc.js';
import { closePools, must, send, type Reply, type SendOpts } from './http.js';

// tsx compiles the gateway at start; on a busy 2-core machine that takes a while
const START_TIMEOUT_MS = 90_000;

export class GatewayProc extends NodeProc {
  constructor(
    name: string,
    dir: string,
    readonly port: number,
    env: Record<string, string>,
  ) {
    super(name, dir, 'src/main.ts', { ...env, PORT: String(port), HOST: '127.0.0.1' });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  req(method: string, path: string, opts: SendOpts = {}): Promise<Reply> {
    return send(this.url, method, path, opts);
  }

  async start(): Promise<this> {
    this.spawn();
    await this.ready();
    return this;
  }

  async ready(timeoutMs = START_TIMEOUT_MS): Promise<void> {
    let done = false;
    const early = this.exited.then((e) => {
      if (!done) throw new Error(`${this.name} exited (${e.code ?? e.signal}) before it was ready: ${this.lastOutput()}`);
    });
    try {
      await Promise.race([
        until(async () => (await send(this.url, 'GET', '/readyz', { timeoutMs: 2000 })).status === 200, timeoutMs, `${this.name} ready on ${this.port}`, 100),
        early,
      ]);
    } finally {
      done = true;
    }
  }

  /** Prometheus figures by series name (labels summed away). */
  async metrics(): Promise<Record<string, number>> {
    const r = await send(this.url, 'GET', '/metrics', { timeoutMs: 10_000 });
    const out: Record<string, number> = {};
    for (const line of r.text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([^\s]+)/.exec(line);
      if (!m) continue;
      const v = Number(m[3]);
      if (Number.isFinite(v)) out[m[1]] = (out[m[1]] ?? 0) + v;
    }
    return out;
  }

  async memory(): Promise<{ rss: number; heap: number }> {
    const m = await this.metrics();
    // prom-client's default metrics, under the gateway's dialgate_ prefix
    return { rss: m.dialgate_process_resident_memory_bytes ?? m.process_resident_memory_bytes ?? NaN, heap: m.dialgate_nodejs_heap_size_used_bytes ?? m.nodejs_heap_size_used_bytes ?? NaN };
  }
}

export interface CrmStats {
  deliveries: string[];
  duplicates: number;
  rejected: number;
  requests: number;
}

export class CrmProc extends NodeProc {
  url = '';
  secret = '';
  private seq = 0;
  private readonly pending = new Map<number, (m: any) => void>();

  constructor(dir: string) {
    super('crm', dir, 'test/stress/lib/crm-child.ts', {}, true);
  }

  async start(): Promise<this> {
    this.spawn();
    const hello = await new Promise<{ url: string; secret: string }>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`CRM fake did not start: ${this.lastOutput()}`)), START_TIMEOUT_MS);
      this.child.on('message', (m: any) => {
        if (m?.ready) {
          clearTimeout(t);
          res(m);
        } else if (typeof m?.id === 'number') {
          this.pending.get(m.id)?.(m);
          this.pending.delete(m.id);
        }
      });
    });
    this.url = hello.url;
    this.secret = hello.secret;
    return this;
  }

  private ask(msg: Record<string, unknown>): Promise<any> {
    const id = ++this.seq;
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('CRM fake did not answer')), 30_000);
      this.pending.set(id, (m) => {
        clearTimeout(t);
        res(m);
      });
      this.child.send({ ...msg, id });
    });
  }

  stats(): Promise<CrmStats> {
    return this.ask({ op: 'stats' });
  }

  outage(ms: number): Promise<void> {
    return this.ask({ op: 'outage', ms });
  }

  override async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.disconnect();
    return super.stop(5_000);
  }
}

export interface ClusterOptions {
  name: string;
  gateways?: number;
  logLevel?: string;
  workerConcurrency?: number;
  /** PUBLIC_URL of every gateway (one shared address, as behind a load balancer); default: its own */
  publicUrl?: string;
  env?: Record<string, string>;
  /** keep the run directory (logs) after stop */
  keep?: boolean;
  /** Redis AOF fsync policy (default always: nothing acknowledged is lost even on SIGKILL) */
  appendfsync?: 'always' | 'everysec';
}

export class Cluster {
  readonly dir: string;
  readonly adminToken = 'dgop_stress_' + randomBytes(18).toString('hex');
  redis!: RedisProc;
  crm!: CrmProc;
  worker!: NodeProc;
  readonly gateways: GatewayProc[] = [];

  constructor(readonly opts: ClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `dialgate-stress-${opts.name}-`));
  }

  gatewayEnv(port: number): Record<string, string> {
    return {
      REDIS_URL: this.redis.url,
      DIALGATE_ADMIN_TOKEN: this.adminToken,
      PUBLIC_URL: this.opts.publicUrl ?? `http://127.0.0.1:${port}`,
      LOG_LEVEL: this.opts.logLevel ?? 'info',
      // the worker runs as its own process, as in production
      DIALGATE_IN_PROCESS_WORKER: 'false',
      DIALGATE_SHUTDOWN_TIMEOUT_MS: '15000',
      ...(this.opts.env ?? {}),
    };
  }

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(opts);
    try {
      c.redis = await new RedisProc(c.dir, await freePort(), opts.appendfsync).start();
      c.crm = new CrmProc(c.dir);
      c.worker = new NodeProc('worker', c.dir, 'src/worker.ts', {
        REDIS_URL: c.redis.url,
        LOG_LEVEL: opts.logLevel ?? 'info',
        WORKER_CONCURRENCY: String(opts.workerConcurrency ?? 16),
        DIALGATE_SHUTDOWN_TIMEOUT_MS: '15000',
      });
      const starts: Promise<unknown>[] = [c.crm.start(), Promise.resolve(c.worker.spawn())];
      for (let i = 0; i < (opts.gateways ?? 1); i++) {
        const port = await freePort();
        const g = new GatewayProc(`gateway-${String.fromCharCode(97 + i)}`, c.dir, port, c.gatewayEnv(port));
        c.gateways.push(g);
        starts.push(g.start());
      }
      await Promise.all(starts);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get a(): GatewayProc {
    return this.gateways[0];
  }

  /** Every line all processes wrote, for the secrets sweep. */
  allOutput(): Array<{ name: string; text: string }> {
    return [this.redis, this.crm, this.worker, ...this.gateways].filter(Boolean).map((p) => ({ name: p.name, text: p.output() }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.gateways.map((g) => g.stop()));
    await Promise.all([this.worker?.stop(), this.crm?.stop()]);
    await this.redis?.stop();
    await closePools();
    await killAll();
    if (!this.opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---- an org to drive --------------------------------------------------------------------------

const AREAS = { agent: '416', did: '647', dest: ['905', '613', '514', '604', '403', '289', '437', '780', '204'] };

/** A valid Canadian number (FIXED_LINE_OR_MOBILE in libphonenumber's metadata). */
export function caNumber(area: string, n: number): string {
  return `+1${area}967${String(n % 10_000).padStart(4, '0')}`;
}

/** The n-th destination: 90,000 distinct numbers before they repeat. */
export function destination(n: number, areaOffset = 0): string {
  const area = AREAS.dest[(Math.floor(n / 10_000) + areaOffset) % AREAS.dest.length];
  return caNumber(area, n);
}

export interface OrgSetup {
  orgId: string;
  key: string;
  providerId: string;
  users: Array<{ id: string; phone: string; did: string }>;
}

export interface OrgOptions {
  name: string;
  users: number;
  sim?: Record<string, unknown>;
  /** another provider instead of the sim */
  provider?: { kind: string; config: Record<string, unknown> };
  /** webhook CRM to log to */
  crm?: { url: string; secret: string };
  /** raised so a load test measures the gateway, not the limiter */
  limits?: { perUserPerMinute?: number; perOrgPerMinute?: number; perDestinationPerHour?: number };
  /** area codes of the users' phones and DIDs (two orgs may use different ones) */
  areas?: { agent: string; did: string };
  userPrefix?: string;
}

/** Creates an org with a sim provider for all users (future ones too), its users, CRM and limits. */
export async function setupOrg(base: string, adminToken: string, o: OrgOptions): Promise<OrgSetup> {
  const org = await must(base, 'POST', '/v1/orgs', { key: adminToken, body: { name: o.name } }, 201);
  const key: string = org.apiKey;
  const provider = o.provider ?? { kind: 'sim', config: o.sim ?? {} };
  const prov = await must(base, 'POST', '/v1/providers', { key, body: { kind: provider.kind, name: `${o.name} ${provider.kind}`, config: provider.config, install: { scope: 'all', futureUsers: true } } }, 201);
  if (o.crm) await must(base, 'PUT', '/v1/crm', { key, body: { kind: 'webhook', url: o.crm.url, secret: o.crm.secret } }, 200);
  if (o.limits) {
    const cur = await must(base, 'GET', '/v1/dial-policy', { key }, 200);
    await must(base, 'PUT', '/v1/dial-policy', { key, body: { ...(cur.policy ?? {}), limits: o.limits } }, 200);
  }
  const areas = o.areas ?? { agent: AREAS.agent, did: AREAS.did };
  const users = Array.from({ length: o.users }, (_, i) => ({
    id: `${o.userPrefix ?? 'u'}${i}`,
    phone: caNumber(areas.agent, i),
    did: caNumber(areas.did, i),
  }));
  // a few at a time: user creation is set-up, not what is measured
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < users.length) {
        const u = users[next++];
        await must(base, 'PUT', `/v1/users/${u.id}`, { key, body: { region: 'CA', name: `Agent ${u.id}`, phone: u.phone, numbers: [u.did] } }, [200, 201]);
      }
    }),
  );
  return { orgId: org.id, key, providerId: prov.id, users };
}
