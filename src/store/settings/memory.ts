// Settings in local mode; each write bumps the org's config version, like its Redis twin.

import { atomic, done, type MemoryData } from '../memory/state.js';
import type { SettingsStore } from './port.js';

export class MemorySettings implements SettingsStore {
  constructor(private readonly data: MemoryData) {}

  get<T>(orgId: string, name: string): Promise<T | null> {
    const v = this.data.orgs.get(orgId)?.settings.get(name);
    return done(v === undefined ? null : (JSON.parse(v) as T));
  }

  put(orgId: string, name: string, value: unknown): Promise<void> {
    return atomic(() => {
      const json = JSON.stringify(value); // a value JSON refuses rejects, and changes nothing
      const s = this.data.org(orgId);
      s.settings.set(name, json);
      s.version++;
    });
  }

  /** Like its Redis twin (one MULTI: HDEL, INCR), a delete moves the version even when there was nothing to delete. */
  del(orgId: string, name: string): Promise<void> {
    const s = this.data.org(orgId);
    s.settings.delete(name);
    s.version++;
    return done(undefined);
  }
}
