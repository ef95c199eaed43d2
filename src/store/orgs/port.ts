// Orgs and their credentials: the org record, and the API keys and agent tokens that act for it.
// A credential is found by its id alone (every request presents one), so its record has a global
// key; the org also lists its own (for GET /v1/api-keys and revocation).

import type { ApiKeyRecord, Org } from '../../domain/types.js';

/** An agent token past its expiresAt (API keys never expire). */
export function expired(key: ApiKeyRecord, nowMs: number): boolean {
  return key.expiresAt !== undefined && !(Date.parse(key.expiresAt) > nowMs);
}

export interface OrgStore {
  createOrg(org: Org, key: ApiKeyRecord): Promise<void>;
  getOrg(orgId: string): Promise<Org | null>;
  /** Every org id, a page at a time (housekeeping walks them). `cursor` '' starts; null next = done. */
  listOrgIds(cursor: string, count: number): Promise<{ ids: string[]; next: string | null }>;
  getApiKey(keyId: string): Promise<ApiKeyRecord | null>;
  /** Stores (or replaces) a credential; putting one also forgets the org's expired agent tokens. */
  putApiKey(key: ApiKeyRecord): Promise<void>;
  /** The org's credentials that still work (expired agent tokens left out), oldest first. */
  listApiKeys(orgId: string): Promise<ApiKeyRecord[]>;
  /** Revokes one credential of the org: false when the org has no such key. */
  /**
   * Revokes a key or token. With keepLastAdmin the org's last admin key stays (decided in the same
   * atomic step as the delete): 'last_admin'.
   */
  deleteApiKey(orgId: string, keyId: string, opts?: { keepLastAdmin?: boolean }): Promise<'deleted' | 'missing' | 'last_admin'>;
}
