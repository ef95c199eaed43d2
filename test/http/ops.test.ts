// Operations endpoints: liveness, readiness (and 503 when Redis is unreachable or goes away),
// Prometheus metrics with bounded labels, the OpenAPI document, request ids.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startGateway, type TestGateway } from '../helpers/gateway.js';
import { assertError, orgClient, rid, STORES, type OrgClient } from './helpers.js';
import { freePort } from '../helpers/net.js';

const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
};

/** The /v1 paths of DESIGN.md's interfaces for issue 2 (and calls), in OpenAPI form. */
const CORE_OPERATIONS: Array<[string, string]> = [
  ['post', '/v1/orgs'],
  ['post', '/v1/providers'],
  ['get', '/v1/providers'],
  ['get', '/v1/providers/{id}'],
  ['patch', '/v1/providers/{id}'],
  ['delete', '/v1/providers/{id}'],
  ['get', '/v1/providers/{id}/users'],
  ['post', '/v1/providers/{id}/users'],
  ['delete', '/v1/providers/{id}/users/{userId}'],
  ['post', '/v1/providers/{id}/install-all'],
  ['put', '/v1/users/{id}'],
  ['get', '/v1/users/{id}'],
  ['delete', '/v1/users/{id}'],
  ['get', '/v1/users'],
  ['post', '/v1/users/{id}/move'],
  ['post', '/v1/calls'],
  ['get', '/v1/calls/{id}'],
  ['delete', '/v1/calls/{id}'],
];

/** Further /v1 paths DESIGN.md names (other issues): documented whenever the gateway serves them. */
const LATER_OPERATIONS: Array<[string, string]> = [
  ['put', '/v1/crm'],
  ['get', '/v1/crm'],
  ['get', '/v1/providers/performance'],
  ['post', '/v1/trials'],
  ['get', '/v1/trials/{id}'],
  ['put', '/v1/routing/policy'],
  ['get', '/v1/routing/explain'],
  ['get', '/v1/audit'],
  ['put', '/v1/dial-policy'],
];

for (const store of STORES) {
  describe(`ops endpoints (${store} store)`, () => {
    let g: TestGateway;
    let org: OrgClient;
    before(async () => {
      g = await startGateway({ store });
      org = await orgClient(g);
    });
    after(async () => {
      await g?.close();
    });

    test('/healthz and /readyz answer 200 without a key', async () => {
      const h = await g.req('GET', '/healthz');
      assert.equal(h.status, 200);
      assert.deepEqual(h.body, { status: 'ok' });
      const r = await g.req('GET', '/readyz');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'ready');
      const storeCheck = r.body.checks.find((c: any) => c.name === 'backend');
      assert.ok(storeCheck?.ok, 'the store check is listed and passing');
    });

    test('X-Request-Id is generated, echoed when sane, replaced when not', async () => {
      const gen = await g.req('GET', '/healthz');
      const id = gen.headers.get('x-request-id');
      assert.match(id ?? '', /^[0-9a-f-]{36}$/);
      const again = await g.req('GET', '/healthz');
      assert.notEqual(again.headers.get('x-request-id'), id, 'a fresh id per request');
      const mine = await g.req('GET', '/v1/users', { key: org.key, headers: { 'x-request-id': 'crm-click-42' } });
      assert.equal(mine.headers.get('x-request-id'), 'crm-click-42');
      // errors carry it too, so a client can quote it
      const err = await g.req('GET', '/v1/users/a:b', { key: org.key, headers: { 'x-request-id': 'trace.7' } });
      assert.equal(err.status, 400);
      assert.equal(err.headers.get('x-request-id'), 'trace.7');
      const nf = await g.req('GET', '/nope');
      assert.match(nf.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      for (const hostile of ['x'.repeat(3000), 'a b"c<script>', '']) {
        const r = await g.req('GET', '/healthz', { headers: { 'x-request-id': hostile } });
        assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, `"${hostile.slice(0, 20)}" is replaced`);
      }
    });

    test('/metrics: prometheus text, request durations by route template and status, default metrics, no ids or numbers in labels', async () => {
      const uid = rid('metricuser');
      const phone = '+14169675555';
      await org.putUser(uid, 'CA', { phone, numbers: ['+14169676666'] });
      await org.ok('GET', `/v1/users/${uid}`, undefined, 200);
      const p = await org.sim('m');
      await org.ok('POST', `/v1/providers/${p.id}/users`, { userIds: [uid] }, 200);
      assertError(await org.req('GET', `/v1/users/${rid('missing')}`), 404);
      assertError(await g.req('GET', `/v1/nothing-here/${uid}`), 404);
      assertError(await org.req('GET', `/v1/users/${'z'.repeat(5000)}`), 400);

      const m = await g.req('GET', '/metrics');
      assert.equal(m.status, 200);
      assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = m.text;
      assert.match(text, /# TYPE dialgate_http_request_duration_seconds histogram/);
      const series = text.split('\n').filter((l) => l.startsWith('dialgate_http_request_duration_seconds_count{'));
      const has = (route: string, status: number) =>
        series.some((l) => l.includes(`route="${route}"`) && l.includes(`status_code="${status}"`));
      assert.ok(has('/v1/users/:id', 200), 'GET /v1/users/:id 200 is a series');
      assert.ok(has('/v1/users/:id', 201), 'PUT /v1/users/:id 201 is a series');
      assert.ok(has('/v1/users/:id', 404), 'the 404 keeps the template');
      assert.ok(has('/v1/providers/:id/users', 200));
      assert.ok(has('/v1/providers', 201));
      // default process/runtime metrics, under the dialgate_ prefix
      for (const name of ['dialgate_process_cpu_seconds_total', 'dialgate_process_resident_memory_bytes', 'dialgate_nodejs_eventloop_lag_seconds', 'dialgate_nodejs_heap_size_used_bytes']) {
        assert.match(text, new RegExp(`^${name}`, 'm'), `${name} is exported`);
      }
      // bounded labels: never a user id, a phone number, a raw unmatched URL; a provider id only as
      // provider_id (bounded by the installed providers, issue 15), nowhere else
      const labels = [...text.matchAll(/\{([^}]*)\}/g)].flatMap((x) => [...x[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((y) => ({ name: y[1], value: y[2] })));
      assert.ok(labels.length > 50);
      for (const { name, value: v } of labels) {
        assert.ok(!v.includes(uid) && !v.includes('metricuser') && !v.includes('missing'), `a label holds a user id: ${v}`);
        if (name !== 'provider_id') assert.ok(!v.includes(p.id), `label ${name} holds a provider id: ${v}`);
        assert.ok(!/\+?\d{7,}/.test(v), `a label holds something like a phone number: ${v}`);
        assert.ok(!v.includes('nothing-here') && !v.includes('zzzz'), `a label holds a raw URL: ${v}`);
        assert.ok(v.length <= 100, `a label value is short: ${v.slice(0, 60)}...`);
      }
    });

    test('/openapi.json is an OpenAPI 3 document listing every /v1 path of DESIGN.md', async () => {
      const r = await g.req('GET', '/openapi.json');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      const doc = r.body;
      assert.match(doc.openapi, /^3\.\d+\.\d+$/);
      assert.equal(typeof doc.info?.title, 'string');
      assert.equal(typeof doc.info?.version, 'string');
      assert.equal(typeof doc.paths, 'object');

      // every $ref resolves inside the document
      const refs: string[] = [];
      const walk = (x: unknown) => {
        if (Array.isArray(x)) x.forEach(walk);
        else if (x && typeof x === 'object') {
          for (const [k, v] of Object.entries(x)) {
            if (k === '$ref' && typeof v === 'string') refs.push(v);
            else walk(v);
          }
        }
      };
      walk(doc);
      for (const ref of refs) {
        assert.match(ref, /^#\//, `local ref: ${ref}`);
        const target = ref.slice(2).split('/').reduce((o: any, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
        assert.ok(target, `${ref} resolves`);
      }

      const methods = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];
      for (const [path, item] of Object.entries<any>(doc.paths)) {
        assert.match(path, /^\//);
        assert.doesNotMatch(path, /\/:/, `${path} uses {param} templates, not :param`);
        const params = [...path.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]);
        for (const [method, op] of Object.entries<any>(item)) {
          if (!methods.includes(method)) continue;
          assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
          for (const [code, resp] of Object.entries<any>(op.responses)) {
            assert.match(code, /^([1-5]\d\d|[1-5]XX|default)$/, `${method} ${path}: response key ${code}`);
            assert.equal(typeof resp.description, 'string', `${method} ${path} ${code} has a description`);
          }
          for (const name of params) {
            const decl = [...(item.parameters ?? []), ...(op.parameters ?? [])].find((x: any) => x.in === 'path' && x.name === name);
            assert.ok(decl?.required === true, `${method} ${path} declares required path parameter ${name}`);
          }
          if (path.startsWith('/v1/') && path !== '/v1/orgs' && method !== 'get' && method !== 'delete' && op.requestBody) {
            assert.ok(op.requestBody.content?.['application/json'], `${method} ${path} takes JSON`);
          }
          // the refusals a client must handle are documented with the error schema (a public
          // route, like a recording link that is its own credential, is never a 401)
          if (path.startsWith('/v1/')) {
            const isPublic = Array.isArray(op.security) && op.security.length === 0;
            for (const code of isPublic ? ['400'] : ['400', '401']) assert.ok(op.responses[code], `${method} ${path} documents ${code}`);
          }
        }
      }
      for (const [method, path] of CORE_OPERATIONS) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
      for (const [method, path] of LATER_OPERATIONS) {
        const probe = path.replace(/\{[^}]+\}/g, 'probe-id');
        const res = await g.req(method.toUpperCase(), probe, { key: org.key, body: method === 'get' || method === 'delete' ? undefined : {} });
        const served = !(res.status === 404 && res.body?.error?.code === 'not_found');
        if (served) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is served, so it is documented`);
      }
      // the shared schemas are named for generated clients
      for (const name of ['Error', 'User', 'Provider']) assert.ok(doc.components?.schemas?.[name], `components.schemas.${name}`);
    });
  });
}

describe('readiness without Redis', () => {
  test('REDIS_URL at a closed port: the gateway starts, /healthz 200, /readyz 503 and /v1 503 store_unavailable, all quickly', async () => {
    const port = await freePort();
    // the core only: the call-log and trial queues (BullMQ) never finish closing while Redis is
    // unreachable, which would hang this suite (reported; see test/process/start.test.ts)
    const [g, startMs] = await timed(() => startGateway({ store: 'redis', env: { REDIS_URL: `redis://127.0.0.1:${port}` } }));
    try {
      if (startMs > 3000) console.log(`# note: the gateway took ${Math.round(startMs)} ms to start with Redis unreachable (it waits for a first connection)`);
      const [h] = await timed(() => g.req('GET', '/healthz'));
      assert.equal(h.status, 200, 'liveness does not depend on Redis');
      const [r, readyMs] = await timed(() => g.req('GET', '/readyz'));
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.status, 'not_ready');
      assert.equal(r.body.checks.find((c: any) => c.name === 'backend')?.ok, false);
      assert.ok(readyMs < 2500, `/readyz answered in ${Math.round(readyMs)} ms`);
      const fakeKey = 'dgk_0123456789abcdef_' + 'a'.repeat(64); // well-formed, so it reaches the store
      for (const [method, path, key, body] of [
        ['GET', '/v1/users', fakeKey],
        ['GET', '/v1/providers', fakeKey],
        ['PUT', '/v1/users/u1', fakeKey, { region: 'CA' }],
        ['POST', '/v1/orgs', g.adminToken, { name: 'x' }],
      ] as Array<[string, string, string, unknown?]>) {
        const [res, ms] = await timed(() => g.req(method, path, { key, body }));
        assertError(res, 503, 'store_unavailable');
        assert.ok(res.headers.get('retry-after'), `${method} ${path} says when to retry`);
        assert.ok(ms < 2500, `${method} ${path} answered 503 in ${Math.round(ms)} ms`);
      }
    } finally {
      const [, closeMs] = await timed(() => g.close());
      assert.ok(closeMs < 5000, `closed in ${Math.round(closeMs)} ms`);
    }
  });
});

describe('readiness follows Redis going away and coming back', () => {
  let redis: ChildProcess | undefined;
  let dir: string;
  let port: number;
  let g: TestGateway | undefined;
  const haveRedis = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;

  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  };
  const stopRedis = async () => {
    const p = redis;
    redis = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((res) => {
      p.once('exit', () => res());
      p.kill('SIGKILL');
    });
  };

  before(async () => {
    if (!haveRedis) return;
    dir = mkdtempSync(join(tmpdir(), 'dialgate-ops-redis-'));
    port = await freePort();
    await startRedis();
  });
  after(async () => {
    await g?.close();
    await stopRedis();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a Redis of its own: ready → killed (503 quickly) → restarted (ready again)', { skip: haveRedis ? false : 'redis-server is not on PATH' }, async () => {
    g = await startGateway({ store: 'redis', env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    const gw = g;
    await eventually(async () => (await gw.req('GET', '/readyz')).status === 200, 10_000, 'ready with Redis up');
    const org = await orgClient(gw);
    await org.putUser('before', 'CA');

    await stopRedis();
    const r = await eventually(async () => {
      const x = await gw.req('GET', '/readyz');
      return x.status === 503 ? x : undefined;
    }, 10_000, '/readyz 503 after Redis died');
    assert.equal(r.body.status, 'not_ready');
    const [res, ms] = await timed(() => gw.req('PUT', '/v1/users/during', { key: org.key, body: { region: 'CA' } }));
    assertError(res, 503, 'store_unavailable');
    assert.ok(ms < 2500, `503 in ${Math.round(ms)} ms`);
    const [list, ms2] = await timed(() => gw.req('GET', '/v1/users', { key: org.key }));
    assertError(list, 503, 'store_unavailable');
    assert.ok(ms2 < 2500);
    assert.equal((await gw.req('GET', '/healthz')).status, 200);

    await startRedis();
    await eventually(async () => (await gw.req('GET', '/readyz')).status === 200, 15_000, '/readyz 200 after Redis came back');
    // the throwaway Redis kept nothing (no persistence), but the gateway serves again
    const again = await orgClient(gw, 'after restart');
    await again.putUser('after', 'CA');
  });
});
