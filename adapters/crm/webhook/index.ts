// The signed-webhook CRM: every finished call is POSTed as JSON to the org's URL, signed with
// HMAC-SHA256 over "t.body" (Dialgate-Signature) and carrying Idempotency-Key = call id, so the
// receiver can drop a redelivery after a crash or a lost answer. Any 2xx means delivered. What
// changes after the log (notes, a recording, the agent's pick of a record) follows as
// `call.log.updated` deliveries, one per change (Idempotency-Key `<callId>:<group>:<n>`). With a
// `searchUrl`, screen pops and logs find the caller's record there (signed the same way).

import { createHmac } from 'node:crypto';
import type { Call, User } from '../../../src/domain/types.js';
import { toE164 } from '../../../src/domain/phone.js';
import {
  CrmError,
  type CallLog,
  type CallLogUpdate,
  type CrmAdapter,
  type CrmMatch,
  type CrmContext,
  type CrmKindDefinition,
  type CrmWriteResult,
} from '../../../src/crm/adapter.js';
import { isRetryableStatus, parseJson, retryAfterMs, send } from '../shared/http.js';

export interface WebhookCrmConfig {
  url: string;
  secret: string;
  timeoutMs?: number;
  searchUrl?: string;
}

/** a screen pop must not wait longer for the CRM's search */
export const SEARCH_TIMEOUT_MS = 1500;
const MAX_MATCHES = 20;

export const SIGNATURE_HEADER = 'Dialgate-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` */
export function signWebhook(secret: string, body: string, nowSec = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${nowSec}.${body}`).digest('hex');
  return `t=${nowSec},v1=${v1}`;
}

/** The JSON the receiver gets: stable for a call, so redeliveries carry the same body. */
export function callLogPayload(call: Call, user: User | null, record: CallLog['record']): Record<string, unknown> {
  return {
    type: 'call.logged',
    callId: call.id,
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
    missed: call.missed === true,
    ...(call.disposition !== undefined ? { disposition: call.disposition } : {}),
    ...(call.subject !== undefined ? { subject: call.subject } : {}),
    ...(call.notes !== undefined ? { notes: call.notes } : {}),
    ...(call.recording ? { recording: call.recording } : {}),
    ...(call.voicemail ? { voicemail: call.voicemail, voicemailUrl: call.voicemail.url ?? null } : {}),
    ...(call.candidates?.length && !record ? { candidates: call.candidates } : {}),
  };
}

/** A change after the log: `{type: "call.log.updated", callId, ...the changed fields}`. */
export function callLogUpdatePayload(u: CallLogUpdate): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'call.log.updated', callId: u.call.id, ...u.fields };
  if (u.group === 'record') out.record = u.record ? { module: u.record.module, id: u.record.id } : null;
  if (u.group === 'voicemail') out.voicemailUrl = u.call.voicemail?.url ?? null;
  return out;
}

/** The search answer's matches; anything malformed counts as none (a screen pop never breaks on it). */
export function parseMatches(text: string): CrmMatch[] {
  const body = parseJson(text) as { matches?: unknown } | undefined;
  if (!body || !Array.isArray(body.matches)) return [];
  const out: CrmMatch[] = [];
  for (const m of body.matches.slice(0, MAX_MATCHES)) {
    if (!m || typeof m !== 'object') return [];
    const { module, id, name, url } = m as Record<string, unknown>;
    if (typeof module !== 'string' || typeof id !== 'string' || !module || !id || module.length > 64 || id.length > 128) return [];
    out.push({ module, id, ...(typeof name === 'string' ? { name: name.slice(0, 200) } : {}), ...(typeof url === 'string' && /^https?:\/\//.test(url) ? { url: url.slice(0, 2000) } : {}) });
  }
  return out;
}

function readConfig(raw: Record<string, unknown>): WebhookCrmConfig {
  const url = raw.url;
  const secret = raw.secret;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new CrmError('webhook CRM: config.url must be an http(s) URL', false, undefined, 'invalid_config');
  if (typeof secret !== 'string' || secret.length === 0) throw new CrmError('webhook CRM: config.secret is required', false, undefined, 'invalid_config');
  const timeoutMs = typeof raw.timeoutMs === 'number' ? raw.timeoutMs : undefined;
  const searchUrl = typeof raw.searchUrl === 'string' && /^https?:\/\//.test(raw.searchUrl) ? raw.searchUrl : undefined;
  return { url, secret, timeoutMs, ...(searchUrl ? { searchUrl } : {}) };
}

class WebhookCrm implements CrmAdapter {
  /** read by the call-log worker: without a search URL no phone-match cache round trip per call */
  readonly searchesByPhone: boolean;

  constructor(private readonly cfg: WebhookCrmConfig) {
    this.searchesByPhone = cfg.searchUrl !== undefined;
  }

  // Without a search URL screen pops and association rely on the click's record.
  async findByPhone(e164: string): Promise<CrmMatch | null> {
    const m = await this.findMatches(e164, '');
    return m.length === 1 ? m[0] : null;
  }

  /**
   * POSTs {phone, callId} (E.164) to the search URL, signed like the logs; expects
   * {matches: [{module, id, name, url?}]} within 1.5 s. Slow, down or garbage: no match.
   */
  async findMatches(e164: string, callId: string): Promise<CrmMatch[]> {
    if (!this.cfg.searchUrl) return [];
    const body = JSON.stringify({ phone: toE164(e164) ?? e164, callId });
    const res = await send(
      {
        method: 'POST',
        url: this.cfg.searchUrl,
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(this.cfg.secret, body) },
        body,
        timeoutMs: SEARCH_TIMEOUT_MS,
      },
      'webhook CRM search',
    ).catch(() => null);
    if (!res || res.status < 200 || res.status >= 300) return [];
    return parseMatches(res.text);
  }

  async writeCallLog(log: CallLog): Promise<CrmWriteResult> {
    await this.deliver(callLogPayload(log.call, log.user, log.record), log.call.id, 'call log');
    return {};
  }

  async updateCallLog(u: CallLogUpdate): Promise<void> {
    await this.deliver(callLogUpdatePayload(u), u.idempotencyKey, 'call log update');
  }

  private async deliver(payload: Record<string, unknown>, idempotencyKey: string, what: string): Promise<void> {
    const body = JSON.stringify(payload);
    const res = await send(
      {
        method: 'POST',
        url: this.cfg.url,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(this.cfg.secret, body),
          'Idempotency-Key': idempotencyKey,
        },
        body,
        timeoutMs: this.cfg.timeoutMs,
      },
      'webhook CRM',
    );
    if (res.status >= 200 && res.status < 300) return;
    if (isRetryableStatus(res.status)) {
      throw new CrmError(`webhook CRM answered ${res.status}`, true, retryAfterMs(res.headers), `http_${res.status}`);
    }
    throw new CrmError(`webhook CRM refused the ${what} with ${res.status}`, false, undefined, `http_${res.status}`);
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
      searchUrl: { type: 'string', pattern: '^https?://' },
    },
  },
  secretFields: ['secret'],
  create(ctx: CrmContext): CrmAdapter {
    return new WebhookCrm(readConfig(ctx.config));
  },
};
