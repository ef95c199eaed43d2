// Orgs and credentials in local mode.

import type { ApiKeyRecord, Org } from '../../domain/types.js';
import { byCodeUnit, clone, done, type MemoryData } from '../memory/state.js';
import { expired, type OrgStore } from './port.js';

export class MemoryOrgs implements OrgStore {
  constructor(private readonly data: MemoryData) {}

  createOrg(org: Org, key: ApiKeyRecord): Promise<void> {
    const s = this.data.org(org.id);
    s.org = clone(org);
    s.apiKeys.set(key.keyId, clone(key));
    this.data.apiKeys.set(key.keyId, clone(key));
    return done(undefined);
  }

  getOrg(orgId: string): Promise<Org | null> {
    const o = this.data.orgs.get(orgId)?.org;
    return done(o ? clone(o) : null);
  }

  listOrgIds(cursor: string, count: number): Promise<{ ids: string[]; next: string | null }> {
    const all = [...this.data.orgs.entries()].filter(([, s]) => s.org).map(([id]) => id).sort(byCodeUnit);
    const from = cursor === '' ? 0 : all.findIndex((id) => id > cursor);
    const ids = from < 0 ? [] : all.slice(from, from + count);
    return done({ ids, next: from >= 0 && from + count < all.length ? ids[ids.length - 1] : null });
  }

  getApiKey(keyId: string): Promise<ApiKeyRecord | null> {
    const k = this.data.apiKeys.get(keyId);
    // an agent token is found until its expiresAt, like its Redis key, which expires then
    if (!k || expired(k, Date.now())) return done(null);
    return done(clone(k));
  }

  putApiKey(key: ApiKeyRecord): Promise<void> {
    const own = this.data.org(key.orgId).apiKeys;
    const now = Date.now();
    for (const [id, k] of own) {
      if (!expired(k, now)) continue;
      own.delete(id);
      this.data.apiKeys.delete(id);
    }
    own.set(key.keyId, clone(key));
    this.data.apiKeys.set(key.keyId, clone(key));
    return done(undefined);
  }

  listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    const now = Date.now();
    const list = [...(this.data.orgs.get(orgId)?.apiKeys.values() ?? [])].filter((k) => !expired(k, now));
    return done(list.sort((a, b) => byCodeUnit(a.createdAt, b.createdAt) || byCodeUnit(a.keyId, b.keyId)).map(clone));
  }

  deleteApiKey(orgId: string, keyId: string, opts: { keepLastAdmin?: boolean } = {}): Promise<'deleted' | 'missing' | 'last_admin'> {
    const s = this.data.orgs.get(orgId);
    const rec = s?.apiKeys.get(keyId);
    if (!s || !rec) return done('missing');
    const isAdmin = (r: ApiKeyRecord) => r.scope !== 'read' && r.scope !== 'agent';
    if (opts.keepLastAdmin && isAdmin(rec) && [...s.apiKeys.values()].filter(isAdmin).length <= 1) return done('last_admin');
    s.apiKeys.delete(keyId);
    this.data.apiKeys.delete(keyId);
    return done('deleted');
  }

}
