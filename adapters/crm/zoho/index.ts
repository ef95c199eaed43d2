// The Zoho CRM kind: REST mode (search + Calls module) or PhoneBridge mode (callnotify, Zoho
// logs the call itself). Both share the OAuth token source and client.

import type { Call, User } from '../../../src/domain/types.js';
import {
  CrmError,
  type CallLog,
  type CallLogUpdate,
  type CrmAdapter,
  type CrmContext,
  type CrmKindDefinition,
  type CrmMatch,
  type CrmWebhookContext,
  type CrmWriteResult,
} from '../../../src/crm/adapter.js';
import { DomainError } from '../../../src/domain/errors.js';
import { toPublicCall } from '../../../src/domain/types.js';
import type { WebhookReply, WebhookRequest } from '../../../src/providers/adapter.js';
import { ZohoClient } from './client.js';
import type { DurationFormat } from './format.js';
import { ACCOUNTS_BY_DC, ZohoTokenSource } from './oauth.js';
import { clickToDialRegistration, parseClickToDial, ZohoPhoneBridge, type ClickToDialAuth } from './phonebridge.js';
import { ZohoRest } from './rest.js';

export { parseClickToDial, clickToDialRegistration, callnotifyState } from './phonebridge.js';
export type { ClickToDialRequest, ClickToDialAuth } from './phonebridge.js';

export interface ZohoConfig {
  mode: 'rest' | 'phonebridge';
  dataCenter: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  accountsUrl?: string;
  apiVersion: string;
  callDurationFormat: DurationFormat;
  phonebridge?: ClickToDialAuth;
  timeoutMs?: number;
}

function str(raw: Record<string, unknown>, k: string): string {
  const v = raw[k];
  if (typeof v !== 'string' || v.length === 0) throw new CrmError(`zoho: config.${k} is required`, false, undefined, 'invalid_config');
  return v;
}

export function readZohoConfig(raw: Record<string, unknown>): ZohoConfig {
  const mode = raw.mode ?? 'rest';
  if (mode !== 'rest' && mode !== 'phonebridge') throw new CrmError('zoho: config.mode must be "rest" or "phonebridge"', false, undefined, 'invalid_config');
  const dataCenter = typeof raw.dataCenter === 'string' ? raw.dataCenter : 'com';
  if (!(dataCenter in ACCOUNTS_BY_DC)) throw new CrmError(`zoho: unknown dataCenter "${dataCenter}"`, false, undefined, 'invalid_config');
  const apiVersion = typeof raw.apiVersion === 'string' && /^v\d+$/.test(raw.apiVersion) ? raw.apiVersion : 'v8';
  const callDurationFormat = raw.callDurationFormat === 'hh:mm' ? 'hh:mm' : 'mm:ss';
  const pb = raw.phonebridge && typeof raw.phonebridge === 'object' ? (raw.phonebridge as Record<string, unknown>) : undefined;
  return {
    mode,
    dataCenter,
    clientId: str(raw, 'clientId'),
    clientSecret: str(raw, 'clientSecret'),
    refreshToken: str(raw, 'refreshToken'),
    accountsUrl: typeof raw.accountsUrl === 'string' ? raw.accountsUrl : undefined,
    apiVersion,
    callDurationFormat,
    phonebridge: pb
      ? {
          authParamName: typeof pb.authParamName === 'string' ? pb.authParamName : undefined,
          authParamValue: typeof pb.authParamValue === 'string' ? pb.authParamValue : undefined,
        }
      : undefined,
    timeoutMs: typeof raw.timeoutMs === 'number' ? raw.timeoutMs : undefined,
  };
}

export interface ZohoAdapter extends CrmAdapter {
  readonly mode: 'rest' | 'phonebridge';
  /** Registers our click-to-dial URI with Zoho (PhoneBridge mode). */
  registerClickToDial(uri: string, zohoUser?: string): Promise<void>;
}

class Zoho implements ZohoAdapter {
  readonly mode: 'rest' | 'phonebridge';
  private readonly client: ZohoClient;
  private readonly rest: ZohoRest;
  private readonly bridge: ZohoPhoneBridge;

  constructor(
    private readonly cfg: ZohoConfig,
    ctx: CrmContext,
  ) {
    this.mode = cfg.mode;
    this.client = new ZohoClient(new ZohoTokenSource(cfg, ctx.shared, ctx.orgId), cfg.timeoutMs);
    this.rest = new ZohoRest(this.client, { apiVersion: cfg.apiVersion, durationFormat: cfg.callDurationFormat });
    this.bridge = new ZohoPhoneBridge(this.client);
  }

  // Search works in both modes: PhoneBridge only changes how calls are logged.
  findByPhone(e164: string): Promise<CrmMatch | null> {
    return this.rest.findByPhone(e164);
  }

  /** `attempt` > 1 makes REST mode look for an already-committed record before inserting. */
  writeCallLog(log: CallLog): Promise<CrmWriteResult> {
    if (this.mode === 'phonebridge') return this.bridge.writeCallLog(log);
    return this.rest.writeCallLog(log, (log.attempt ?? 1) > 1);
  }

  /** REST mode updates the Calls record; PhoneBridge logs calls itself and takes no later changes. */
  async updateCallLog(u: CallLogUpdate): Promise<void> {
    if (this.mode === 'phonebridge') return;
    await this.rest.updateCallLog(u);
  }

  async notify(call: Call, user: User | null): Promise<void> {
    // REST mode logs through the Calls module only; live events are a PhoneBridge feature
    if (this.mode !== 'phonebridge') return;
    await this.bridge.notify(call, user);
  }

  async registerClickToDial(uri: string, zohoUser?: string): Promise<void> {
    await this.client.ok(
      { method: 'POST', path: '/phonebridge/v3/clicktodial', form: clickToDialRegistration(uri, this.cfg.phonebridge ?? {}, zohoUser) },
      'zoho clicktodial registration',
    );
  }
}

/**
 * Zoho PhoneBridge click-to-dial: Zoho calls the URI registered for one of our users,
 * /webhooks/crm/zoho/{orgId}/clicktodial/{userId}, with the callee and the authorisation
 * parameter we registered (query string or form body). The parameter must match the org's
 * PhoneBridge config and Zoho's user must be the one that URI belongs to; the call then goes
 * exactly like POST /v1/calls (policy included).
 */
async function clickToDial(req: WebhookRequest, ctx: CrmWebhookContext): Promise<WebhookReply> {
  const m = /^\/clicktodial\/([A-Za-z0-9._@-]{1,128})$/.exec(req.subpath);
  if (!m) throw new DomainError('not_found', 'no such Zoho PhoneBridge endpoint');
  if (ctx.config.mode !== 'phonebridge') throw new DomainError('not_found', 'this org has no Zoho PhoneBridge connection');
  const userId = m[1];
  const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? (req.body as Record<string, unknown>) : {};
  const params = { ...req.query, ...body };
  const parsed = parseClickToDial(params, (ctx.config.phonebridge ?? {}) as ClickToDialAuth);
  if (!parsed.authorized) throw new DomainError('unauthorized', 'the PhoneBridge authorisation parameter is missing or wrong');
  const user = await ctx.getUser(userId);
  if (!user) throw new DomainError('user_not_found', `user ${userId} not found`);
  if (parsed.zohoUser && user.crmUserId && parsed.zohoUser !== user.crmUserId) {
    throw new DomainError('forbidden', 'the Zoho user does not match this click-to-dial URI');
  }
  if (!parsed.to) throw new DomainError('validation_failed', 'tonumber is required');
  const call = await ctx.clickToCall({ userId, to: parsed.to }, 'zoho-phonebridge');
  return { statusCode: 201, body: toPublicCall(call) as unknown as Record<string, unknown> };
}

export const zohoCrmKind: CrmKindDefinition = {
  kind: 'zoho',
  configSchema: {
    type: 'object',
    required: ['clientId', 'clientSecret', 'refreshToken'],
    properties: {
      mode: { enum: ['rest', 'phonebridge'] },
      dataCenter: { enum: Object.keys(ACCOUNTS_BY_DC) },
      clientId: { type: 'string', minLength: 1 },
      clientSecret: { type: 'string', minLength: 1 },
      refreshToken: { type: 'string', minLength: 1 },
      accountsUrl: { type: 'string', pattern: '^https?://' },
      apiVersion: { type: 'string', pattern: '^v[0-9]+$' },
      callDurationFormat: { enum: ['mm:ss', 'hh:mm'] },
      phonebridge: {
        type: 'object',
        properties: { authParamName: { type: 'string' }, authParamValue: { type: 'string' } },
      },
      timeoutMs: { type: 'integer', minimum: 100, maximum: 60000 },
    },
  },
  secretFields: ['clientSecret', 'refreshToken', 'phonebridge.authParamValue'],
  create(ctx: CrmContext): ZohoAdapter {
    return new Zoho(readZohoConfig(ctx.config), ctx);
  },
  handleWebhook: clickToDial,
};
