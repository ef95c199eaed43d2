// The signed-webhook CRM: every finished call is POSTed as JSON to the org's URL, signed with
// HMAC-SHA256 over "t.body" (Dialgate-Signature) and carrying Idempotency-Key = call id, so the
// receiver can drop a redelivery after a crash or a lost answer. Any 2xx means delivered.

import { createHmac } from 'node:crypto';
import type { Call, User } from '../../../src/domain/types.js';
import {
  CrmError,
  type CallLog,
  type CrmAdapter,
  type CrmContext,
  type CrmKindDefinition,
  type CrmWriteResult,
} from '../../../src/crm/adapter.js';
import { isRetryableStatus, retryAfterMs, send } from '../shared/http.js';

export interface WebhookCrmConfig {
  url: string;
  secret: string;
  timeoutMs?: number;
}

export const SIGNATURE_HEADER = 'Dialgate-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` */
export function signWebhook(secret: string, body: string, nowSec = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${nowSec}.${body}`).digest('hex');
  return `t=${nowSec},v1=${v1}`;
}

/** The JSON the receiver gets: stable for a call, so redeliveries carry the same body. */
export function callLogPayload(call: Call, user: User | null, record: CallLog['record']): Record<string, unknown> {
  return {
    type: 'call.log',
    call: {
      id: call.id,
      direction: call.direction,
      from: call.from ?? null,
      to: call.to,
      status: call.status,
      createdAt: call.createdAt,
      answeredAt: call.answeredAt ?? null,
      endedAt: call.endedAt ?? null,
      durationSec: call.durationSec ?? 0,
      providerKind: call.providerKind,
      // additive fields (issue 18): what the customer saw and what the call cost
      ...(call.callerId ? { callerId: call.callerId } : {}),
      cost: call.cost ?? null,
    },
    user: user ? { id: user.id, crmUserId: user.crmUserId ?? null } : null,
    record: record ? { module: record.module, id: record.id } : null,
  };
}

function readConfig(raw: Record<string, unknown>): WebhookCrmConfig {
  const url = raw.url;
  const secret = raw.secret;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new CrmError('webhook CRM: config.url must be an http(s) URL', false, undefined, 'invalid_config');
  if (typeof secret !== 'string' || secret.length === 0) throw new CrmError('webhook CRM: config.secret is required', false, undefined, 'invalid_config');
  const timeoutMs = typeof raw.timeoutMs === 'number' ? raw.timeoutMs : undefined;
  return { url, secret, timeoutMs };
}

class WebhookCrm implements CrmAdapter {
  /** read by the call-log worker: no search, so no phone-match cache round trip per call */
  readonly searchesByPhone = false;

  constructor(private readonly cfg: WebhookCrmConfig) {}

  // A plain webhook has no search API: screen pops and association rely on the click's record.
  async findByPhone(): Promise<null> {
    return null;
  }

  async writeCallLog(log: CallLog): Promise<CrmWriteResult> {
    const body = JSON.stringify(callLogPayload(log.call, log.user, log.record));
    const res = await send(
      {
        method: 'POST',
        url: this.cfg.url,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(this.cfg.secret, body),
          'Idempotency-Key': log.call.id,
        },
        body,
        timeoutMs: this.cfg.timeoutMs,
      },
      'webhook CRM',
    );
    if (res.status >= 200 && res.status < 300) return {};
    if (isRetryableStatus(res.status)) {
      throw new CrmError(`webhook CRM answered ${res.status}`, true, retryAfterMs(res.headers), `http_${res.status}`);
    }
    throw new CrmError(`webhook CRM refused the call log with ${res.status}`, false, undefined, `http_${res.status}`);
  }
}

export const webhookCrmKind: CrmKindDefinition = {
  kind: 'webhook',
  configSchema: {
    type: 'object',
    required: ['url', 'secret'],
    properties: {
      url: { type: 'string', pattern: '^https?://' },
      secret: { type: 'string', minLength: 1 },
      timeoutMs: { type: 'integer', minimum: 100, maximum: 60000 },
    },
  },
  secretFields: ['secret'],
  create(ctx: CrmContext): CrmAdapter {
    return new WebhookCrm(readConfig(ctx.config));
  },
};
