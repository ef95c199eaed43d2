// Shared bits of the HTTP-level suites: an org-scoped client over a test gateway, a unique id
// generator and assertions on the one error shape of the API.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Res, TestGateway } from '../helpers/gateway.js';

export const STORES = ['memory', 'redis'] as const;

export const rid = (p = 'u'): string => `${p}-${randomBytes(5).toString('hex')}`;

/** A Twilio account sid that passes the kind's schema. */
export const twilioSid = (): string => 'AC' + randomBytes(16).toString('hex');

export interface OrgClient {
  id: string;
  key: string;
  req(method: string, path: string, body?: unknown): Promise<Res>;
  /** Sends and asserts the status; returns the parsed body. */
  ok(method: string, path: string, body: unknown, status: number): Promise<any>;
  putUser(id: string, region: string, extra?: Record<string, unknown>): Promise<any>;
  sim(name: string, extra?: Record<string, unknown>): Promise<any>;
}

export async function orgClient(g: TestGateway, name = 'Org'): Promise<OrgClient> {
  const { id, apiKey } = await g.createOrg(name);
  const req = (method: string, path: string, body?: unknown) => g.req(method, path, { key: apiKey, body });
  const ok = async (method: string, path: string, body: unknown, status: number) => {
    const r = await req(method, path, body);
    assert.equal(r.status, status, `${method} ${path} → ${r.status} ${r.text}`);
    return r.body;
  };
  return {
    id,
    key: apiKey,
    req,
    ok,
    putUser: (uid, region, extra = {}) => ok('PUT', `/v1/users/${uid}`, { region, ...extra }, 201),
    sim: (pname, extra = {}) => ok('POST', '/v1/providers', { kind: 'sim', name: pname, config: {}, ...extra }, 201),
  };
}

/** The error shape every refusal has: exactly {error:{code,message,...details}}, no stack. */
export function assertError(r: Res, status: number, code?: string): any {
  assert.equal(r.status, status, `expected ${status}${code ? ' ' + code : ''}, got ${r.status} ${r.text.slice(0, 400)}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(r.body && typeof r.body === 'object', `error body is JSON: ${r.text.slice(0, 200)}`);
  assert.deepEqual(Object.keys(r.body), ['error'], `only "error" at the top level: ${r.text.slice(0, 200)}`);
  const e = r.body.error;
  assert.equal(typeof e.code, 'string');
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0, 'a message is given');
  if (code) assert.equal(e.code, code, `code: ${r.text.slice(0, 300)}`);
  assert.doesNotMatch(r.text, /\bat [^\s]+ \(|\.ts:\d+|node_modules|stack/i, 'no stack trace in an error');
  return e;
}

/** Every item of a cursor-paginated listing, checking page sizes and termination. */
export async function walkPages(client: OrgClient, path: string, limit: number): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  for (let guard = 0; guard < 10_000; guard++) {
    const page: any = await client.ok('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, 200);
    assert.ok(Array.isArray(page.items));
    assert.ok(page.items.length <= limit, `a page holds at most ${limit} items, got ${page.items.length}`);
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    assert.equal(typeof page.nextCursor, 'string');
    assert.ok(page.items.length > 0, 'a page with a next cursor is not empty');
    cursor = page.nextCursor;
  }
  assert.fail('pagination did not terminate');
}
