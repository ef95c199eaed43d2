// Set-up shared by the benchmarks: an org with a sim provider over HTTP (as a CRM integration does
// it), and many users seeded through the backend's directory (putUser, one Lua call each) so a
// benchmark can give every click-to-call its own user (one live call per user is a dial rule).

import { pino } from 'pino';
import type { SimConfig } from '../../adapters/sim/index.js';
import type { UserInput } from '../../src/domain/types.js';
import { createBackend, type RedisSettings } from '../../src/store/backend.js';

export async function api(base: string, method: string, path: string, key: string, body?: unknown): Promise<any> {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export interface BenchOrg {
  orgId: string;
  apiKey: string;
  providerId: string;
}

/**
 * An org whose dial rate limits (and the one-live-call-per-agent rule) are lifted (the benchmark measures the gateway, not the limiter's
 * refusals), with a sim provider that takes every present and future user.
 */
export async function benchOrg(base: string, adminToken: string, name: string, sim: SimConfig): Promise<BenchOrg> {
  const org = await api(base, 'POST', '/v1/orgs', adminToken, { name });
  await api(base, 'PUT', '/v1/dial-policy', org.apiKey, {
    limits: { perUserPerMinute: 100_000, perOrgPerMinute: 1_000_000, perDestinationPerHour: 100_000, liveCallsPerUser: 1000 },
  });
  const provider = await api(base, 'POST', '/v1/providers', org.apiKey, {
    kind: 'sim',
    name: `${name} sim`,
    config: sim,
    install: { scope: 'all', futureUsers: true },
  });
  return { orgId: org.id, apiKey: org.apiKey, providerId: provider.id };
}

/**
 * Seeds `count` CA users (ids `${prefix}000001`...), each joining the org's future-users provider;
 * `fields(i)` adds to user i (its DIDs, its sipUri).
 */
export async function seedUsers(
  redis: string | RedisSettings,
  orgId: string,
  prefix: string,
  count: number,
  fields?: (i: number) => Partial<UserInput>,
): Promise<string[]> {
  // the gateway's own key prefix (src/main.ts passes none: the backend's default)
  const backend = await createBackend(
    { redis: typeof redis === 'string' ? { url: redis } : redis, queuePrefix: '{dialgate}', queueShards: 1, callRetentionSec: 86_400 },
    { logger: pino({ level: 'warn' }), role: 'bench-seed' },
  );
  await backend.whenConnected(5000);
  const now = new Date().toISOString();
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
  try {
    for (let i = 0; i < ids.length; i += 2000) {
      await Promise.all(ids.slice(i, i + 2000).map((id, k) => backend.directory.putUser(orgId, id, { region: 'CA', numbers: [], ...fields?.(i + k) }, now)));
    }
  } finally {
    await backend.close();
  }
  return ids;
}

/** A valid Toronto number per index (416 area code, exchanges from 200). */
export function torontoNumber(i: number): string {
  return `+1416${String(2_000_000 + (i % 7_999_999)).padStart(7, '0')}`;
}
