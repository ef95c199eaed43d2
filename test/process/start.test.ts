// The gateway as a real process (`node --import tsx src/main.ts`), the way an operator runs it:
// local mode with nothing else installed, a bad setting stopping start-up with one line, Redis
// mode surviving a restart, and a graceful SIGTERM that finishes in-flight requests.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { eventually, httpJson } from '../helpers/gateway.js';
import { testRedisUrl } from '../helpers/redis.js';
import { freePort } from '../helpers/net.js';

const ROOT = resolve(import.meta.dirname, '../..');
// tsx compiles the whole gateway at start; on a busy 2-core machine that takes a while
const START_TIMEOUT_MS = 150_000;

class GatewayProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  constructor(readonly port: number, env: Record<string, string>) {
    // a clean environment: only what the process needs, so the developer's own settings
    // (REDIS_URL, LOG_LEVEL...) never leak into what is tested
    const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test' };
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...base, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((res) => this.child.once('exit', (code, signal) => res({ code, signal, at: Date.now() })));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  req(method: string, path: string, opts: Parameters<typeof httpJson>[3] = {}) {
    return httpJson(this.url, method, path, opts);
  }

  async ready(): Promise<void> {
    let done = false;
    const early = this.exited.then((e) => {
      if (!done) throw new Error(`gateway exited early (${e.code ?? e.signal}):\n${this.stderr}\n${this.stdout.slice(-2000)}`);
    });
    await Promise.race([
      eventually(async () => (await this.req('GET', '/healthz')).status === 200, START_TIMEOUT_MS, `gateway on port ${this.port} to answer /healthz`).catch((e: Error) => {
        throw new Error(`${e.message}\n--- stderr:\n${this.stderr.slice(-2000)}\n--- stdout:\n${this.stdout.slice(-2000)}`);
      }),
      early,
    ]);
    done = true;
  }

  /** pino's JSON lines on stdout */
  logs(): any[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return {};
        }
      });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

const running = new Set<GatewayProcess>();
after(async () => {
  await Promise.all([...running].map((p) => p.stop()));
});

describe('the gateway process', { concurrency: true }, () => {
  test('with no REDIS_URL it answers /healthz and logs that it is in local mode', async () => {
    const gp = new GatewayProcess(await freePort(), {});
    await gp.ready();
    const local = gp.logs().find((l) => /local mode/i.test(l.msg ?? ''));
    assert.ok(local, `a local-mode log line: ${gp.stdout.slice(0, 1000)}`);
    assert.match(local.msg, /single.instance/i);
    assert.match(local.msg, /not durable/i);
    const listening = gp.logs().find((l) => l.msg === 'dialgate listening');
    assert.equal(listening?.backend, 'memory');
    // it works end to end with the generated operator token it printed once
    const token = /generated operator token for this run: (\S+)/.exec(gp.stdout)?.[1];
    assert.ok(token, 'the generated operator token is printed');
    const org = await gp.req('POST', '/v1/orgs', { key: token, body: { name: 'local' } });
    assert.equal(org.status, 201, org.text);
    assert.equal((await gp.req('PUT', '/v1/users/ada', { key: org.body.apiKey, body: { region: 'CA' } })).status, 201);
    assert.equal((await gp.req('GET', '/readyz')).status, 200);
    // the API key never reaches the logs
    assert.ok(!gp.stdout.includes(org.body.apiKey) && !gp.stderr.includes(org.body.apiKey), 'no API key in the logs');
    await gp.stop();
    assert.deepEqual({ code: (await gp.exited).code }, { code: 0 });
  });

  test('a bad setting exits non-zero with one clear stderr line naming it', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PORT: 'abc' }, 'PORT'],
      [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'DIALGATE_ADMIN_TOKEN'],
    ];
    await Promise.all(
      cases.map(async ([env, setting]) => {
        const gp = new GatewayProcess(await freePort(), env);
        const res = await Promise.race([
          gp.exited,
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`still running with ${JSON.stringify(env)}`)), START_TIMEOUT_MS).unref()),
        ]);
        assert.notEqual(res.code, 0, `exit code for ${setting}`);
        const lines = gp.stderr.split('\n').filter((l) => l.trim() !== '');
        assert.equal(lines.length, 1, `exactly one stderr line for ${setting}, got:\n${gp.stderr}`);
        assert.match(lines[0], new RegExp(`\\b${setting}\\b`));
        assert.doesNotMatch(lines[0], /\bat .+:\d+/, 'no stack trace');
        assert.equal(gp.logs().length, 0, 'nothing started, so nothing logged');
      }),
    );
  });

  test('with REDIS_URL it uses Redis: an org created before a restart still works after it', async () => {
    const env = { REDIS_URL: testRedisUrl(), DIALGATE_ADMIN_TOKEN: 'op-' + randomBytes(16).toString('hex') };
    const first = new GatewayProcess(await freePort(), env);
    await first.ready();
    assert.equal(first.logs().find((l) => l.msg === 'dialgate listening')?.backend, 'redis');
    assert.ok(!first.logs().some((l) => /local mode/i.test(l.msg ?? '')), 'not in local mode');
    assert.ok(!first.stdout.includes('generated operator token'), 'no generated token when one is set');
    const org = await first.req('POST', '/v1/orgs', { key: env.DIALGATE_ADMIN_TOKEN, body: { name: 'durable' } });
    assert.equal(org.status, 201, org.text);
    const key = org.body.apiKey;
    const uid = 'u-' + randomBytes(4).toString('hex');
    assert.equal((await first.req('PUT', `/v1/users/${uid}`, { key, body: { region: 'CA', phone: '+14169671111' } })).status, 201);
    await first.stop();
    assert.equal((await first.exited).code, 0);

    const second = new GatewayProcess(await freePort(), env);
    await second.ready();
    const got = await second.req('GET', `/v1/users/${uid}`, { key });
    assert.equal(got.status, 200, `the key and the user survived the restart: ${got.text}`);
    assert.equal(got.body.phone, '+14169671111');
    assert.equal((await second.req('GET', '/readyz')).status, 200);
    await second.stop();
    assert.equal((await second.exited).code, 0);
  });

  test(
    'SIGTERM while Redis is unreachable still shuts down cleanly (exit 0) within 10 s',
    async () => {
      const gp = new GatewayProcess(await freePort(), { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, DIALGATE_ADMIN_TOKEN: 'op-' + randomBytes(16).toString('hex') });
      await gp.ready();
      assert.equal((await gp.req('GET', '/readyz')).status, 503);
      const termAt = Date.now();
      gp.child.kill('SIGTERM');
      const exit = await gp.exited;
      assert.equal(exit.code, 0, `exit code after ${exit.at - termAt} ms`);
      assert.ok(exit.at - termAt < 10_000);
    },
  );

  test('SIGTERM during slow requests: they complete with 201, new connections are refused, exit 0 within 10 s', async () => {
    const token = 'op-' + randomBytes(16).toString('hex');
    const gp = new GatewayProcess(await freePort(), { DIALGATE_ADMIN_TOKEN: token });
    await gp.ready();
    const org = await gp.req('POST', '/v1/orgs', { key: token, body: { name: 'draining' } });
    assert.equal(org.status, 201, org.text);
    const key = org.body.apiKey;
    const N = 5;
    // one agent per call: a user has at most one live click-to-call at a time
    for (let i = 0; i < N; i++) {
      assert.equal((await gp.req('PUT', `/v1/users/agent${i}`, { key, body: { region: 'CA', phone: `+1416967${1000 + i}` } })).status, 201);
    }
    const prov = await gp.req('POST', '/v1/providers', {
      key,
      body: { kind: 'sim', name: 'slow', config: { apiLatencyMs: 4000, ringAfterMs: 100, answerAfterMs: 100, durationMs: 100 }, install: { scope: 'all' } },
    });
    assert.equal(prov.status, 201, prov.text);

    const inflight = Array.from({ length: N }, (_, i) =>
      gp.req('POST', '/v1/calls', { key, body: { userId: `agent${i}`, to: `+1416967${2000 + i}` } }).then((r) => ({ r, at: Date.now() })),
    );
    // every call is recorded before its (slow) dial, so this proves all N are in flight
    await eventually(async () => {
      const list = await gp.req('GET', '/v1/calls?limit=100', { key });
      return list.status === 200 && list.body.items.length >= N;
    }, 30_000, 'all calls in flight');

    const termAt = Date.now();
    gp.child.kill('SIGTERM');

    // at once: /readyz says draining (a load balancer stops sending), while the calls are in flight
    const draining = await eventually(async () => {
      const r = await gp.req('GET', '/readyz');
      return r.status === 503 ? r : null;
    }, 1000, '/readyz 503 right after SIGTERM');
    assert.equal(draining.body.status, 'draining');
    assert.ok(Date.now() - termAt < 1000, `draining ${Date.now() - termAt} ms after SIGTERM`);

    // new connections are refused while the in-flight requests drain
    await eventually(
      () =>
        new Promise<boolean>((res) => {
          const s = connect(gp.port, '127.0.0.1');
          s.once('connect', () => (s.destroy(), res(false)));
          s.once('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'));
        }),
      5_000,
      'new connections refused after SIGTERM',
    );
    const refusedAt = Date.now();

    const settled = await Promise.all(inflight);
    const lastAnswerAt = Math.max(...settled.map((x) => x.at));
    assert.ok(refusedAt <= lastAnswerAt, `new connections were refused while requests were still in flight (refused +${refusedAt - termAt} ms, last answer +${lastAnswerAt - termAt} ms)`);
    const results = settled.map((x) => x.r);
    for (const r of results) {
      assert.equal(r.status, 201, `an in-flight call completes: ${r.status} ${r.text}`);
      assert.match(r.body.userId, /^agent\d$/);
    }
    const exit = await Promise.race([
      gp.exited,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('did not exit within 12 s of SIGTERM')), 12_000).unref()),
    ]);
    assert.equal(exit.code, 0, `clean exit: ${gp.stderr}`);
    assert.ok(exit.at - termAt < 10_000, `exited ${exit.at - termAt} ms after SIGTERM`);
    assert.ok(gp.logs().some((l) => /shut down cleanly/.test(l.msg ?? '')), 'it says it shut down cleanly');
  });
});
