// In-process snapshots of what the call path decides on: each org's configuration (providers,
// settings, regions, with the version every change bumps) and its users (with their versions).
// A click is decided on these without a Redis round trip; its script commits it only if the
// versions still hold (src/store/calls/port.ts: click), so "one provider per user" and a move
// stay atomic however stale a snapshot is. Reads outside the click path get snapshots at most
// SNAPSHOT_TTL_MS old.

import type { Provider } from '../domain/types.js';
import type { DirectoryStore, OrgConfig, VersionedUser } from '../store/directory/port.js';

/** how old a snapshot may be for reads that do not verify it (webhooks, explain, listings) */
export const SNAPSHOT_TTL_MS = 1000;
const MAX_ORGS = 10_000;
const MAX_USERS = 200_000;

export class OrgSnapshot {
  private readonly byId: Map<string, Provider>;

  constructor(
    readonly orgId: string,
    readonly config: OrgConfig,
    readonly loadedAt: number,
  ) {
    this.byId = new Map(config.providers.map((p) => [p.id, p]));
  }

  get version(): number {
    return this.config.version;
  }

  get regions(): string[] {
    return this.config.regions;
  }

  provider(id: string | null | undefined): Provider | undefined {
    return id ? this.byId.get(id) : undefined;
  }

  providers(): Provider[] {
    return this.config.providers;
  }

  setting<T>(name: string): T | null {
    const v = this.config.settings[name];
    return v === undefined ? null : (v as T);
  }
}

export class OrgConfigCache {
  private readonly snapshots = new Map<string, OrgSnapshot>();
  private readonly loading = new Map<string, Promise<OrgSnapshot>>();
  /** provider id → org id; provider ids are never reused, so this never goes stale */
  private readonly providerOrgs = new Map<string, string>();

  constructor(private readonly directory: DirectoryStore) {}

  /** The snapshot the click path decides on: any cached one (its script verifies the version). */
  forClick(orgId: string): Promise<OrgSnapshot> {
    const s = this.snapshots.get(orgId);
    return s ? Promise.resolve(s) : this.load(orgId);
  }

  /** A snapshot at most SNAPSHOT_TTL_MS old. */
  get(orgId: string): Promise<OrgSnapshot> {
    const s = this.snapshots.get(orgId);
    return s && Date.now() - s.loadedAt < SNAPSHOT_TTL_MS ? Promise.resolve(s) : this.load(orgId);
  }

  /** A fresh snapshot (one load at a time per org: concurrent callers share it). */
  load(orgId: string): Promise<OrgSnapshot> {
    const pending = this.loading.get(orgId);
    if (pending) return pending;
    const p = this.directory
      .orgConfig(orgId)
      .then((config) => {
        const s = new OrgSnapshot(orgId, config, Date.now());
        const cur = this.snapshots.get(orgId);
        // a slower load must not replace a newer snapshot
        if (!cur || cur.version <= s.version) {
          if (this.snapshots.size >= MAX_ORGS) this.snapshots.clear();
          this.snapshots.set(orgId, s);
        }
        return this.snapshots.get(orgId)!;
      })
      .finally(() => this.loading.delete(orgId));
    this.loading.set(orgId, p);
    return p;
  }

  /** After a change made through this instance: the next read loads it. */
  invalidate(orgId: string): void {
    this.snapshots.delete(orgId);
  }

  /** A provider by id alone (webhooks carry no org), from a snapshot at most SNAPSHOT_TTL_MS old. */
  async providerById(providerId: string): Promise<Provider | null> {
    let orgId = this.providerOrgs.get(providerId);
    if (!orgId) {
      orgId = (await this.directory.getProviderOrg(providerId)) ?? undefined;
      if (!orgId) return null;
      if (this.providerOrgs.size >= MAX_ORGS * 10) this.providerOrgs.clear();
      this.providerOrgs.set(providerId, orgId);
    }
    // a provider created since the snapshot (its first webhook can come during its install,
    // e.g. RingCentral validating the subscription address): look once more on a fresh one
    return (await this.get(orgId)).provider(providerId) ?? (await this.load(orgId)).provider(providerId) ?? null;
  }
}

/** Users as the click path last saw them, with their versions (verified by the click script). */
export class UserCache {
  private readonly users = new Map<string, VersionedUser>();

  private key(orgId: string, userId: string): string {
    return `${orgId}\u0000${userId}`;
  }

  get(orgId: string, userId: string): VersionedUser | undefined {
    return this.users.get(this.key(orgId, userId));
  }

  set(orgId: string, u: VersionedUser): void {
    // always the latest read: the assignment can change without the version (which covers the
    // profile), and the click script refuses whatever no longer holds anyway
    const k = this.key(orgId, u.user.id);
    // oldest out first (Map keeps insertion order): a bounded, roughly-LRU cache
    if (!this.users.has(k) && this.users.size >= MAX_USERS) this.users.delete(this.users.keys().next().value as string);
    this.users.set(k, u);
  }

  delete(orgId: string, userId: string): void {
    this.users.delete(this.key(orgId, userId));
  }
}
