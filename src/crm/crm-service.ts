// The org's CRM connection: validated per kind, secrets write-only, every change audited; the
// failed call logs and their retry; and the CRM's own requests to the gateway, handed to its
// kind's inbound hook (e.g. Zoho PhoneBridge's click-to-dial) like provider webhooks are.

import { Ajv, type ValidateFunction } from 'ajv';
import type { Dispatcher } from '../calls/dispatch.js';
import { DomainError } from '../domain/errors.js';
import type { WebhookReply, WebhookRequest } from '../providers/adapter.js';
import { keepSecrets, redact } from '../providers/secrets.js';
import type { AuditLog } from '../store/audit/port.js';
import type { DirectoryStore } from '../store/directory/port.js';
import type { CallLogQueue, FailedCallLog } from '../store/queues/port.js';
import type { SettingsStore } from '../store/settings/port.js';
import type { CrmKindDefinition } from './adapter.js';
import { CRM_SETTING } from './connectors.js';

export interface CrmServiceDeps {
  kinds: CrmKindDefinition[];
  settings: SettingsStore;
  directory: DirectoryStore;
  audit: AuditLog;
  failed: Pick<CallLogQueue, 'listFailed' | 'retryFailed'>;
  dispatcher: Pick<Dispatcher, 'clickToCall'>;
}

export class CrmService {
  private readonly kinds = new Map<string, CrmKindDefinition>();
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly deps: CrmServiceDeps) {
    // unknown fields are refused: a typo in a CRM setting must not be stored and silently ignored
    const ajv = new Ajv({ strict: false, allErrors: false, coerceTypes: false, removeAdditional: false });
    for (const k of deps.kinds) {
      this.kinds.set(k.kind, k);
      this.validators.set(
        k.kind,
        ajv.compile({ ...k.configSchema, additionalProperties: false, properties: { ...(k.configSchema.properties as object), kind: { const: k.kind } } }),
      );
    }
  }

  kindNames(): string[] {
    return [...this.kinds.keys()];
  }

  private secretsOf(kind: string): string[] {
    return this.kinds.get(kind)?.secretFields ?? [];
  }

  async get(orgId: string): Promise<Record<string, unknown> | null> {
    const cfg = await this.deps.settings.get<Record<string, unknown>>(orgId, CRM_SETTING);
    return cfg ? redact(cfg, this.secretsOf(String(cfg.kind))) : null;
  }

  async put(orgId: string, body: Record<string, unknown>, actor: string): Promise<Record<string, unknown>> {
    const kind = String(body.kind);
    const v = this.validators.get(kind);
    if (!v) throw new DomainError('validation_failed', `unknown CRM kind "${kind}" (known: ${this.kindNames().join(', ')})`);
    const prev = await this.deps.settings.get<Record<string, unknown>>(orgId, CRM_SETTING);
    // secrets sent back redacted (or left out) keep their stored value, if the kind is unchanged
    const next = prev && prev.kind === kind ? keepSecrets(body, prev, this.secretsOf(kind)) : body;
    if (!v(next)) {
      const e = v.errors?.[0];
      const where = e?.instancePath ? e.instancePath.replace(/^\//, '').replace(/\//g, '.') : 'body';
      const extra = e?.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty?: string }).additionalProperty})` : '';
      throw new DomainError('validation_failed', `${where} ${e?.message ?? 'is invalid'}${extra} for CRM kind ${kind}`);
    }
    await this.deps.settings.put(orgId, CRM_SETTING, next);
    const after = redact(next, this.secretsOf(kind));
    await this.deps.audit.append(orgId, {
      actor,
      action: 'crm.update',
      target: { type: 'crm', id: kind },
      before: prev ? redact(prev, this.secretsOf(String(prev.kind))) : undefined,
      after,
    });
    return after;
  }

  listFailed(orgId: string): Promise<FailedCallLog[]> {
    return this.deps.failed.listFailed(orgId);
  }

  async retryFailed(orgId: string, callId: string, actor: string): Promise<void> {
    if (!(await this.deps.failed.retryFailed(orgId, callId))) throw new DomainError('call_not_found', `no failed call log for call ${callId}`);
    await this.deps.audit.append(orgId, { actor, action: 'crm.retry_failed', target: { type: 'call', id: callId } });
  }

  /** A request from the org's CRM: to its kind's inbound hook, if the org uses that kind. */
  async webhook(kind: string, orgId: string, req: WebhookRequest): Promise<WebhookReply> {
    const def = this.kinds.get(kind);
    const config = def?.handleWebhook ? await this.deps.settings.get<Record<string, unknown>>(orgId, CRM_SETTING) : null;
    if (!def?.handleWebhook || !config || config.kind !== kind) throw new DomainError('not_found', `this org has no ${kind} CRM connection taking requests`);
    return def.handleWebhook(req, {
      orgId,
      config,
      getUser: (userId) => this.deps.directory.getUser(orgId, userId),
      clickToCall: async (input, actor) => (await this.deps.dispatcher.clickToCall(orgId, input, undefined, actor)).call,
    });
  }
}
