// Org API keys: `dgk_<keyId>_<secret>`. Only sha256(secret) is stored; a presented key is found by
// its id and its secret compared in constant time. Verified keys are cached briefly in-process so
// the hot path (every /v1 request) costs no Redis round trip.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord } from '../domain/types.js';
import type { OrgStore } from '../store/orgs/port.js';

const KEY_RE = /^dgk_([0-9a-f]{16})_([0-9a-f]{64})$/;
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 10_000;

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function generateApiKey(orgId: string, now: string): { apiKey: string; record: ApiKeyRecord } {
  const keyId = randomBytes(8).toString('hex');
  // hex: no '_' inside the secret, so the key splits unambiguously into prefix, id and secret
  const secret = randomBytes(32).toString('hex');
  return {
    apiKey: `dgk_${keyId}_${secret}`,
    record: { keyId, orgId, secretHash: sha256(secret).toString('hex'), createdAt: now },
  };
}

export interface Principal {
  orgId: string;
  keyId: string;
}

export class ApiKeyVerifier {
  private readonly cache = new Map<string, { record: ApiKeyRecord; until: number }>();

  constructor(private readonly store: OrgStore) {}

  /** The principal for a presented key, or null. Never throws for malformed input. */
  async verify(presented: string | undefined): Promise<Principal | null> {
    if (!presented) return null;
    const m = KEY_RE.exec(presented);
    if (!m) return null;
    const [, keyId, secret] = m;
    let rec: ApiKeyRecord | null | undefined;
    const hit = this.cache.get(keyId);
    if (hit && hit.until > Date.now()) rec = hit.record;
    else {
      rec = await this.store.getApiKey(keyId);
      if (rec) {
        if (this.cache.size >= CACHE_MAX) this.cache.clear();
        this.cache.set(keyId, { record: rec, until: Date.now() + CACHE_TTL_MS });
      }
    }
    if (!rec) return null;
    const expected = Buffer.from(rec.secretHash, 'hex');
    const got = sha256(secret);
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) return null;
    return { orgId: rec.orgId, keyId };
  }
}

/** Constant-time comparison of the operator token. */
export function operatorTokenMatches(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  return timingSafeEqual(sha256(presented), sha256(expected));
}

export function bearer(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}
