// Shared set-up for the call suites: an org with a sim provider and users on it, through the
// public API only (so the suites exercise exactly what a CRM integration does).

import { randomBytes } from 'node:crypto';
import type { SimConfig } from '../../adapters/sim/index.js';
import type { Res, TestGateway } from '../helpers/gateway.js';

export const STORES = ['memory', 'redis', 'cluster'] as const;

export interface SimOrg {
  orgId: string;
  apiKey: string;
  providerId: string;
  /** the user on the sim provider (region CA) */
  userId: string;
}

/** A random NANP number that libphonenumber accepts as valid for CA (area code 416, Toronto). */
export function randomDid(): string {
  const n = 2000000 + (randomBytes(3).readUIntBE(0, 3) % 7999999);
  return `+1416${n}`;
}

export function uid(prefix = 'u'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export function must(r: Res, status: number, what: string): Res {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text}`);
  return r;
}

export async function putUser(gw: TestGateway, apiKey: string, userId: string, body: Record<string, unknown> = {}): Promise<Res> {
  return gw.req('PUT', `/v1/users/${userId}`, { key: apiKey, body: { region: 'CA', ...body } });
}

export async function installSim(gw: TestGateway, apiKey: string, config: SimConfig, userIds: string[]): Promise<string> {
  const r = must(
    await gw.req('POST', '/v1/providers', {
      key: apiKey,
      body: { kind: 'sim', name: 'sim ' + uid('p'), config, install: { scope: 'specific', userIds } },
    }),
    201,
    'install sim provider',
  );
  return r.body.id as string;
}

/**
 * Lifts the org's dial rate limits (per user / org / destination) so suites that are not about
 * them can place many calls; the one-live-call-per-user rule stays.
 */
export async function liftRateLimits(gw: TestGateway, apiKey: string): Promise<void> {
  must(
    await gw.req('PUT', '/v1/dial-policy', {
      key: apiKey,
      body: { limits: { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000 } },
    }),
    200,
    'lift dial limits',
  );
}

/** A fresh org with one CA user (optionally owning DIDs) on a sim provider configured as given. */
export async function simOrg(gw: TestGateway, config: SimConfig, user: { numbers?: string[] } = {}): Promise<SimOrg> {
  const org = await gw.createOrg('calls ' + uid('o'));
  await liftRateLimits(gw, org.apiKey);
  const userId = uid();
  must(await putUser(gw, org.apiKey, userId, { numbers: user.numbers ?? [] }), 201, 'put user');
  const providerId = await installSim(gw, org.apiKey, config, [userId]);
  return { orgId: org.id, apiKey: org.apiKey, providerId, userId };
}

/** Sim timings long enough that nothing progresses during a test unless it waits for it. */
export const FROZEN: SimConfig = { ringAfterMs: 3_600_000, answerAfterMs: 3_600_000, durationMs: 3_600_000 };
/** Calls that end (busy) as soon as they start: a user may place the next one right away. */
export const QUICK_BUSY: SimConfig = { ringAfterMs: 0, answerAfterMs: 0, outcome: 'busy' };
/** Fast sim timings for end-to-end progress. */
export const FAST: SimConfig = { ringAfterMs: 20, answerAfterMs: 40, durationMs: 60 };

export async function getCall(gw: TestGateway, apiKey: string, id: string): Promise<any> {
  return must(await gw.req('GET', `/v1/calls/${id}`, { key: apiKey }), 200, 'get call').body;
}

const TERMINAL = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);

/** Waits until a call has ended (its user's live-call slot is free again). */
export async function waitEnded(gw: TestGateway, apiKey: string, id: string, timeoutMs = 8000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await getCall(gw, apiKey, id);
    if (TERMINAL.has(c.status)) return c;
    if (Date.now() > deadline) throw new Error(`call ${id} still ${c.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
