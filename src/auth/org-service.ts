// Orgs: created with the operator token; the org's first API key (scope admin) is returned once.
import type { Org } from '../domain/types.js';
import { newId } from '../domain/random.js';
import type { AuditLog } from '../store/audit/port.js';
import type { OrgStore } from '../store/orgs/port.js';
import { generateCredential } from './api-keys.js';

/** The audit actor of what the operator token does. */
export const OPERATOR_ACTOR = 'operator';

export class OrgService {
  constructor(
    private readonly store: OrgStore,
    private readonly audit: AuditLog,
  ) {}

  async create(name: string): Promise<Org & { apiKey: string; keyId: string }> {
    const now = new Date().toISOString();
    const org: Org = { id: newId('org'), name, createdAt: now };
    const { secret, record } = generateCredential(org.id, now, { scope: 'admin', name: 'initial' });
    await this.store.createOrg(org, record);
    await this.audit.append(org.id, { actor: OPERATOR_ACTOR, action: 'org.create', target: { type: 'org', id: org.id }, after: { name, keyId: record.keyId } });
    return { ...org, apiKey: secret, keyId: record.keyId };
  }
}
