// Call limits through the HTTP API: per user per minute, per org per minute, per destination per
// hour (429 rate_limited with Retry-After, exact counts under concurrent clicks), the live-call
// cap (an agent's second click while the first is live), the same limits held exactly across
// TWO gateway processes sharing one Redis, and a provider's calls-per-second budget, which
// queues dials rather than refusing them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { providerKinds } from '../../adapters/registry.js';
import { simKind, type SimConfig } from '../../adapters/sim/index.js';
import type { ProviderKindDefinition } from '../../src/providers/adapter.js';
import { eventually, httpJson, startGateway, type Res, type TestGateway } from '../helpers/gateway.js';
import { testRedisUrl } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** sim timings under which nothing happens unless the test hangs up */
const FROZEN: SimConfig = { ringAfterMs: 3_600_000, answerAfterMs: 3_600_000, durationMs: 3_600_000 };
const HIGH = { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000, liveCallsPerUser: 1000 };

type Req = (method: string, path: string, opts?: Parameters<typeof httpJson>[3]) => Promise<Res>;

function rnd(): string {
  return randomBytes(4).toString('hex');
}

/** A random Toronto number (valid for CA, the users' region). */
function did(): string {
  return `+1416${2000000 + (randomBytes(3).readUIntBE(0, 3) % 7999999)}`;
}

function must(r: Res, status: number, what: string): Res {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text}`);
  return r;
}

/** An org with `users` CA users on one sim provider, and the given limits. */
async function org(req: Req, adminToken: string, limits: Record<string, number>, users: number, kind = 'sim', config: SimConfig = FROZEN) {
  const o = must(await req('POST', '/v1/orgs', { key: adminToken, body: { name: 'limits ' + rnd() } }), 201, 'org');
  const key: string = o.body.apiKey;
  must(await req('PUT', '/v1/dial-policy', { key, body: { limits } }), 200, 'dial policy');
  const ids: string[] = [];
  for (let i = 0; i < users; i++) {
    const id = `u${i}-${rnd()}`;
    must(await req('PUT', `/v1/users/${id}`, { key, body: { region: 'CA', phone: '+14165550100' } }), 201, 'user');
    ids.push(id);
  }
  const p = must(await req('POST', '/v1/providers', { key, body: { kind, name: kind, config, install: { scope: 'all' } } }), 201, 'provider');
  return { orgId: o.body.id as string, key, users: ids, providerId: p.body.id as string };
}

function tally(rs: Res[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of rs) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

/** `retry` bounds Retry-After in seconds; the upper one allows the 1 s that rounding up may add */
function assertRateLimited(r: Res, limit: string, retry: [min: number, max: number]): void {
  assert.equal(r.status, 429, r.text);
  assert.equal(r.body.error.code, 'rate_limited');
  assert.equal(r.body.error.limit, limit);
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(ra) && ra >= retry[0] && ra <= retry[1], `Retry-After ${r.headers.get('retry-after')} within [${retry}]`);
}

async function refusedTotal(req: Req, reason: string): Promise<number> {
  const r = await req('GET', '/metrics');
  const m = new RegExp(`^dialgate_calls_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : 0;
}

async function callCount(req: Req, key: string): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const r = must(await req('GET', `/v1/calls?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key }), 200, 'list calls');
    n += r.body.items.length;
    cursor = r.body.nextCursor;
  } while (cursor);
  return n;
}

for (const store of ['redis', 'memory'] as const) {
  describe(`limits in one gateway (${store} store)`, () => {
    let tg: TestGateway;
    before(async () => {
      tg = await startGateway({ store });
    });
    after(async () => {
      await tg.close();
    });
    const click = (key: string, userId: string, to = did()) => tg.req('POST', '/v1/calls', { key, body: { userId, to } });

    test('per user per minute: exactly N of a burst of concurrent clicks, then 429 with Retry-After; other users unaffected', async () => {
      const o = await org(tg.req, tg.adminToken, { ...HIGH, perUserPerMinute: 3 }, 2);
      const refused0 = await refusedTotal(tg.req, 'rate_limited');
      const burst = await Promise.all(Array.from({ length: 8 }, () => click(o.key, o.users[0])));
      assert.deepEqual(tally(burst), { 201: 3, 429: 5 });
      // 3 a minute: the next token in 20 s
      for (const r of burst.filter((x) => x.status === 429)) assertRateLimited(r, 'perUserPerMinute', [10, 21]);
      assert.equal(await callCount(tg.req, o.key), 3, 'refused clicks created no call');
      assert.equal(await refusedTotal(tg.req, 'rate_limited'), refused0 + 5);
      must(await click(o.key, o.users[1]), 201, 'another user');
    });

    test('per org per minute: counted across the org users', async () => {
      const o = await org(tg.req, tg.adminToken, { ...HIGH, perOrgPerMinute: 4 }, 3);
      const burst = await Promise.all(Array.from({ length: 9 }, (_, i) => click(o.key, o.users[i % 3])));
      assert.deepEqual(tally(burst), { 201: 4, 429: 5 });
      for (const r of burst.filter((x) => x.status === 429)) assertRateLimited(r, 'perOrgPerMinute', [5, 16]);
      // another org has its own budget
      const other = await org(tg.req, tg.adminToken, { ...HIGH, perOrgPerMinute: 4 }, 1);
      must(await click(other.key, other.users[0]), 201, 'another org');
    });

    test('per destination per hour: one number rung at most N times by the org, others unaffected', async () => {
      const o = await org(tg.req, tg.adminToken, { ...HIGH, perDestinationPerHour: 2 }, 3);
      const target = did();
      const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => click(o.key, o.users[i % 3], target)));
      assert.deepEqual(tally(burst), { 201: 2, 429: 4 });
      // 2 an hour: the next in 30 min
      for (const r of burst.filter((x) => x.status === 429)) assertRateLimited(r, 'perDestinationPerHour', [1700, 1801]);
      must(await click(o.key, o.users[0]), 201, 'another number');
    });

    test("live-call cap: an agent's second click while the first is live → 429; allowed again once it ends", async () => {
      const o = await org(tg.req, tg.adminToken, { ...HIGH, liveCallsPerUser: 1 }, 2);
      const [u, v] = o.users;
      const refused0 = await refusedTotal(tg.req, 'concurrent_calls');
      const first = must(await click(o.key, u), 201, 'first call');
      const second = await click(o.key, u);
      assertRateLimited(second, 'concurrentCallsPerUser', [1, 5]);
      assert.match(second.body.error.message, /live/);
      assert.equal(await refusedTotal(tg.req, 'concurrent_calls'), refused0 + 1);
      must(await click(o.key, v), 201, 'another agent');
      // still live: still refused
      assert.equal((await click(o.key, u)).status, 429);
      must(await tg.req('DELETE', `/v1/calls/${first.body.id}`, { key: o.key }), 202, 'hang up');
      await eventually(async () => {
        const s = (await tg.req('GET', `/v1/calls/${first.body.id}`, { key: o.key })).body?.status;
        return s === 'canceled' || s === 'completed';
      }, 10_000, 'the first call ended');
      must(await click(o.key, u), 201, 'allowed again once the first ended');
    });

    test('a live call that fails at the provider frees the slot at once', async () => {
      const o = await org(tg.req, tg.adminToken, { ...HIGH, liveCallsPerUser: 1 }, 1, 'sim', { failDial: true });
      const r1 = await click(o.key, o.users[0]);
      assert.equal(r1.status, 503, r1.text);
      const r2 = await click(o.key, o.users[0]);
      assert.equal(r2.status, 503, `not 429: the failed call holds no slot: ${r2.text}`);
    });
  });
}

// ---- two gateway processes, one Redis ----------------------------------------------------------

// tsx compiles the gateway at start; two at once on a busy 2-core machine take a while
const START_TIMEOUT_MS = 120_000;

class GatewayProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;

  constructor(readonly port: number, env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => (this.output += d));
    this.child.stderr!.on('data', (d) => (this.output += d));
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)));
  }

  readonly req: Req = (method, path, opts) => httpJson(`http://127.0.0.1:${this.port}`, method, path, opts);

  async ready(): Promise<void> {
    let up = false;
    await Promise.race([
      eventually(async () => (await this.req('GET', '/healthz')).status === 200, START_TIMEOUT_MS, `gateway on port ${this.port}`).then(() => (up = true)),
      this.exited.then((code) => {
        if (!up) throw new Error(`gateway exited early (${code}):\n${this.output.slice(-3000)}`);
      }),
    ]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

describe('limits across two gateway processes sharing Redis', () => {
  const adminToken = 'policy-limits-operator-' + rnd();
  let a: GatewayProcess;
  let b: GatewayProcess;

  before(async () => {
    const env = { REDIS_URL: testRedisUrl(), DIALGATE_ADMIN_TOKEN: adminToken };
    a = new GatewayProcess(await freePort(), env);
    b = new GatewayProcess(await freePort(), env);
    await Promise.all([a.ready(), b.ready()]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  /** Fires `n` clicks at each process at once; returns all responses. */
  async function both(n: number, fire: (gp: GatewayProcess, i: number) => Promise<Res>): Promise<Res[]> {
    return Promise.all([...Array.from({ length: n }, (_, i) => fire(a, i)), ...Array.from({ length: n }, (_, i) => fire(b, n + i))]);
  }
  const click = (gp: GatewayProcess, key: string, userId: string, to = did()) => gp.req('POST', '/v1/calls', { key, body: { userId, to } });

  test('per org per minute: exactly N in total of 20 concurrent clicks split over both', async () => {
    const o = await org(a.req, adminToken, { ...HIGH, perOrgPerMinute: 5 }, 4);
    const rs = await both(10, (gp, i) => click(gp, o.key, o.users[i % 4]));
    assert.deepEqual(tally(rs), { 201: 5, 429: 15 });
    for (const r of rs.filter((x) => x.status === 429)) assertRateLimited(r, 'perOrgPerMinute', [1, 13]);
    // each instance sees the same calls: created on either, listed by both
    assert.equal(await callCount(a.req, o.key), 5);
    assert.equal(await callCount(b.req, o.key), 5);
  });

  test('per user per minute: exactly N in total', async () => {
    const o = await org(a.req, adminToken, { ...HIGH, perUserPerMinute: 3 }, 1);
    const rs = await both(6, (gp) => click(gp, o.key, o.users[0]));
    assert.deepEqual(tally(rs), { 201: 3, 429: 9 });
    for (const r of rs.filter((x) => x.status === 429)) assertRateLimited(r, 'perUserPerMinute', [1, 21]);
  });

  test('per destination per hour: exactly N in total', async () => {
    const o = await org(a.req, adminToken, { ...HIGH, perDestinationPerHour: 3 }, 4);
    const target = did();
    const rs = await both(6, (gp, i) => click(gp, o.key, o.users[i % 4], target));
    assert.deepEqual(tally(rs), { 201: 3, 429: 9 });
    for (const r of rs.filter((x) => x.status === 429)) assertRateLimited(r, 'perDestinationPerHour', [1, 1200]);
  });

  test('live-call cap: one live click-to-call per agent, whichever instance takes the click', async () => {
    const o = await org(a.req, adminToken, { ...HIGH, liveCallsPerUser: 1 }, 1);
    const rs = await both(4, (gp) => click(gp, o.key, o.users[0]));
    assert.deepEqual(tally(rs), { 201: 1, 429: 7 });
    for (const r of rs.filter((x) => x.status === 429)) assert.equal(r.body.error.limit, 'concurrentCallsPerUser');
    // once it ends (hung up where it was placed: the simulator's calls live in that process),
    // the slot is free on the other instance too
    const live = rs.find((r) => r.status === 201)!;
    const placedOn = rs.indexOf(live) < 4 ? a : b;
    const other = placedOn === a ? b : a;
    assert.equal((await click(other, o.key, o.users[0])).status, 429, 'still live');
    must(await placedOn.req('DELETE', `/v1/calls/${live.body.id}`, { key: o.key }), 202, 'hang up');
    await eventually(async () => {
      const s = (await other.req('GET', `/v1/calls/${live.body.id}`, { key: o.key })).body?.status;
      return s === 'canceled' || s === 'completed';
    }, 15_000, 'the call ended');
    must(await click(other, o.key, o.users[0]), 201, 'allowed again on the other instance');
  });
});

// ---- provider calls per second ---------------------------------------------------------------

/** The sim, recording when each dial request reaches the provider. */
function timedSimKind(): { def: ProviderKindDefinition; dials: Map<string, number[]> } {
  const dials = new Map<string, number[]>();
  const def: ProviderKindDefinition = {
    ...simKind,
    kind: 'timedsim',
    create(ctx) {
      const inner = simKind.create(ctx);
      return {
        ...inner,
        hangUp: (call) => inner.hangUp(call),
        handleWebhook: (req) => inner.handleWebhook(req),
        health: () => inner.health(),
        close: () => inner.close?.() ?? Promise.resolve(),
        dial(req) {
          const id = ctx.provider.id;
          dials.set(id, [...(dials.get(id) ?? []), performance.now()]);
          return inner.dial(req);
        },
      };
    },
  };
  return { def, dials };
}

describe('provider calls per second (Redis)', () => {
  let tg: TestGateway;
  let dials: Map<string, number[]>;
  before(async () => {
    const timed = timedSimKind();
    dials = timed.dials;
    tg = await startGateway({ store: 'redis', providerKinds: [...providerKinds, timed.def] });
  });
  after(async () => {
    await tg.close();
  });

  test('callsPerSecond 2: 6 concurrent clicks are all placed, spread over ≥ 2 s (queued, not refused)', async () => {
    const o = await org(tg.req, tg.adminToken, HIGH, 6, 'timedsim');
    const p = must(await tg.req('PATCH', `/v1/providers/${o.providerId}`, { key: o.key, body: { callsPerSecond: 2 } }), 200, 'callsPerSecond');
    assert.equal(p.body.callsPerSecond, 2);
    const rs = await Promise.all(o.users.map((u) => tg.req('POST', '/v1/calls', { key: o.key, body: { userId: u, to: did() } })));
    assert.deepEqual(tally(rs), { 201: 6 });
    const t = [...(dials.get(o.providerId) ?? [])].sort((x, y) => x - y);
    assert.equal(t.length, 6);
    // a burst of 2, then one every 500 ms: the sixth no sooner than 2 s after the first
    const span = t[5] - t[0];
    assert.ok(span >= 1900, `dials spread over ${Math.round(span)} ms: ${t.map((x) => Math.round(x - t[0]))}`);
    // and never faster than the budget in any window: k dials within w ms need k <= 2 + 2w/1000
    for (let i = 0; i < t.length; i++) {
      for (let j = i + 2; j < t.length; j++) {
        const k = j - i + 1;
        assert.ok(k <= 2 + (2 * (t[j] - t[i] + 50)) / 1000, `${k} dials within ${Math.round(t[j] - t[i])} ms`);
      }
    }
  });

  test('without callsPerSecond the same burst goes out at once', async () => {
    const o = await org(tg.req, tg.adminToken, HIGH, 6, 'timedsim');
    const rs = await Promise.all(o.users.map((u) => tg.req('POST', '/v1/calls', { key: o.key, body: { userId: u, to: did() } })));
    assert.deepEqual(tally(rs), { 201: 6 });
    const t = [...(dials.get(o.providerId) ?? [])].sort((x, y) => x - y);
    assert.ok(t[5] - t[0] < 1500, `no queueing: ${Math.round(t[5] - t[0])} ms`);
  });
});
