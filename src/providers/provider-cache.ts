// Providers change rarely and are read on every click and every webhook: a short in-process
// cache saves those round trips. A change made through this instance takes effect at once
// (invalidate); one made through another instance within TTL_MS.

import type { Provider } from '../domain/types.js';
import type { Store } from '../store/store.js';

const TTL_MS = 1000;
const MAX = 10_000;

export class ProviderCache {
  private readonly byId = new Map<string, { p: Promise<Provider | null>; until: number }>();

  constructor(private readonly store: Store) {}

  /** The provider by id alone (webhooks carry no org), with its org. */
  async byProviderId(providerId: string): Promise<Provider | null> {
    const hit = this.byId.get(providerId);
    if (hit && hit.until > Date.now()) return hit.p;
    const p = this.store.getProviderOrg(providerId).then((orgId) => (orgId ? this.store.getProvider(orgId, providerId) : null));
    this.put(providerId, p);
    return p;
  }

  /** The provider of an org. */
  async get(orgId: string, providerId: string): Promise<Provider | null> {
    const hit = this.byId.get(providerId);
    if (hit && hit.until > Date.now()) {
      const p = await hit.p;
      return p && p.orgId === orgId ? p : null;
    }
    const p = this.store.getProvider(orgId, providerId);
    this.put(providerId, p);
    return p;
  }

  private put(providerId: string, p: Promise<Provider | null>): void {
    if (this.byId.size >= MAX) this.byId.clear();
    const entry = { p, until: Date.now() + TTL_MS };
    this.byId.set(providerId, entry);
    // a failed read is not cached
    p.catch(() => this.byId.get(providerId) === entry && this.byId.delete(providerId));
  }

  invalidate(providerId: string): void {
    this.byId.delete(providerId);
  }
}
