// Small per-org JSON settings: the dial policy, the routing policy, per-provider dial policy and
// limits, the CRM connection. Every write bumps the org's config version, which the call scripts
// check against the in-process snapshot the click was decided on (src/directory/org-config.ts).

export interface SettingsStore {
  get<T>(orgId: string, name: string): Promise<T | null>;
  put(orgId: string, name: string, value: unknown): Promise<void>;
  del(orgId: string, name: string): Promise<void>;
}
