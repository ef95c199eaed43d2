// The suite's HTTP client: undici pools per origin, bounded timeouts on every request, and the
// response time of each request measured on the client side. A transport error (refused,
// reset, timeout) is status 0 with its code, never an exception, so request loops keep going.

import { Pool, type Dispatcher } from 'undici';

export interface Reply {
  status: number;
  body: any;
  text: string;
  headers: Record<string, string | string[] | undefined>;
  ms: number;
  /** transport error code when status is 0 */
  error?: string;
}

export interface SendOpts {
  key?: string;
  body?: unknown;
  /** sent as is (with the content type given in headers, if any) */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

const pools = new Map<string, Pool>();

function pool(origin: string, connections: number): Pool {
  let p = pools.get(origin);
  if (!p) {
    p = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 4_000, connect: { timeout: 5_000 } });
    pools.set(origin, p);
  }
  return p;
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.destroy().catch(() => {})));
}

export async function send(base: string, method: string, path: string, opts: SendOpts = {}, connections = 256): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const t0 = performance.now();
  const timeout = opts.timeoutMs ?? 30_000;
  try {
    const res = await pool(base, connections).request({
      method: method as Dispatcher.HttpMethod,
      path,
      headers,
      body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const text = await res.body.text();
    const ms = performance.now() - t0;
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, body: json, text, headers: res.headers as Reply['headers'], ms };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    return { status: 0, body: undefined, text: '', headers: {}, ms: performance.now() - t0, error: err.code ?? err.cause?.code ?? err.name };
  }
}

/** Like send, but throws unless the status is the expected one (set-up steps). */
export async function must(base: string, method: string, path: string, opts: SendOpts, expect: number | number[]): Promise<any> {
  const r = await send(base, method, path, opts);
  const ok = Array.isArray(expect) ? expect.includes(r.status) : r.status === expect;
  if (!ok) throw new Error(`${method} ${path} answered ${r.status}${r.error ? ` (${r.error})` : ''}: ${r.text.slice(0, 300)}`);
  return r.body;
}
