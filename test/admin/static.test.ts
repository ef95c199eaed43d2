// The admin console's static file serving (src/http/routes/admin.ts) and its build
// (admin/build.mjs): content types, caching, the "not built" page, path containment, client
// routes, and that the real gateway serves it without an org key.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { adminRoutes, defaultAdminDir } from '../../src/http/routes/admin.js';
import type { AppDeps } from '../../src/http/deps.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const root = resolve(import.meta.dirname, '..', '..');

/** A fake build in <tmp>/build, next to a file the server must never hand out. Remove <tmp>. */
function fakeBuild(): string {
  const parent = mkdtempSync(join(tmpdir(), 'dialgate-admin-static-'));
  const dir = join(parent, 'build');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><div id="app"></div>');
  writeFileSync(join(dir, 'assets', 'app-ABCD1234.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'app-ABCD1234.js.map'), '{}');
  writeFileSync(join(dir, 'assets', 'styles-WXYZ5678.css'), 'body{}');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(parent, 'dialgate-admin-outside.txt'), 'secret-outside');
  return dir;
}

async function appFor(dir: string): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(adminRoutes({} as AppDeps, { dir }));
  await app.ready();
  return app;
}

describe('admin static files', () => {
  let dir: string;
  let app: FastifyInstance;
  before(async () => {
    dir = fakeBuild();
    app = await appFor(dir);
  });
  after(async () => {
    await app.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  test('/admin answers the console page, revalidated on every load, with a strict CSP', async () => {
    const r = await app.inject({ method: 'GET', url: '/admin' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
    assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.match(String(r.headers['content-security-policy']), /media-src 'self'/, 'recordings play from the gateway');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
    assert.match(r.body, /<div id="app">/);
  });

  test('client-side routes (no extension) get the console page', async () => {
    for (const url of ['/admin/', '/admin/users', '/admin/installed/prv_abc/edit']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, url);
      assert.match(r.body, /<div id="app">/, url);
    }
  });

  test('hashed assets are cached for a year with the right content types; others are revalidated', async () => {
    const js = await app.inject({ method: 'GET', url: '/admin/assets/app-ABCD1234.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.body, 'console.log(1)');
    const css = await app.inject({ method: 'GET', url: '/admin/assets/styles-WXYZ5678.css' });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['cache-control'], 'public, max-age=31536000, immutable');
    const map = await app.inject({ method: 'GET', url: '/admin/assets/app-ABCD1234.js.map' });
    assert.equal(map.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(map.headers['cache-control'], 'public, max-age=31536000, immutable');
    const icon = await app.inject({ method: 'GET', url: '/admin/favicon.svg' });
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  test('HEAD works like GET without a body', async () => {
    const r = await app.inject({ method: 'HEAD', url: '/admin/assets/app-ABCD1234.js' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(r.body, '');
  });

  test('a missing asset is a 404, not the console page', async () => {
    const r = await app.inject({ method: 'GET', url: '/admin/assets/app-NOPE0000.js' });
    assert.equal(r.statusCode, 404);
    assert.doesNotMatch(r.body, /<div id="app">/);
  });

  test('paths cannot leave the console folder, in any encoding', async () => {
    for (const url of ['/admin/../dialgate-admin-outside.txt', '/admin/..%2fdialgate-admin-outside.txt', '/admin/%2e%2e/dialgate-admin-outside.txt', '/admin/assets/..%2f..%2fdialgate-admin-outside.txt', '/admin/..%5cdialgate-admin-outside.txt']) {
      const r = await app.inject({ method: 'GET', url });
      assert.notEqual(r.statusCode, 200, url);
      assert.doesNotMatch(r.body, /secret-outside/, url);
    }
  });
});

test('without a build, /admin is a 503 page that says to run npm run build', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'dialgate-admin-empty-'));
  const app = await appFor(join(empty, 'missing'));
  try {
    for (const url of ['/admin', '/admin/users']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 503, url);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(r.body, /npm run build/);
    }
  } finally {
    await app.close();
    rmSync(empty, { recursive: true, force: true });
  }
});

test('the default folder is dist/admin under the repo root (tsx) or next to dist/src (compiled)', () => {
  assert.equal(defaultAdminDir(), join(root, 'dist', 'admin'));
});

describe('npm run build:admin', () => {
  let out: string;
  before(() => {
    out = mkdtempSync(join(tmpdir(), 'dialgate-admin-build-'));
    const r = spawnSync(process.execPath, [join(root, 'admin', 'build.mjs')], { env: { ...process.env, DIALGATE_ADMIN_OUTDIR: out }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  test('writes index.html pointing at content-hashed assets that exist', () => {
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    const js = /src="\/admin\/assets\/(app-[A-Z0-9]{8}\.js)"/.exec(html);
    const css = /href="\/admin\/assets\/(styles-[A-Z0-9]{8}\.css)"/.exec(html);
    assert.ok(js && css, html);
    const files = readdirSync(join(out, 'assets'));
    assert.ok(files.includes(js[1]) && files.includes(css[1]), files.join(' '));
    assert.doesNotMatch(html, /<script>|style=/, 'no inline script or style: the CSP forbids them');
  });

  test('the package.json build script chains build:admin', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts['build:admin'], 'node admin/build.mjs');
    assert.match(pkg.scripts.build, /npm run build:admin/);
  });
});

describe('the gateway serves the console', () => {
  let g: TestGateway;
  let dir: string;
  before(async () => {
    dir = fakeBuild();
    process.env.DIALGATE_ADMIN_DIR = dir;
    g = await startGateway({ store: 'memory' });
  });
  after(async () => {
    await g.close();
    delete process.env.DIALGATE_ADMIN_DIR;
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  test('without an org key, and kept out of the OpenAPI document', async () => {
    const page = await fetch(g.url + '/admin/providers');
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app">/);
    const api = await fetch(g.url + '/v1/providers');
    assert.equal(api.status, 401, 'the API itself still needs the key');
    const doc = (await (await fetch(g.url + '/openapi.json')).json()) as { paths: Record<string, unknown> };
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/admin')));
  });
});
