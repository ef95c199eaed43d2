// The org's CRM connection: validated per kind, secrets write-only, every change audited; the
// failed call logs and their retry; and Zoho PhoneBridge's click-to-dial.

import { Ajv, type ValidateFunction } from 'ajv';
import type { AuditLog } from '../audit/audit-log.js';
import type { CallService, HttpOutcome } from '../calls/call-service.js';
import { DomainError } from '../domain/errors.js';
import type { FailedCallLog } from '../jobs/call-log-queue.js';
import { keepSecrets, redact } from '../providers/secrets.js';
import type { Store } from '../store/store.js';
import type { CrmKindDefinition } from './adapter.js';

export interface FailedLogs {
  listFailed(orgId: string): Promise<FailedCallLog[]>;
  retryFailed(orgId: string, callId: string): Promise<boolean>;
}

export class CrmService {
  private readonly kinds = new Map<string, CrmKindDefinition>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    private readonly store: Store,
    kinds: CrmKindDefinition[],
    private readonly audit: AuditLog,
    private readonly failed: FailedLogs,
    private readonly calls: CallService,
  ) {
    const ajv = new Ajv({ strict: false, allErrors: false, coerceTypes: false, removeAdditional: false });
    for (const k of kinds) {
      this.kinds.set(k.kind, k);
      this.validators.set(k.kind, ajv.compile({ ...k.configSchema, properties: { ...(k.configSchema.properties as object), kind: { const: k.kind } } }));
    }
  }

  kindNames(): string[] {
    return [...this.kinds.keys()];
  }

  private secretsOf(kind: string): string[] {
    return this.kinds.get(kind)?.secretFields ?? [];
  }

  async get(orgId: string): Promise<Record<string, unknown> | null> {
    const cfg = await this.store.getCrmConfig(orgId);
    return cfg ? redact(cfg, this.secretsOf(String(cfg.kind))) : null;
  }

  async put(orgId: string, body: Record<string, unknown>, actor: string): Promise<Record<string, unknown>> {
    const kind = String(body.kind);
    const v = this.validators.get(kind);
    if (!v) throw new DomainError('validation_failed', `unknown CRM kind "${kind}" (known: ${this.kindNames().join(', ')})`);
    const prev = await this.store.getCrmConfig(orgId);
    // secrets sent back redacted (or left out) keep their stored value, if the kind is unchanged
    const next = prev && prev.kind === kind ? keepSecrets(body, prev, this.secretsOf(kind)) : body;
    if (!v(next)) {
      const e = v.errors?.[0];
      const where = e?.instancePath ? e.instancePath.replace(/^\//, '').replace(/\//g, '.') : 'body';
      throw new DomainError('validation_failed', `${where} ${e?.message ?? 'is invalid'} for CRM kind ${kind}`);
    }
    await this.store.putCrmConfig(orgId, next);
    const after = redact(next, this.secretsOf(kind));
    await this.audit.append(orgId, {
      actor,
      action: 'crm.update',
      target: { type: 'crm', id: kind },
      before: prev ? redact(prev, this.secretsOf(String(prev.kind))) : undefined,
      after,
    });
    return after;
  }

  listFailed(orgId: string): Promise<FailedCallLog[]> {
    return this.failed.listFailed(orgId);
  }

  async retryFailed(orgId: string, callId: string, actor: string): Promise<void> {
    if (!(await this.failed.retryFailed(orgId, callId))) throw new DomainError('call_not_found', `no failed call log for call ${callId}`);
    await this.audit.append(orgId, { actor, action: 'crm.retry_failed', target: { type: 'call', id: callId } });
  }

  /**
   * Zoho PhoneBridge click-to-dial: Zoho calls the URI registered for one of our users; the
   * authorisation parameter must match the org's PhoneBridge config, and Zoho's user must be the
   * one that URI belongs to. The call then goes exactly like POST /v1/calls (policy included).
   */
  async phonebridgeClickToDial(
    orgId: string,
    userId: string,
    params: Record<string, unknown>,
    parse: (params: Record<string, unknown>, auth: { authParamName?: string; authParamValue?: string }) => { zohoUser: string | null; to: string | null; authorized: boolean },
  ): Promise<HttpOutcome> {
    const cfg = await this.store.getCrmConfig(orgId);
    if (!cfg || cfg.kind !== 'zoho' || cfg.mode !== 'phonebridge') {
      throw new DomainError('not_found', 'this org has no Zoho PhoneBridge connection');
    }
    const req = parse(params, (cfg.phonebridge ?? {}) as { authParamName?: string; authParamValue?: string });
    if (!req.authorized) throw new DomainError('unauthorized', 'the PhoneBridge authorisation parameter is missing or wrong');
    const user = await this.store.getUser(orgId, userId);
    if (!user) throw new DomainError('user_not_found', `user ${userId} not found`);
    if (req.zohoUser && user.crmUserId && req.zohoUser !== user.crmUserId) {
      throw new DomainError('forbidden', 'the Zoho user does not match this click-to-dial URI');
    }
    if (!req.to) throw new DomainError('validation_failed', 'tonumber is required');
    return this.calls.clickToCall(orgId, { userId, to: req.to }, undefined, 'zoho-phonebridge');
  }
}
