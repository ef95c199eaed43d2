// Orgs and their keys: created with the operator token; the API key is returned once.
import type { Org } from '../domain/types.js';
import { newId } from '../domain/random.js';
import type { OrgStore } from '../store/orgs/port.js';
import { generateApiKey } from './api-keys.js';

export class OrgService {
  constructor(private readonly store: OrgStore) {}

  async create(name: string): Promise<Org & { apiKey: string; keyId: string }> {
    const now = new Date().toISOString();
    const org: Org = { id: newId('org'), name, createdAt: now };
    const { apiKey, record } = generateApiKey(org.id, now);
    await this.store.createOrg(org, record);
    return { ...org, apiKey, keyId: record.keyId };
  }
}
