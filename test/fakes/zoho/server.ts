// A fake Zoho: accounts server (refresh-token grant) and CRM API (search, Calls insert,
// PhoneBridge callnotify / clicktodial) on one local HTTP server. It checks credentials and
// tokens, validates Calls records and callnotify forms as Zoho documents them (PROTOCOLS.md §3),
// answers in Zoho's error shapes, and has knobs for 429/5xx, expired tokens and "commit the write,
// then drop the connection". It keeps every record for assertions.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { countConditions, CriteriaError, fieldsOf, matches, parseCriteria } from './criteria.js';

export interface ZohoRecord {
  id: string;
  [field: string]: unknown;
}

export interface ZohoFakeOptions {
  clientId?: string;
  clientSecret?: string;
  refreshToken?: string;
  apiVersion?: string;
  tokenTtlSec?: number;
  /** path the API is served under; api_domain = url + apiBasePath (proves the adapter uses api_domain) */
  apiBasePath?: string;
}

export interface FailureSpec {
  status: 429 | 500 | 502 | 503;
  retryAfterSec?: number;
}

const SEARCHABLE: Record<string, string[]> = {
  Contacts: ['Phone', 'Mobile', 'Home_Phone', 'Other_Phone', 'Email', 'First_Name', 'Last_Name', 'Full_Name'],
  Leads: ['Phone', 'Mobile', 'Email', 'First_Name', 'Last_Name', 'Full_Name', 'Company'],
  Accounts: ['Phone', 'Fax', 'Account_Name', 'Website'],
  Deals: ['Deal_Name', 'Stage'],
  // Zoho does not search textarea fields (Description) by criteria
  Calls: ['Subject', 'Call_Type'],
};

const CALL_TYPES = new Set(['Inbound', 'Outbound', 'Missed']);
const START_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
const DURATION = /^\d{2,}:\d{2}$/;
const PB_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const E164 = /^\+[1-9]\d{5,14}$/;
const PB_STATES: Record<string, Set<string>> = {
  received: new Set(['ringing', 'answered', 'missed', 'ended']),
  dialed: new Set(['answered', 'ended', 'busy', 'invalid', 'blocked', 'notavailable', 'noanswer', 'rejected']),
};

export class ZohoFake {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
  readonly apiVersion: string;
  tokenTtlSec: number;

  /** module → records */
  readonly records = new Map<string, ZohoRecord[]>();
  /** valid tokens → expiry (epoch ms) */
  private readonly tokens = new Map<string, number>();
  readonly callnotifies: Array<Record<string, string>> = [];
  /** PUT updates of Calls records (one per change after the log) */
  readonly callUpdates: Array<{ id: string; fields: Record<string, unknown> }> = [];
  readonly clickToDial: Array<Record<string, string>> = [];
  /** every request after auth: method, path, status */
  readonly log: Array<{ method: string; path: string; status: number; at: number; query?: Record<string, string> }> = [];
  tokenGrants = 0;
  tokenRequests = 0;
  droppedAfterCommit = 0;
  injectedFailures = 0;

  /** Zoho user ids that may own records; null accepts any */
  knownUsers: Set<string> | null = null;
  /** share of API requests (not token requests) answered with a failure */
  failRate = 0;
  failStatuses: FailureSpec[] = [{ status: 503, retryAfterSec: 0 }, { status: 429, retryAfterSec: 0 }];
  /** failures to answer to the next API requests, in order */
  failNext: FailureSpec[] = [];
  /** share of committed Calls inserts / callnotifies whose connection is then dropped unanswered */
  dropAfterCommitRate = 0;
  /** drop the connection after committing the next N writes */
  dropNextCommits = 0;
  latencyMs = 0;
  /** wait this long after committing a write before answering (a window to kill a worker in) */
  commitLatencyMs = 0;
  readonly apiBasePath: string;

  private server: Server | null = null;
  private seq = 4_150_868_000_000_100_000n;
  url = '';

  constructor(opts: ZohoFakeOptions = {}) {
    this.clientId = opts.clientId ?? '1000.FAKECLIENT';
    this.clientSecret = opts.clientSecret ?? `secret-${randomBytes(8).toString('hex')}`;
    this.refreshToken = opts.refreshToken ?? `1000.${randomBytes(16).toString('hex')}`;
    this.apiVersion = opts.apiVersion ?? 'v8';
    this.tokenTtlSec = opts.tokenTtlSec ?? 3600;
    this.apiBasePath = opts.apiBasePath ?? '';
    for (const m of Object.keys(SEARCHABLE)) this.records.set(m, []);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) this.json(res, 500, { code: 'INTERNAL_ERROR', details: {}, message: 'internal error', status: 'error' });
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = null;
  }

  /** The CRM config pointing the adapter at this fake. */
  config(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      kind: 'zoho',
      mode: 'rest',
      dataCenter: 'com',
      clientId: this.clientId,
      clientSecret: this.clientSecret,
      refreshToken: this.refreshToken,
      accountsUrl: this.url,
      ...extra,
    };
  }

  addRecord(module: string, fields: Record<string, unknown>): ZohoRecord {
    const rec: ZohoRecord = { id: this.nextId(), ...fields };
    if ((module === 'Contacts' || module === 'Leads') && !rec.Full_Name) rec.Full_Name = [rec.First_Name, rec.Last_Name].filter(Boolean).join(' ');
    this.records.get(module)!.push(rec);
    return rec;
  }

  calls(): ZohoRecord[] {
    return this.records.get('Calls')!;
  }

  /** Every issued access token stops working (as if revoked or expired). */
  expireTokens(): void {
    for (const t of this.tokens.keys()) this.tokens.set(t, 0);
  }

  private nextId(): string {
    this.seq += 1n;
    return this.seq.toString();
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
    res.end(text);
  }

  private async body(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const raw = await this.body(req);
    if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (req.method === 'POST' && u.pathname === '/oauth/v2/token') return this.token(raw, res);
    if (this.apiBasePath) {
      if (!u.pathname.startsWith(`${this.apiBasePath}/`)) {
        return this.json(res, 404, { code: 'INVALID_URL_PATTERN', details: {}, message: 'Please check if the URL trying to access is a correct one', status: 'error' });
      }
      u.pathname = u.pathname.slice(this.apiBasePath.length);
    }

    const record = (status: number) =>
      this.log.push({ method: req.method ?? '', path: u.pathname, status, at: Date.now(), query: Object.fromEntries(u.searchParams) });

    // auth before anything else, as Zoho does
    const auth = req.headers.authorization ?? '';
    const m = /^Zoho-oauthtoken (\S+)$/.exec(auth);
    if (!m) {
      record(401);
      return this.json(res, 401, { code: 'AUTHENTICATION_FAILURE', details: {}, message: 'Authentication failed', status: 'error' });
    }
    const exp = this.tokens.get(m[1]);
    if (exp === undefined || exp < Date.now()) {
      record(401);
      return this.json(res, 401, { code: 'INVALID_TOKEN', details: {}, message: 'invalid oauth token', status: 'error' });
    }

    const injected = this.failNext.shift() ?? (this.failRate > 0 && Math.random() < this.failRate ? this.failStatuses[Math.floor(Math.random() * this.failStatuses.length)] : null);
    if (injected) {
      this.injectedFailures++;
      record(injected.status);
      const headers: Record<string, string> = injected.retryAfterSec !== undefined ? { 'retry-after': String(injected.retryAfterSec) } : {};
      if (injected.status === 429) {
        return this.json(res, 429, { code: 'TOO_MANY_REQUESTS', details: {}, message: 'The API limit has been exceeded', status: 'error' }, headers);
      }
      return this.json(res, injected.status, { code: 'INTERNAL_ERROR', details: {}, message: 'Internal Server Error', status: 'error' }, headers);
    }

    const one = new RegExp(`^/crm/${this.apiVersion}/Calls/([0-9]+)$`).exec(u.pathname);
    if (one && req.method === 'PUT') return this.updateCall(one[1], raw, res, record);
    const crm = new RegExp(`^/crm/${this.apiVersion}/([A-Za-z_]+)(/search)?$`).exec(u.pathname);
    if (crm) {
      const module = crm[1];
      if (!this.records.has(module)) {
        record(400);
        return this.json(res, 400, { code: 'INVALID_MODULE', details: { resource_path_index: 0 }, message: 'the module name given seems to be invalid', status: 'error' });
      }
      if (crm[2] && req.method === 'GET') return this.search(module, u.searchParams, res, record);
      if (!crm[2] && req.method === 'POST' && module === 'Calls') return this.insertCalls(raw, req, res, record);
      record(400);
      return this.json(res, 400, { code: 'INVALID_REQUEST_METHOD', details: {}, message: 'The http request method type is not a valid one', status: 'error' });
    }
    if (req.method === 'POST' && u.pathname === '/phonebridge/v3/callnotify') return this.callnotify(raw, req, res, record);
    if (req.method === 'POST' && u.pathname === '/phonebridge/v3/clicktodial') {
      const p = Object.fromEntries(new URLSearchParams(raw));
      if (!p.clicktodialuri) {
        record(400);
        return this.json(res, 400, { status: 'error', code: 'REQUIRED_PARAM_MISSING', message: 'clicktodialuri is missing' });
      }
      this.clickToDial.push(p);
      record(200);
      return this.json(res, 200, { status: 'success', code: 'SUCCESS' });
    }
    record(404);
    this.json(res, 404, { code: 'INVALID_URL_PATTERN', details: {}, message: 'Please check if the URL trying to access is a correct one', status: 'error' });
  }

  private token(raw: string, res: ServerResponse): void {
    this.tokenRequests++;
    const p = new URLSearchParams(raw);
    // Zoho answers bad grants with 200 and an error field
    if (p.get('grant_type') !== 'refresh_token') return this.json(res, 200, { error: 'unsupported_grant_type' });
    if (p.get('client_id') !== this.clientId || p.get('client_secret') !== this.clientSecret) return this.json(res, 200, { error: 'invalid_client' });
    if (p.get('refresh_token') !== this.refreshToken) return this.json(res, 200, { error: 'invalid_code' });
    this.tokenGrants++;
    const token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, Date.now() + this.tokenTtlSec * 1000);
    this.json(res, 200, { access_token: token, scope: 'ZohoCRM.modules.ALL ZohoSearch.securesearch.READ PhoneBridge.call.log', api_domain: this.url + this.apiBasePath, token_type: 'Bearer', expires_in: this.tokenTtlSec });
  }

  private search(module: string, q: URLSearchParams, res: ServerResponse, record: (s: number) => void): void {
    const bad = (details: Record<string, unknown>, message = 'invalid query formed') => {
      record(400);
      this.json(res, 400, { code: 'INVALID_QUERY', details, message, status: 'error' });
    };
    const criteria = q.get('criteria');
    const word = q.get('word');
    const phone = q.get('phone');
    let found: ZohoRecord[];
    if (criteria !== null) {
      let parsed;
      try {
        parsed = parseCriteria(criteria);
      } catch (e) {
        return bad({ reason: (e as CriteriaError).message });
      }
      if (countConditions(parsed) > 10) return bad({ reason: 'more than 10 criteria' }, 'the criteria limit has been exceeded');
      const unknown = fieldsOf(parsed).find((f) => !SEARCHABLE[module].includes(f));
      if (unknown) return bad({ api_name: unknown, reason: 'the field is not available for search' }, 'invalid query formed');
      found = this.records.get(module)!.filter((r) => matches(parsed, r));
    } else if (word !== null) {
      if (word.length < 2) return bad({ reason: 'word too short' });
      const w = word.toLowerCase();
      found = this.records.get(module)!.filter((r) => Object.values(r).some((v) => typeof v === 'string' && v.toLowerCase().includes(w)));
    } else if (phone !== null) {
      const digits = phone.replace(/\D/g, '');
      found = this.records.get(module)!.filter((r) => ['Phone', 'Mobile'].some((f) => typeof r[f] === 'string' && (r[f] as string).replace(/\D/g, '') === digits));
    } else {
      record(400);
      return this.json(res, 400, { code: 'REQUIRED_PARAM_MISSING', details: { param: 'criteria' }, message: 'One of the expected parameter is missing', status: 'error' });
    }
    if (found.length === 0) {
      record(204);
      res.writeHead(204);
      res.end();
      return;
    }
    const perPage = Math.min(200, Number(q.get('per_page') ?? 200));
    record(200);
    this.json(res, 200, { data: found.slice(0, perPage), info: { per_page: perPage, count: Math.min(found.length, perPage), page: 1, more_records: found.length > perPage } });
  }

  private validateCall(r: Record<string, unknown>, i: number): { code: string; details: Record<string, unknown>; message: string } | null {
    const path = (f: string) => ({ api_name: f, json_path: `$.data[${i}].${f}` });
    const missing = (f: string) => ({ code: 'MANDATORY_NOT_FOUND', details: path(f), message: 'required field not found' });
    const invalid = (f: string, extra: Record<string, unknown> = {}) => ({ code: 'INVALID_DATA', details: { ...path(f), ...extra }, message: 'invalid data' });
    if (typeof r.Subject !== 'string' || r.Subject === '') return missing('Subject');
    if (r.Call_Type === undefined) return missing('Call_Type');
    if (typeof r.Call_Type !== 'string' || !CALL_TYPES.has(r.Call_Type)) return invalid('Call_Type', { expected_data_type: 'picklist' });
    if (r.Call_Start_Time === undefined || r.Call_Start_Time === '') return missing('Call_Start_Time');
    if (typeof r.Call_Start_Time !== 'string' || !START_TIME.test(r.Call_Start_Time) || Number.isNaN(Date.parse(r.Call_Start_Time))) {
      return invalid('Call_Start_Time', { expected_data_type: 'datetime' });
    }
    // a completed (inbound/outbound) call needs its duration
    if (r.Call_Type !== 'Missed' && (r.Call_Duration === undefined || r.Call_Duration === '')) return invalid('Call_Duration');
    if (r.Call_Duration !== undefined && (typeof r.Call_Duration !== 'string' || !DURATION.test(r.Call_Duration))) return invalid('Call_Duration');
    const lookupId = (v: unknown) => (typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { id?: unknown }).id : undefined);
    if (r.Who_Id !== undefined) {
      const id = lookupId(r.Who_Id);
      if (typeof id !== 'string' || !this.records.get('Contacts')!.some((c) => c.id === id)) return invalid('Who_Id', { expected_data_type: 'lookup' });
    }
    if (r.What_Id !== undefined) {
      if (typeof r.$se_module !== 'string') return missing('$se_module');
      const id = lookupId(r.What_Id);
      const mod = this.records.get(r.$se_module);
      if (!mod || typeof id !== 'string' || !mod.some((c) => c.id === id)) return invalid('What_Id', { expected_data_type: 'lookup' });
    }
    if (r.Owner !== undefined) {
      const id = lookupId(r.Owner);
      if (typeof id !== 'string' || (this.knownUsers && !this.knownUsers.has(id))) return invalid('Owner', { expected_data_type: 'ownerlookup' });
    }
    return null;
  }

  private shouldDrop(): boolean {
    if (this.dropNextCommits > 0) {
      this.dropNextCommits--;
      return true;
    }
    return this.dropAfterCommitRate > 0 && Math.random() < this.dropAfterCommitRate;
  }

  private drop(req: IncomingMessage): void {
    this.droppedAfterCommit++;
    req.socket.destroy();
  }

  private async insertCalls(raw: string, req: IncomingMessage, res: ServerResponse, record: (s: number) => void): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      record(400);
      return this.json(res, 400, { code: 'INVALID_DATA', details: {}, message: 'body is not a valid JSON', status: 'error' });
    }
    const data = (body as { data?: unknown }).data;
    if (!Array.isArray(data) || data.length === 0) {
      record(400);
      return this.json(res, 400, { code: 'MANDATORY_NOT_FOUND', details: { api_name: 'data' }, message: 'required field not found', status: 'error' });
    }
    if (data.length > 100) {
      record(400);
      return this.json(res, 400, { code: 'LIMIT_EXCEEDED', details: { limit: 100 }, message: 'Exceeded the maximum number of records', status: 'error' });
    }
    const now = new Date().toISOString().slice(0, 19) + '+00:00';
    const results = data.map((r: Record<string, unknown>, i: number) => {
      const err = this.validateCall(r, i);
      if (err) return { ...err, status: 'error' };
      const rec = { id: this.nextId(), ...r, Created_Time: now };
      this.calls().push(rec);
      return { code: 'SUCCESS', details: { Modified_Time: now, Modified_By: { name: 'Fake Admin', id: '1' }, Created_Time: now, id: rec.id, Created_By: { name: 'Fake Admin', id: '1' } }, message: 'record added', status: 'success' };
    });
    const ok = results.filter((r) => r.status === 'success').length;
    if (ok > 0 && this.commitLatencyMs) await new Promise((r) => setTimeout(r, this.commitLatencyMs));
    if (ok > 0 && this.shouldDrop()) return this.drop(req);
    const status = ok === results.length ? 201 : ok === 0 ? 400 : 207;
    record(status);
    this.json(res, status, { data: results });
  }

  /** PUT /crm/{v}/Calls/{id} {data: [fields]}: updates one Calls record in place (Zoho "Update Specific Record"). */
  private updateCall(id: string, raw: string, res: ServerResponse, record: (s: number) => void): void {
    let body: { data?: Record<string, unknown>[] } | undefined;
    try {
      body = JSON.parse(raw);
    } catch {
      record(400);
      return this.json(res, 400, { code: 'INVALID_DATA', details: {}, message: 'body is not a valid JSON', status: 'error' });
    }
    const fields = body?.data?.[0];
    if (!Array.isArray(body?.data) || body.data.length !== 1 || !fields || typeof fields !== 'object') {
      record(400);
      return this.json(res, 400, { code: 'MANDATORY_NOT_FOUND', details: { api_name: 'data' }, message: 'required field not found', status: 'error' });
    }
    const rec = this.calls().find((r) => r.id === id);
    if (!rec) {
      record(400);
      return this.json(res, 400, { data: [{ code: 'INVALID_DATA', details: { api_name: 'id' }, message: 'the related id given seems to be invalid', status: 'error' }] });
    }
    Object.assign(rec, fields);
    this.callUpdates.push({ id, fields });
    const now = new Date().toISOString().slice(0, 19) + '+00:00';
    record(200);
    this.json(res, 200, { data: [{ code: 'SUCCESS', details: { Modified_Time: now, Modified_By: { name: 'Fake Admin', id: '1' }, id }, message: 'record updated', status: 'success' }] });
  }

  private callnotify(raw: string, req: IncomingMessage, res: ServerResponse, record: (s: number) => void): void {
    if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) {
      record(400);
      return this.json(res, 400, { status: 'error', code: 'INVALID_DATA', message: 'form-encoded parameters expected' });
    }
    const p = Object.fromEntries(new URLSearchParams(raw));
    for (const k of ['type', 'state', 'id', 'from', 'to']) {
      if (!p[k]) {
        record(400);
        return this.json(res, 400, { status: 'error', code: 'REQUIRED_PARAM_MISSING', message: `${k} is missing` });
      }
    }
    const invalid = (message: string) => {
      record(400);
      this.json(res, 400, { status: 'error', code: 'INVALID_DATA', message });
    };
    const states = PB_STATES[p.type];
    if (!states) return invalid('type must be received or dialed');
    if (!states.has(p.state)) return invalid(`state ${p.state} is not valid for ${p.type}`);
    // an unencoded "+" arrives as a space
    if (!E164.test(p.from) || !E164.test(p.to)) return invalid('from/to must be E.164 with an encoded +');
    if (p.type === 'received' && !p.start_time) {
      record(400);
      return this.json(res, 400, { status: 'error', code: 'REQUIRED_PARAM_MISSING', message: 'start_time is missing' });
    }
    if (p.start_time && !PB_TIME.test(p.start_time)) return invalid('start_time must be yyyy-MM-dd HH:mm:ss');
    if (p.zohouser && this.knownUsers && !this.knownUsers.has(p.zohouser)) return invalid('zohouser is not a user of this org');
    this.callnotifies.push(p);
    if (this.shouldDrop()) return this.drop(req);
    record(200);
    this.json(res, 200, { status: 'success', code: 'SUCCESS' });
  }
}
