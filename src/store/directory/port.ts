// Users, providers and their assignments (DESIGN rules 1-7). Every method that touches more than
// one record is atomic: one Lua script on Redis, one synchronous step in memory.

import type { AssignResult, BreakerSettings, Page, Provider, User, UserInput } from '../../domain/types.js';

export interface ProviderInput {
  kind: string;
  name: string;
  config: Record<string, unknown>;
  regions: { allow?: string[]; deny?: string[] };
  priority: number;
  scope: 'all' | 'specific';
  futureUsers: boolean;
  recording?: 'off' | 'on';
  voicemail?: 'off' | 'on';
  health?: BreakerSettings;
}

export interface ProviderPatch {
  name?: string;
  config?: Record<string, unknown>;
  regions?: { allow?: string[]; deny?: string[] };
  priority?: number;
  futureUsers?: boolean;
  recording?: 'off' | 'on';
  voicemail?: 'off' | 'on';
  /** null: back to the defaults */
  health?: BreakerSettings | null;
}

export interface PutUserResult {
  user: User;
  created: boolean;
}

/** A user with the version of its profile (bumped by every put): the call scripts check it. */
export interface VersionedUser {
  user: User;
  version: number;
}

/**
 * What the call path decides on, read at once and cached in each instance: the org's providers,
 * its settings (policies, CRM) and the regions of its users, with the config version every
 * change bumps. A click is decided on a snapshot and its script refuses it if the version moved.
 */
export interface OrgConfig {
  version: number;
  providers: Provider[];
  /** setting name → parsed value */
  settings: Record<string, unknown>;
  regions: string[];
}

export interface UserQuery {
  limit: number;
  cursor?: string;
  providerId?: string;
  region?: string;
  unassigned?: boolean;
}

export interface DirectoryStore {
  /**
   * Create or replace a user's profile. Atomic: DIDs must be unused by other users of the org
   * (DomainError number_taken); on create, the user joins the best future-users provider that serves
   * their region (lowest priority, then oldest); on update, a region that the current provider
   * does not serve is refused (region_unavailable) and the assignment is kept.
   */
  putUser(orgId: string, userId: string, input: UserInput, now: string): Promise<PutUserResult>;
  getUser(orgId: string, userId: string): Promise<User | null>;
  getUserVersioned(orgId: string, userId: string): Promise<VersionedUser | null>;
  /**
   * The user's agent-token version: 0 at first, bumped by deleteUser, moveUser (when the user
   * actually moves), unassignUser and a forced deleteProvider, and kept when the user is deleted
   * (a user created again under the id does not revive old tokens). A token minted at an older
   * version is revoked.
   */
  tokenVersion(orgId: string, userId: string): Promise<number>;
  /** Removes the user, their assignment and their DIDs. false when there was none. */
  deleteUser(orgId: string, userId: string): Promise<boolean>;
  listUsers(orgId: string, q: UserQuery): Promise<Page<User>>;
  /** The distinct regions of the org's users (the default allowed destinations of its calls). */
  orgRegions(orgId: string): Promise<string[]>;
  /** The user owning a DID in the org, or null. */
  findUserByNumber(orgId: string, e164: string): Promise<User | null>;
  orgConfig(orgId: string): Promise<OrgConfig>;

  /**
   * Stores the provider record only (assign users with assignUsers / installAll afterwards).
   * Provider ids are global, since webhooks resolve the org from the provider id alone: an id
   * already used by any org is refused with DomainError validation_failed.
   */
  createProvider(orgId: string, providerId: string, input: ProviderInput, now: string): Promise<Provider>;
  getProvider(orgId: string, providerId: string): Promise<Provider | null>;
  /** Resolves the org of a provider id (webhooks carry only the provider id). */
  getProviderOrg(providerId: string): Promise<string | null>;
  listProviders(orgId: string): Promise<Provider[]>;
  /** New regions must still serve every user of the provider (DomainError region_unavailable). */
  updateProvider(orgId: string, providerId: string, patch: ProviderPatch, now: string): Promise<Provider>;
  /**
   * Uninstall. Refused with DomainError provider_has_users {count} when users remain and !force;
   * with force, unassigns every user in the same atomic step. false when there was no provider.
   */
  deleteProvider(orgId: string, providerId: string, force: boolean): Promise<boolean>;
  userCount(orgId: string, providerId: string): Promise<number>;
  userCounts(orgId: string): Promise<Record<string, number>>;
  listProviderUsers(orgId: string, providerId: string, q: { limit: number; cursor?: string }): Promise<Page<User>>;

  /** Assigns each user unless assigned elsewhere, outside the provider's regions, or unknown. Each user atomically. */
  assignUsers(orgId: string, providerId: string, userIds: string[]): Promise<AssignResult>;
  /** Leaves the user unassigned. false when the user was not on this provider. */
  unassignUser(orgId: string, providerId: string, userId: string): Promise<boolean>;
  /** Uninstall-from-old + add-to-new as one atomic step (DomainError region_unavailable / user_not_found / provider_not_found). */
  moveUser(orgId: string, userId: string, toProviderId: string): Promise<User>;
  /**
   * Installs for all users: scope becomes "all" (and futureUsers as given) and every unassigned
   * user the provider serves joins it; users on other providers and users outside its regions are
   * reported as conflicts. Batched on Redis so a 100k-user org never blocks it for long; each
   * user's assignment is atomic. `assigned` lists the users this call added, in id order; users
   * already on the provider appear in neither list. A user created while a batched run is under
   * way is covered by futureUsers (set by the first batch), not necessarily by the run itself.
   */
  installAll(orgId: string, providerId: string, futureUsers: boolean, now: string): Promise<AssignResult>;
}
