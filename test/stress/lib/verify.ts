// The exactly-once check: every acknowledged call has its one call log at the webhook CRM.

import type { CrmProc, GatewayProc } from './cluster.js';
import { send } from './http.js';
import { sleep } from './proc.js';

export interface LogCheck {
  acked: number;
  logged: number;
  missing: string[];
  /** deliveries the CRM had already stored (same Idempotency-Key sent again) */
  redeliveries: number;
  /** seconds from the start of the wait until the last acknowledged call was logged */
  drainSec: number;
}

/** Waits (bounded) until every acked call id is stored at the CRM; reports what is missing. */
export async function waitForLogs(crm: CrmProc, acked: Iterable<string>, timeoutMs: number): Promise<LogCheck> {
  const want = new Set(acked);
  const t0 = Date.now();
  let stats = await crm.stats();
  let missing: string[] = [];
  for (;;) {
    const have = new Set(stats.deliveries);
    missing = [...want].filter((id) => !have.has(id));
    if (missing.length === 0 || Date.now() - t0 > timeoutMs) break;
    await sleep(500);
    stats = await crm.stats();
  }
  return { acked: want.size, logged: want.size - missing.length, missing, redeliveries: stats.duplicates, drainSec: (Date.now() - t0) / 1000 };
}

/** Where a few missing calls stand (status, crmLog), for the failure message. */
export async function describeMissing(g: GatewayProc, key: string, ids: string[], n = 5): Promise<string> {
  const out: string[] = [];
  for (const id of ids.slice(0, n)) {
    const r = await send(g.url, 'GET', `/v1/calls/${id}`, { key, timeoutMs: 5000 });
    out.push(`${id}: ${r.status} status=${r.body?.status} crmLog=${JSON.stringify(r.body?.crmLog ?? null)} history=${(r.body?.history ?? []).map((h: any) => h.status).join('>')}`);
  }
  return out.join('; ');
}
