// Zoho REST mode: search Contacts → Leads → Accounts by phone and insert one record per call into
// the Calls module. Exactly once: the record carries our call id in its Description, and any
// attempt after the first looks for that marker before inserting, because an earlier attempt may
// have been committed by Zoho and lost on the way back (dropped connection, crashed worker).

import type { CallLog, CallLogUpdate, CrmMatch, CrmWriteResult } from '../../../src/crm/adapter.js';
import type { Call } from '../../../src/domain/types.js';
import { CrmError } from '../../../src/crm/adapter.js';
import { parseJson } from '../shared/http.js';
import type { ZohoClient } from './client.js';
import { recordError, responseError, type ZohoErrorBody } from './errors.js';
import {
  callIdMarker,
  callType,
  customerNumber,
  formatDuration,
  phoneCriteria,
  phoneForms,
  zohoDateTime,
  type DurationFormat,
} from './format.js';

/** The search order and the phone fields each module has (Accounts has no Mobile). */
export const SEARCH_MODULES: Array<{ module: string; fields: string[]; nameField: string }> = [
  { module: 'Contacts', fields: ['Phone', 'Mobile'], nameField: 'Full_Name' },
  { module: 'Leads', fields: ['Phone', 'Mobile'], nameField: 'Full_Name' },
  { module: 'Accounts', fields: ['Phone'], nameField: 'Account_Name' },
];

/** Modules linked through Who_Id; every other module goes to What_Id + $se_module. */
const WHO_MODULES = new Set(['Contacts']);

/** Who_Id, or What_Id + $se_module, for the linked record. */
function recordLink(record: CrmMatch | null): Record<string, unknown> {
  if (!record) return {};
  return WHO_MODULES.has(record.module) ? { Who_Id: { id: record.id } } : { What_Id: { id: record.id }, $se_module: record.module };
}

/** What the call was, the agent's notes and disposition, and our call id marker (found again by it on a retry). */
function description(call: Call): string {
  const lines = [`Call ${call.status} (${call.direction}, via ${call.providerKind}).`];
  if (call.cost) lines.push(`Cost: ${call.cost.amount} ${call.cost.currency} (${call.cost.source === 'provider' ? "the provider's price" : 'rate table'}).`);
  if (call.disposition) lines.push(`Disposition: ${call.disposition}`);
  if (call.notes) lines.push(call.notes);
  lines.push(callIdMarker(call.id));
  return lines.join('\n');
}

export interface RestOptions {
  apiVersion: string;
  durationFormat: DurationFormat;
}

interface ZohoRecord {
  id: string;
  [field: string]: unknown;
}

export class ZohoRest {
  constructor(
    private readonly client: ZohoClient,
    private readonly opts: RestOptions,
  ) {}

  private path(module: string, suffix = ''): string {
    return `/crm/${this.opts.apiVersion}/${module}${suffix}`;
  }

  async findByPhone(e164: string): Promise<CrmMatch | null> {
    const forms = phoneForms(e164);
    for (const m of SEARCH_MODULES) {
      // at most 10 conditions per criteria: split the forms into batches that fit
      const perBatch = Math.max(1, Math.floor(10 / m.fields.length));
      for (let i = 0; i < forms.length; i += perBatch) {
        const criteria = phoneCriteria(m.fields, forms.slice(i, i + perBatch));
        const rec = await this.searchOne(m.module, { criteria });
        if (rec) {
          const name = rec[m.nameField];
          return { module: m.module, id: rec.id, ...(typeof name === 'string' ? { name } : {}) };
        }
      }
    }
    return null;
  }

  private async search(module: string, query: Record<string, string>): Promise<ZohoRecord[]> {
    const label = `zoho search ${module}`;
    const res = await this.client.ok({ method: 'GET', path: this.path(module, '/search'), query: { ...query, per_page: '10' } }, label);
    if (res.status === 204 || !res.text) return [];
    const body = parseJson(res.text) as { data?: ZohoRecord[] } | undefined;
    return Array.isArray(body?.data) ? body.data : [];
  }

  private async searchOne(module: string, query: Record<string, string>): Promise<ZohoRecord | null> {
    return (await this.search(module, query))[0] ?? null;
  }

  /** The Calls record an earlier attempt wrote for this call, if Zoho committed it. */
  async findLogged(callId: string): Promise<string | null> {
    const marker = callIdMarker(callId);
    const found = await this.search('Calls', { word: callId });
    // word search is full-text: keep only records whose Description carries our exact marker
    const hit = found.find((r) => typeof r.Description === 'string' && r.Description.split('\n').includes(marker));
    return hit ? hit.id : null;
  }

  buildCallRecord(log: CallLog): Record<string, unknown> {
    const { call, user, record } = log;
    const type = callType(call);
    const other = customerNumber(call) ?? 'unknown number';
    const subject =
      type === 'Outbound' ? `Outbound call to ${other}` : type === 'Inbound' ? `Inbound call from ${other}` : `Missed call from ${other}`;
    const startedAt = call.answeredAt ?? call.createdAt;
    const rec: Record<string, unknown> = {
      Subject: call.subject ?? subject,
      Call_Type: type,
      Call_Start_Time: zohoDateTime(startedAt),
      Description: description(call),
    };
    if (type !== 'Missed') {
      // a logged (completed) call must carry a duration; an unanswered outbound attempt lasted 0
      rec.Call_Duration = formatDuration(call.durationSec ?? 0, this.opts.durationFormat);
      rec.Call_Result = call.disposition ?? call.status;
    }
    if (type === 'Outbound') rec.Outbound_Call_Status = 'Completed';
    Object.assign(rec, recordLink(record));
    const media = call.recording?.url ?? call.voicemail?.url;
    if (media) rec.Voice_Recording__s = media;
    if (user?.crmUserId) rec.Owner = { id: user.crmUserId };
    return rec;
  }

  /** One change after the log: the Calls record updated in place (PUT), never a second record. */
  async updateCallLog(u: CallLogUpdate): Promise<void> {
    if (!u.recordId) return;
    const { call } = u;
    const rec: Record<string, unknown> = {};
    if (u.group === 'notes') {
      rec.Description = description(call);
      if (call.subject !== undefined) rec.Subject = call.subject;
      if (call.disposition !== undefined && callType(call) !== 'Missed') rec.Call_Result = call.disposition;
    } else if (u.group === 'record') {
      Object.assign(rec, recordLink(u.record));
    } else if (u.group === 'recording' || u.group === 'voicemail') {
      const url = (u.group === 'recording' ? call.recording : call.voicemail)?.url;
      if (!url) return;
      rec.Voice_Recording__s = url;
    }
    if (Object.keys(rec).length === 0) return;
    const label = 'zoho update Calls';
    const res = await this.client.call({ method: 'PUT', path: this.path('Calls', `/${encodeURIComponent(u.recordId)}`), json: { data: [rec] } }, label);
    const body = parseJson(res.text) as ({ data?: ZohoErrorBody[] } & ZohoErrorBody) | undefined;
    const first = body?.data?.[0];
    if (res.status >= 200 && res.status < 300 && first?.status === 'success') return;
    if (first && first.status === 'error') throw recordError(first, label);
    throw responseError(res, label);
  }

  async writeCallLog(log: CallLog, lookFirst: boolean): Promise<CrmWriteResult> {
    if (lookFirst) {
      const existing = await this.findLogged(log.call.id);
      if (existing) return { recordId: existing, alreadyLogged: true };
    }
    const label = 'zoho insert Calls';
    const res = await this.client.call({ method: 'POST', path: this.path('Calls'), json: { data: [this.buildCallRecord(log)] } }, label);
    const body = parseJson(res.text) as ({ data?: Array<ZohoErrorBody & { details?: { id?: string } }> } & ZohoErrorBody) | undefined;
    const first = body?.data?.[0];
    if (res.status >= 200 && res.status < 300 && first?.status === 'success' && typeof first.details?.id === 'string') {
      return { recordId: first.details.id };
    }
    if (first && first.status === 'error') throw recordError(first, label);
    if (res.status < 200 || res.status >= 300) throw responseError(res, label);
    throw new CrmError(`${label}: unexpected answer ${res.status}`, true, undefined, 'unexpected_answer');
  }
}
