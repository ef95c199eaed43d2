// Scenario 4: hostile input. At least 10,000 generated requests across every route (the /v1
// routes of /openapi.json plus webhooks, ops and admin): malformed and deeply nested JSON, wrong
// types, huge bodies and headers, unicode and control characters, ids like `a:b{c}*` and 10 KB
// long, bad and replayed signatures (Twilio, RingCentral), wrong content types, bad auth. Every
// request is invalid by construction, so: 0 answers of 5xx, 0 crashes, memory back near its
// baseline, and the victim org's data exactly as before. A seeded PRNG: a failure names the seed
// and the request number, and the same seed replays the same requests.

import { createHmac } from 'node:crypto';
import { request } from 'undici';
import type { Cluster, GatewayProc } from '../lib/cluster.js';
import { send, type Reply } from '../lib/http.js';
import { sleep } from '../lib/proc.js';
import type { SecretSweep } from '../lib/secrets.js';
import { Figures, prng, type ScenarioResult } from '../lib/stats.js';
import { snapshot, type IsolatedOrg } from './isolation.js';

export interface BadInputParams {
  requests: number;
  concurrency: number;
  seed: number;
}

export const BAD_INPUT_SHORT: BadInputParams = { requests: 10_000, concurrency: 24, seed: 8 };
export const BAD_INPUT_LONG: BadInputParams = { requests: 100_000, concurrency: 48, seed: 8 };

export interface BadInputTargets {
  victim: IsolatedOrg;
  /** the victim's Twilio auth token (to forge, tamper and replay real signatures) */
  twilioAuthToken: string;
  /** a RingCentral provider of the victim's, when one was installed */
  ringcentralProviderId?: string;
}

interface Hostile {
  category: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

type Rand = () => number;

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

function hostileId(r: Rand): string {
  return pick(r, [
    () => 'a:b{c}*',
    () => 'x'.repeat(10_240),
    () => 'y'.repeat(129),
    () => encodeURIComponent('ü名\u202e💥'),
    () => '%00',
    () => '%0d%0aSet-Cookie:%20x=1',
    () => '..%2F..%2Fetc%2Fpasswd',
    () => '%ZZ',
    () => encodeURIComponent('{$gt:""}'),
    () => encodeURIComponent("' OR 1=1 --"),
    () => encodeURIComponent('<script>alert(1)</script>'),
    () => 'nope-' + Math.floor(r() * 1e9).toString(36),
    () => encodeURIComponent('\u0000\u0001\u0007\u001b[31m'),
    () => '__proto__',
    () => 'constructor',
    () => '%ED%A0%80', // a lone surrogate, UTF-8 encoded (invalid)
  ])();
}

function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function weirdString(r: Rand): string {
  return pick(r, ['\u0000', '\u202e\u202d', '💥'.repeat(50), '\ud800', '\\u0000', 'a'.repeat(5000), '\r\n\r\n', '${jndi:ldap://x}', '{{7*7}}', '%s%n'])
}

/** A value of the wrong type for a JSON Schema type. */
function wrongFor(r: Rand, schema: any): unknown {
  const t = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  const options: unknown[] =
    t === 'string'
      ? [42, true, null, [weirdString(r)], { $ne: null }]
      : t === 'integer' || t === 'number'
        ? ['12', 1.5e308 * 10, -1, 'NaN', [1], { n: 1 }, 1e300]
        : t === 'boolean'
          ? ['true', 1, null, []]
          : t === 'array'
            ? ['a,b', { 0: 'x' }, 7, null]
            : t === 'object'
              ? ['{}', [], 5, null, true]
              : [Symbol.for('x').toString(), null, 3];
  const v = pick(r, options);
  return t === 'integer' && v === -1 ? -1 : v;
}

function bodySchema(op: any): any {
  return op?.requestBody?.content?.['application/json']?.schema;
}

/** A JSON body that cannot pass the route's schema: every declared field of the wrong type. */
function wrongTypes(r: Rand, schema: any): string {
  const props: Record<string, any> = schema?.properties ?? {};
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(props)) out[k] = wrongFor(r, s);
  if (Object.keys(out).length === 0) out.unexpected = weirdString(r);
  // and a field no schema allows, in case every declared one happened to be optional and lenient
  out['__proto__x'] = { polluted: true };
  return JSON.stringify(out);
}

const MALFORMED = ['{"a":', "{'a':1}", '[1,2,', '\u0000', '{"region":"CA",}', 'NaN', '\ufeff{', '{"a":1}{"b":2}', '{"a":"\\x41"}', '"unterminated', '{"a":01}', '{"__proto__":{"x":1}', 'nul', ']'];

export function generate(seed: number, n: number, routes: Array<[string, string, any]>, t: BadInputTargets, base: string): Hostile[] {
  const r = prng(seed);
  const v = t.victim;
  const out: Hostile[] = [];
  const json = { 'content-type': 'application/json' };
  const auth = { authorization: `Bearer ${v.key}` };
  const fill = (template: string) => template.replace(/\{[A-Za-z]+\}/g, () => hostileId(r));
  const realFill = (template: string) =>
    template
      .replace('{userId}', v.users[0].id)
      .replace('{callId}', v.callIds[0])
      .replace('{id}', template.startsWith('/v1/users') ? v.users[0].id : template.startsWith('/v1/calls') ? v.callIds[0] : v.providerId);
  const twilioBase = `${base}/webhooks/twilio/${v.twilioProviderId}`;
  // one real, correctly signed Twilio status callback for a call that does not exist: replaying
  // it is harmless (204, nothing changes); tampering with it must be refused
  const signedParams = { AccountSid: 'AC' + 'ab'.repeat(16), CallSid: 'CA' + '0'.repeat(32), CallStatus: 'completed', CallDuration: '5' };
  const signFor = (url: string, params: Record<string, string>) =>
    createHmac('sha1', t.twilioAuthToken)
      .update(Buffer.from(Object.keys(params).sort().reduce((acc, k) => acc + k + params[k], url), 'utf8'))
      .digest('base64');
  const form = (p: Record<string, string>) => new URLSearchParams(p).toString();
  const goodSig = signFor(`${twilioBase}/status`, signedParams);

  const makers: Array<[string, number, () => Hostile]> = [
    ['malformed JSON', 14, () => {
      const [m, path] = pick(r, routes.filter(([mm]) => mm !== 'get' && mm !== 'delete'));
      return { category: 'malformed JSON', method: m.toUpperCase(), path: realFill(path), headers: { ...json, ...auth }, body: pick(r, MALFORMED) + (r() < 0.3 ? Buffer.from([0xff, 0xfe, 0x00]).toString('latin1') : '') };
    }],
    ['deeply nested JSON', 6, () => {
      const [m, path] = pick(r, routes.filter(([mm]) => mm !== 'get' && mm !== 'delete'));
      const depth = pick(r, [100, 1000, 10_000, 50_000]);
      return { category: 'deeply nested JSON', method: m.toUpperCase(), path: realFill(path), headers: { ...json, ...auth }, body: nested(depth, r() < 0.5 ? 'array' : 'object') };
    }],
    ['wrong types', 18, () => {
      const [m, path, op] = pick(r, routes.filter(([mm]) => mm !== 'get' && mm !== 'delete'));
      return { category: 'wrong types', method: m.toUpperCase(), path: realFill(path), headers: { ...json, ...auth }, body: wrongTypes(r, bodySchema(op)) };
    }],
    ['hostile ids', 16, () => {
      const [m, path, op] = pick(r, routes.filter(([, p]) => p.includes('{')));
      const body = m === 'get' || m === 'delete' ? undefined : wrongTypes(r, bodySchema(op));
      return { category: 'hostile ids', method: m.toUpperCase(), path: fill(path) + (r() < 0.2 ? `?limit=${hostileId(r)}&cursor=${hostileId(r)}` : ''), headers: { ...json, ...auth }, body };
    }],
    ['hostile query strings', 6, () => {
      const [m, path] = pick(r, routes.filter(([mm]) => mm === 'get'));
      const q = pick(r, ['limit=-1', 'limit=1e9', 'limit=abc', 'cursor=%00', `cursor=${'z'.repeat(5000)}`, 'status=bogus', 'window=%F0%9F%92%A5', 'userId=a:b{c}*&to=%00', 'limit=1&limit=2', 'unassigned=maybe', '__proto__[x]=1', 'to=' + '9'.repeat(300)]);
      return { category: 'hostile query strings', method: m.toUpperCase(), path: (path.includes('{') ? realFill(path) : path) + '?' + q, headers: auth };
    }],
    ['huge bodies', 2, () => {
      const [m, path] = pick(r, routes.filter(([mm]) => mm !== 'get' && mm !== 'delete'));
      const size = pick(r, [300_000, 1_000_000]);
      return { category: 'huge bodies', method: m.toUpperCase(), path: realFill(path), headers: { ...json, ...auth }, body: JSON.stringify({ name: 'x'.repeat(size) }) };
    }],
    ['huge headers', 2, () => {
      const [m, path] = pick(r, routes);
      const headers: Record<string, string> = { ...auth };
      if (r() < 0.5) headers['x-huge'] = 'h'.repeat(pick(r, [20_000, 70_000]));
      else for (let i = 0; i < 300; i++) headers[`x-h${i}`] = 'v'.repeat(80);
      return { category: 'huge headers', method: m.toUpperCase(), path: realFill(path), headers };
    }],
    ['unicode and control characters', 8, () => {
      const [m, path, op] = pick(r, routes.filter(([mm]) => mm !== 'get' && mm !== 'delete'));
      const props = Object.keys(bodySchema(op)?.properties ?? { name: {} });
      const body: Record<string, unknown> = {};
      for (const k of props) body[k] = weirdString(r);
      body.region = 42; // never valid
      return { category: 'unicode and control characters', method: m.toUpperCase(), path: realFill(path), headers: { ...json, ...auth, 'x-request-id': pick(r, ['\u00e9t\u00e9', 'a b', 'x'.repeat(500), '"><svg>']) }, body: JSON.stringify(body) };
    }],
    ['wrong content types', 8, () => {
      const [m, path, op] = pick(r, routes.filter(([mm]) => mm !== 'get' && mm !== 'delete'));
      const ct = pick(r, ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'image/png', '', 'application/json, text/plain', 'application/jsonx']);
      const headers: Record<string, string> = { ...auth };
      if (ct) headers['content-type'] = ct;
      return { category: 'wrong content types', method: m.toUpperCase(), path: realFill(path), headers, body: wrongTypes(r, bodySchema(op)) };
    }],
    ['bad auth', 6, () => {
      const [m, path] = pick(r, routes);
      const authz = pick(r, ['', 'Bearer', 'Bearer ', `Basic ${Buffer.from('a:b').toString('base64')}`, `Bearer ${v.key}x`, `Bearer ${v.key.slice(0, -1)}`, `bearer  ${'k'.repeat(8000)}`, 'Bearer dgk_%00\u00ff', `Bearer ${v.key} ${v.key}`, 'Bearer dgop_guess']);
      const headers: Record<string, string> = { ...json };
      if (authz) headers.authorization = authz;
      return { category: 'bad auth', method: m.toUpperCase(), path: realFill(path), headers, body: m === 'get' || m === 'delete' ? undefined : '{}' };
    }],
    ['bad Twilio signatures', 6, () => {
      const params = { ...signedParams, CallStatus: pick(r, ['completed', 'in-progress', 'ringing']), CallSid: 'CA' + Math.floor(r() * 1e15).toString(16).padStart(32, '0') };
      const sig = pick(r, [
        () => undefined,
        () => 'garbage',
        () => goodSig, // a real signature on other params: a tampered replay
        () => signFor(`${twilioBase}/elsewhere`, params), // signed for another URL
        () => createHmac('sha1', 'wrong-token').update(`${twilioBase}/status`).digest('base64'),
        () => 'A'.repeat(10_000),
      ])();
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (sig !== undefined) headers['x-twilio-signature'] = sig;
      const sub = pick(r, ['/status', '/voice', '/connect', '/dial-status', '/nope']);
      return { category: 'bad Twilio signatures', method: 'POST', path: `/webhooks/twilio/${v.twilioProviderId}${sub}`, headers, body: form(params) };
    }],
    ['replayed Twilio callback (valid signature)', 2, () => ({
      category: 'replayed Twilio callback (valid signature)',
      method: 'POST',
      path: `/webhooks/twilio/${v.twilioProviderId}/status`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': goodSig },
      body: form(signedParams),
    })],
    ['bad RingCentral tokens', t.ringcentralProviderId ? 4 : 0, () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const kind = pick(r, ['none', 'wrong', 'validation', 'long']);
      if (kind === 'wrong') headers['verification-token'] = 'not-the-token';
      if (kind === 'validation') headers['validation-token'] = pick(r, ['', 'a b', 'x'.repeat(5000), '\u00e9']);
      if (kind === 'long') headers['verification-token'] = 'v'.repeat(12_000);
      const body = JSON.stringify({ uuid: 'x', event: '/restapi/v1.0/account/~/telephony/sessions', body: { telephonySessionId: hostileId(r), parties: [{ status: { code: 'Disconnected' } }] } });
      return { category: 'bad RingCentral tokens', method: 'POST', path: `/webhooks/ringcentral/${t.ringcentralProviderId}/${pick(r, ['events', 'x'])}`, headers, body };
    }],
    ['sim and other webhooks', 4, () => {
      const kind = pick(r, ['sim', 'zoho', 'unknown-kind', 'twilio']);
      const path =
        kind === 'sim'
          ? `/webhooks/sim/${pick(r, [v.providerId, hostileId(r)])}/${pick(r, ['inbound', 'status', 'x'])}`
          : kind === 'zoho'
            ? `/webhooks/crm/zoho/${pick(r, [v.orgId, hostileId(r)])}/clicktodial/${hostileId(r)}`
            : `/webhooks/${kind}/${hostileId(r)}/${hostileId(r)}`;
      const body = pick(r, [JSON.stringify({ from: 42, to: ['x'] }), JSON.stringify({ from: '\u0000', to: 'x'.repeat(65) }), pick(r, MALFORMED), nested(20_000, 'array'), JSON.stringify({ from: '+1', to: '+19999999999' })]);
      return { category: 'sim and other webhooks', method: pick(r, ['POST', 'GET']), path, headers: { 'content-type': pick(r, ['application/json', 'text/plain', 'application/x-www-form-urlencoded']) }, body };
    }],
    ['ops, admin and unknown routes', 3, () => ({
      category: 'ops, admin and unknown routes',
      method: pick(r, ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']),
      path: pick(r, ['/healthz', '/readyz', '/metrics', '/openapi.json', '/admin', `/admin/${hostileId(r)}`, '/admin/../../package.json', '/v1/events', `/v1/${hostileId(r)}`, '/%2e%2e/%2e%2e/etc/passwd', '//v1//users', '/v1/users/', '/v2/users']),
      headers: auth,
      body: undefined,
    })],
  ];
  const total = makers.reduce((s, [, w]) => s + w, 0);
  for (let i = 0; i < n; i++) {
    let x = r() * total;
    const maker = makers.find(([, w]) => (x -= w) < 0) ?? makers[0];
    out.push(maker[2]());
  }
  return out;
}

/** Sends one request exactly as generated (undici would refuse some headers fetch would fix). */
async function fire(g: GatewayProc, h: Hostile): Promise<{ status: number; text: string; error?: string; headers: Record<string, unknown> }> {
  try {
    const res = await request(g.url + h.path, { method: h.method as any, headers: h.headers, body: h.body, headersTimeout: 30_000, bodyTimeout: 30_000 });
    const text = await res.body.text();
    return { status: res.statusCode, text, headers: res.headers };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    return { status: 0, text: '', error: err.code ?? err.cause?.code ?? err.name, headers: {} };
  }
}

export async function badInput(cluster: Cluster, t: BadInputTargets, p: BadInputParams, sweep: SecretSweep, seen: (what: string, r: Reply) => void): Promise<ScenarioResult> {
  const f = new Figures('4. Hostile input', `${p.requests} generated requests, seed ${p.seed}, ${p.concurrency} at a time, spread over ${cluster.gateways.length} gateways`);
  const gws = cluster.gateways;
  const spec = (await send(gws[0].url, 'GET', '/openapi.json')).body;
  const routes: Array<[string, string, any]> = [];
  for (const [path, ops] of Object.entries(spec.paths as Record<string, Record<string, any>>)) {
    for (const [m, op] of Object.entries(ops)) {
      // an action that takes no body (reset a provider's health, end a call) with the victim's
      // real ids and a good key is a valid request whatever its headers: not hostile input
      if (m !== 'get' && !op?.requestBody && path.startsWith('/v1/') && /\/(health\/reset|end)$/.test(path)) continue;
      routes.push([m, path, op]);
    }
  }
  // Twilio signatures cover the URL: signed requests go to gateway A, signed for its address
  const requests = generate(p.seed, p.requests, routes, t, gws[0].url);
  const before = await snapshot(gws[0].url, t.victim.key);
  const mem0 = await Promise.all(gws.map((g) => g.memory()));
  const pids0 = gws.map((g) => g.pid);

  const byCategory = new Map<string, Record<string, number>>();
  const fiveXX: string[] = [];
  const transport: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: p.concurrency }, async () => {
      while (next < requests.length) {
        const i = next++;
        const h = requests[i];
        const g = h.path.startsWith('/webhooks/twilio/') ? gws[0] : gws[i % gws.length];
        const r = await fire(g, h);
        const c = byCategory.get(h.category) ?? {};
        const k = r.status === 0 ? `err:${r.error}` : String(r.status);
        c[k] = (c[k] ?? 0) + 1;
        byCategory.set(h.category, c);
        sweep.response(`${h.method} ${h.path.slice(0, 80)}`, r.text, r.headers);
        if (r.status >= 500) fiveXX.push(`#${i} ${h.category}: ${h.method} ${h.path.slice(0, 100)} -> ${r.status} ${r.text.slice(0, 200)}`);
        // a refused connection for a 431/oversized request is the server's right; anything else is not
        if (r.status === 0 && !(h.category === 'huge headers' || h.category === 'huge bodies')) transport.push(`#${i} ${h.category}: ${h.method} ${h.path.slice(0, 80)} -> ${r.error}`);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  void seen;
  f.info('requests sent', requests.length);
  f.info('rate (requests/s)', requests.length / secs);
  for (const [cat, counts] of [...byCategory.entries()].sort()) {
    const n = Object.values(counts).reduce((a, b) => a + b, 0);
    f.info(`  ${cat} (${n})`, Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}×${v}`).join(', '));
  }
  f.check('answers of 5xx', fiveXX.length, '0', fiveXX.length === 0, fiveXX.slice(0, 5).join(' | '));
  f.check('unexpected transport errors (reset, timeout)', transport.length, '0', transport.length === 0, transport.slice(0, 5).join(' | '));
  const alive = gws.every((g, i) => g.running && g.pid === pids0[i]);
  f.check('gateway crashes (exits)', alive ? 0 : gws.filter((g, i) => !g.running || g.pid !== pids0[i]).length, '0', alive);
  const after = await snapshot(gws[0].url, t.victim.key);
  const same = JSON.stringify(before) === JSON.stringify(after);
  f.check('stored data unchanged (users, providers, members, calls, CRM, policies, audit)', same ? 'yes' : 'no', 'yes', same, same ? undefined : diffKeys(before, after));

  // memory: back near the baseline once the burst is over (no --expose-gc: poll while V8 collects)
  const deadline = Date.now() + 30_000;
  let mem1 = await Promise.all(gws.map((g) => g.memory()));
  const near = (m: { heap: number }, b: { heap: number }) => m.heap <= b.heap * 1.5 + 16 * 1024 * 1024;
  while (Date.now() < deadline && !mem1.every((m, i) => near(m, mem0[i]))) {
    await sleep(1000);
    // small requests make V8 run its young- and old-generation collections sooner
    await Promise.all(gws.map((g) => send(g.url, 'GET', '/healthz')));
    mem1 = await Promise.all(gws.map((g) => g.memory()));
  }
  const mb = (x: number) => Math.round(x / 1024 / 1024);
  f.info('heap used before → after, per gateway (MB)', mem0.map((m, i) => `${mb(m.heap)} → ${mb(mem1[i].heap)}`).join('; '));
  f.info('RSS before → after, per gateway (MB)', mem0.map((m, i) => `${mb(m.rss)} → ${mb(mem1[i].rss)}`).join('; '));
  f.check('heap back near its baseline (≤ 1.5 × baseline + 16 MB)', mem1.every((m, i) => near(m, mem0[i])) ? 'yes' : 'no', 'yes', mem1.every((m, i) => near(m, mem0[i])));
  const rssOk = mem1.every((m, i) => m.rss <= mem0[i].rss * 2 + 64 * 1024 * 1024);
  f.check('RSS bounded (≤ 2 × baseline + 64 MB)', rssOk ? 'yes' : 'no', 'yes', rssOk);
  return f.result();
}

export function diffKeys(a: Record<string, unknown>, b: Record<string, unknown>): string {
  return Object.keys(a)
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k}: ${JSON.stringify(a[k]).slice(0, 150)} → ${JSON.stringify(b[k]).slice(0, 150)}`)
    .join(' | ');
}
