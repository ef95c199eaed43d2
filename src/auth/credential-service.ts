// The org's credentials: scoped API keys (listed without secrets, the key shown once, revocable)
// and agent tokens (short-lived, one user's, revocable; revoked too when the user is deleted,
// moved or unassigned: the directory bumps the user's token version). Every change is audited
// with the id of the credential that made it, never a secret.

import { DomainError } from '../domain/errors.js';
import type { ApiKeyRecord } from '../domain/types.js';
import type { AuditLog } from '../store/audit/port.js';
import type { DirectoryStore } from '../store/directory/port.js';
import type { OrgStore } from '../store/orgs/port.js';
import { generateCredential } from './api-keys.js';

export type ApiKeyScope = 'admin' | 'read';

export interface ApiKeyView {
  id: string;
  name: string;
  scope: ApiKeyScope;
  createdAt: string;
}

export interface AgentTokenView {
  id: string;
  userId: string;
  expiresAt: string;
}

export const AGENT_TOKEN_TTL = { defaultSec: 3600, maxSec: 86_400 } as const;

function keyView(r: ApiKeyRecord): ApiKeyView {
  return { id: r.keyId, name: r.name ?? (r.scope === undefined ? 'initial' : ''), scope: r.scope === 'read' ? 'read' : 'admin', createdAt: r.createdAt };
}

export class CredentialService {
  constructor(
    private readonly d: {
      orgs: OrgStore;
      directory: Pick<DirectoryStore, 'getUser' | 'tokenVersion'>;
      audit: AuditLog;
    },
  ) {}

  /** The org's API keys (agent tokens are not listed), oldest first. */
  async listKeys(orgId: string): Promise<ApiKeyView[]> {
    return (await this.d.orgs.listApiKeys(orgId)).filter((r) => r.scope !== 'agent').map(keyView);
  }

  async createKey(orgId: string, input: { name: string; scope: ApiKeyScope }, actor: string): Promise<ApiKeyView & { apiKey: string }> {
    const { secret, record } = generateCredential(orgId, new Date().toISOString(), { scope: input.scope, name: input.name });
    await this.d.orgs.putApiKey(record);
    const view = keyView(record);
    await this.d.audit.append(orgId, { actor, action: 'api_key.create', target: { type: 'api_key', id: record.keyId }, after: view });
    return { ...view, apiKey: secret };
  }

  /**
   * Revokes an API key of the org. The org's last admin key is kept (409 last_admin_key): without
   * one nobody could manage the org any more.
   */
  async revokeKey(orgId: string, keyId: string, actor: string): Promise<void> {
    const rec = await this.d.orgs.getApiKey(keyId);
    if (!rec || rec.orgId !== orgId || rec.scope === 'agent') throw new DomainError('not_found', `no API key ${keyId}`);
    const view = keyView(rec);
    // the check and the delete are one step in the backend: two concurrent revocations of the
    // last two admin keys cannot both succeed
    const r = await this.d.orgs.deleteApiKey(orgId, keyId, { keepLastAdmin: true });
    if (r === 'last_admin') throw new DomainError('last_admin_key', 'this is the org\'s last admin key: create another admin key before revoking it');
    if (r === 'missing') throw new DomainError('not_found', `no API key ${keyId}`);
    await this.d.audit.append(orgId, { actor, action: 'api_key.revoke', target: { type: 'api_key', id: keyId }, before: view });
  }

  async createAgentToken(orgId: string, input: { userId: string; ttlSec?: number }, actor: string): Promise<AgentTokenView & { token: string }> {
    // the version first: a delete or move landing after it revokes the token minted below
    const tokenVersion = await this.d.directory.tokenVersion(orgId, input.userId);
    if (!(await this.d.directory.getUser(orgId, input.userId))) throw new DomainError('user_not_found', `user ${input.userId} not found`);
    const ttlSec = input.ttlSec ?? AGENT_TOKEN_TTL.defaultSec;
    const now = Date.now();
    const expiresAt = new Date(now + ttlSec * 1000).toISOString();
    const { secret, record } = generateCredential(orgId, new Date(now).toISOString(), { scope: 'agent', userId: input.userId, expiresAt, tokenVersion });
    await this.d.orgs.putApiKey(record);
    const view: AgentTokenView = { id: record.keyId, userId: input.userId, expiresAt };
    await this.d.audit.append(orgId, { actor, action: 'agent_token.create', target: { type: 'agent_token', id: record.keyId }, after: view });
    return { ...view, token: secret };
  }

  async revokeAgentToken(orgId: string, tokenId: string, actor: string): Promise<void> {
    const rec = await this.d.orgs.getApiKey(tokenId);
    if (!rec || rec.orgId !== orgId || rec.scope !== 'agent' || (await this.d.orgs.deleteApiKey(orgId, tokenId)) !== 'deleted') throw new DomainError('not_found', `no agent token ${tokenId}`);
    await this.d.audit.append(orgId, { actor, action: 'agent_token.revoke', target: { type: 'agent_token', id: tokenId }, before: { id: tokenId, userId: rec.userId, expiresAt: rec.expiresAt } });
  }
}
