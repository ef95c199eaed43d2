// Credentials: org API keys `dgk_<id>_<secret>` (scope admin or read) and agent tokens
// `dga_<id>_<secret>` (act as one user until they expire). Only sha256(secret) is stored; a
// presented credential is found by its id and its secret compared in constant time.
//
// Verified records are cached in-process for at most CACHE_TTL_MS, so the hot path (every /v1
// request) mostly costs no Redis round trip while a revocation, made on any instance, is refused
// on every instance within a second: the cache is that short rather than invalidated by messages.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, KeyScope } from '../domain/types.js';
import type { DirectoryStore } from '../store/directory/port.js';
import { expired, type OrgStore } from '../store/orgs/port.js';

const CREDENTIAL_RE = /^(dgk|dga)_([0-9a-f]{16})_([0-9a-f]{64})$/;
/** How stale a verified credential may be: a revoked one is refused everywhere within this (< 1 s). */
export const CACHE_TTL_MS = 800;
const CACHE_MAX = 10_000;

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * A new credential of the org: the text shown once and the record stored. `extra` says what it is
 * (scope, name; for agent tokens userId, expiresAt and tokenVersion).
 */
export function generateCredential(orgId: string, now: string, extra: Omit<ApiKeyRecord, 'keyId' | 'orgId' | 'secretHash' | 'createdAt'>): { secret: string; record: ApiKeyRecord } {
  const keyId = randomBytes(8).toString('hex');
  // hex: no '_' inside the secret, so the text splits unambiguously into prefix, id and secret
  const secret = randomBytes(32).toString('hex');
  const prefix = extra.scope === 'agent' ? 'dga' : 'dgk';
  return {
    secret: `${prefix}_${keyId}_${secret}`,
    record: { keyId, orgId, secretHash: sha256(secret).toString('hex'), createdAt: now, ...extra },
  };
}

export interface Principal {
  orgId: string;
  /** the credential's id: the actor in the audit log (never the secret) */
  keyId: string;
  scope: KeyScope;
  /** agent tokens: the user they act as */
  userId?: string;
}

export class ApiKeyVerifier {
  private readonly cache = new Map<string, { record: ApiKeyRecord | null; until: number }>();

  constructor(
    private readonly store: Pick<OrgStore, 'getApiKey'>,
    private readonly users: Pick<DirectoryStore, 'tokenVersion'>,
  ) {}

  /** The principal for a presented credential, or null. Never throws for malformed input. */
  async verify(presented: string | undefined): Promise<Principal | null> {
    if (!presented) return null;
    const m = CREDENTIAL_RE.exec(presented);
    if (!m) return null;
    const [, prefix, keyId, secret] = m;
    const rec = await this.lookup(keyId);
    if (!rec || expired(rec, Date.now())) return null;
    const scope = rec.scope ?? 'admin';
    // a key's id presented as a token (or the reverse) is not that credential
    if ((prefix === 'dga') !== (scope === 'agent')) return null;
    const expected = Buffer.from(rec.secretHash, 'hex');
    const got = sha256(secret);
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) return null;
    return scope === 'agent' ? { orgId: rec.orgId, keyId, scope, userId: rec.userId } : { orgId: rec.orgId, keyId, scope };
  }

  /** The live record of a credential id (an agent token whose user was deleted or moved is none). */
  private async lookup(keyId: string): Promise<ApiKeyRecord | null> {
    const now = Date.now();
    const hit = this.cache.get(keyId);
    if (hit && hit.until > now) return hit.record;
    let rec = await this.store.getApiKey(keyId);
    // unknown ids are not cached: a flood of made-up ids must not push the real ones out
    if (!rec) {
      this.cache.delete(keyId);
      return null;
    }
    if (rec.scope === 'agent' && (!rec.userId || (await this.users.tokenVersion(rec.orgId, rec.userId)) !== (rec.tokenVersion ?? 0))) rec = null;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(keyId, { record: rec, until: now + CACHE_TTL_MS });
    return rec;
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
