// Load generators for the benchmarks, on undici Pools (keep-alive, no pipelining):
//  - closedLoop: a fixed number of workers, each sending its next request when the last one
//    answered, for a duration (throughput at fixed concurrency);
//  - openLoop: requests started on a fixed schedule whether or not earlier ones answered (latency
//    at a fixed rate; a slow server shows up as latency and in-flight growth, not as a lower rate).

import { Pool } from 'undici';
import { percentile } from './table.js';

export interface LoadRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  /** requests answered with the expected status */
  ok: number;
  /** other statuses and transport errors, by status code or error code */
  errors: Record<string, number>;
  seconds: number;
  /** ok requests per second */
  rps: number;
  p50: number;
  p99: number;
  /** latencies in ms of the ok requests */
  latencies: Float64Array;
  maxInFlight: number;
}

function summarise(lat: number[], errors: Record<string, number>, seconds: number, maxInFlight: number): LoadResult {
  const latencies = Float64Array.from(lat);
  return {
    ok: lat.length,
    errors,
    seconds,
    rps: lat.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    latencies,
    maxInFlight,
  };
}

export function errorCount(r: LoadResult): number {
  return Object.values(r.errors).reduce((a, b) => a + b, 0);
}

export function errorSummary(r: LoadResult): string {
  const e = Object.entries(r.errors);
  return e.length ? e.map(([k, v]) => `${k}×${v}`).join(' ') : '0';
}

async function once(pool: Pool, req: LoadRequest, expect: number): Promise<string | null> {
  try {
    const res = await pool.request({ method: req.method, path: req.path, headers: req.headers, body: req.body, headersTimeout: 30_000, bodyTimeout: 30_000 });
    await res.body.text();
    return res.statusCode === expect ? null : String(res.statusCode);
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  }
}

export function pool(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
}

/**
 * `concurrency` workers for `seconds`, each taking requests from `next` (undefined = no more:
 * the run ends early). Counts only answers with status `expect` as ok.
 */
export async function closedLoop(
  p: Pool,
  opts: { concurrency: number; seconds: number; expect: number; next: () => LoadRequest | undefined },
): Promise<LoadResult> {
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  const t0 = performance.now();
  const end = t0 + opts.seconds * 1000;
  let inFlight = 0;
  let maxInFlight = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const req = opts.next();
      if (!req) return;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const t = performance.now();
      const err = await once(p, req, opts.expect);
      inFlight--;
      if (err) errors[err] = (errors[err] ?? 0) + 1;
      else lat.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return summarise(lat, errors, (performance.now() - t0) / 1000, maxInFlight);
}

/**
 * `count` requests started `rate` per second. `onSent(i, t)` sees each start time (to measure
 * what happens elsewhere, e.g. a WebSocket message). The result's `seconds` runs from the first
 * start to the last answer.
 */
export async function openLoop(
  p: Pool,
  opts: { rate: number; count: number; expect: number; make: (i: number) => LoadRequest; onSent?: (i: number, t: number) => void },
): Promise<LoadResult & { sendSeconds: number }> {
  const lat: number[] = [];
  const errors: Record<string, number> = {};
  const pending: Promise<void>[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const t0 = performance.now();
  const interval = 1000 / opts.rate;
  for (let i = 0; i < opts.count; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    // timers are coarse: sleep when well ahead, else send at once (a late tick catches up)
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const req = opts.make(i);
    const t = performance.now();
    opts.onSent?.(i, t);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    pending.push(
      once(p, req, opts.expect).then((err) => {
        inFlight--;
        if (err) errors[err] = (errors[err] ?? 0) + 1;
        else lat.push(performance.now() - t);
      }),
    );
  }
  const sendSeconds = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  return { ...summarise(lat, errors, (performance.now() - t0) / 1000, maxInFlight), sendSeconds };
}
