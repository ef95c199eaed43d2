// A fake RingCentral platform on a real HTTP server: the OAuth token endpoint (Basic client auth,
// JWT and refresh_token grants, the Auth group's 5-a-minute limit with a real 429), RingOut
// create / read / cancel, webhook subscriptions (create / read / update / renew / delete) and
// dropping a telephony session. Every API request needs a live bearer token (401 TokenInvalid /
// OAU-149 otherwise), is validated against the official spec (test/fakes/specs/ringcentral_openapi3.subset.json)
// and refused with RingCentral's error shape when invalid; every response it sends is validated
// against the spec too (violations are collected in specViolations for tests to assert on).
// Rate-limit groups (Light/Medium/Heavy/Auth) are counted per minute with the real penalty rule:
// any request inside the penalty window restarts it.
//
// It drives the gateway the way RingCentral does: creating a subscription performs the
// Validation-Token handshake over a raw socket (empty JSON body; 200, token echoed, whole reply
// ≤ 1024 bytes, within 3 s, or the create fails with SUB-525), and RingOuts / inbound calls post
// telephony session notifications with the Verification-Token header, in order or shuffled and
// duplicated.

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import { request } from 'undici';
import { ringcentralSpec } from '../openapi.js';
import { bufferMedia, toneWav } from '../../../src/providers/media.js';

export const ACCOUNT_ID = '400144452008';
export const EXTENSION_ID = '400144455008';

type Json = Record<string, any>;

export interface FakeCredentials {
  clientId: string;
  clientSecret: string;
  jwt: string;
}

export interface RingOutScenario {
  /** what leg 1 (the agent's phone) does */
  agent: 'answer' | 'no-answer' | 'busy' | 'ring';
  /** what leg 2 (the customer) does; "ring" rings until cancelled */
  customer: 'answer' | 'no-answer' | 'busy' | 'ring';
  /** delay between steps */
  stepMs: number;
  /** talk time; "hold" stays connected until the session is dropped */
  talkMs: number | 'hold';
  /** notifications as they happen, or all at the end in a shuffled order */
  order: 'in-order' | 'shuffle';
  duplicate: boolean;
  /** false: no notifications at all (the gateway must poll) */
  notify: boolean;
}

export const DEFAULT_RINGOUT_SCENARIO: RingOutScenario = {
  agent: 'answer',
  customer: 'answer',
  stepMs: 20,
  talkMs: 30,
  order: 'in-order',
  duplicate: false,
  notify: true,
};

type LegStatus = 'InProgress' | 'Success' | 'Busy' | 'NoAnswer' | 'Rejected' | 'Finished' | 'GenericError';

export interface FakeRingOut {
  id: string;
  from: string;
  to: string;
  callerId?: string;
  playPrompt?: boolean;
  telephonySessionId: string;
  sessionId: string;
  status: { callStatus: LegStatus; callerStatus: LegStatus; calleeStatus: LegStatus };
  scenario: RingOutScenario;
  seq: number;
  leg1Up: boolean;
  answered: boolean;
  ended: boolean;
  /** deleted through the API (gone from GET) */
  deleted: boolean;
  buffered: Json[];
}

export interface FakeSubscription {
  id: string;
  eventFilters: string[];
  address: string;
  verificationToken?: string;
  expiresIn: number;
  creationTime: string;
  expirationTime: number;
  status: 'Active' | 'Suspended' | 'Blacklisted';
}

export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  operation: string;
  group: string;
  status: number;
  authorization?: string;
  body: unknown;
}

export interface Delivery {
  at: number;
  telephonySessionId: string;
  sequence: number;
  statusCode: number;
  envelope: Json;
}

export interface HandshakeRecord {
  address: string;
  ok: boolean;
  reason?: string;
  bytes: number;
  ms: number;
  rawResponse: string;
}

/** A call recording RingCentral stored (Call Control started it on an answered party). */
export interface FakeRecording {
  id: string;
  telephonySessionId: string;
  partyId: string;
  wav: Buffer;
}

interface Injected {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
  /** hang this long before answering (ms) */
  delayMs?: number;
  times: number;
}

const GROUP_LIMITS: Record<string, number> = { Light: 50, Medium: 40, Heavy: 10, Auth: 5 };
const PENALTY_SEC = 60;
const E164 = /^\+[1-9]\d{6,14}$/;

function errorBody(errorCode: string, message: string, extra: Json = {}): Json {
  return { errorCode, message, errors: [{ errorCode, message, ...extra }] };
}

export interface FakeRingCentralOptions {
  credentials: FakeCredentials;
  /** access token lifetime in seconds (RingCentral: about 1 hour) */
  accessTokenTtlSec?: number;
  refreshTokenTtlSec?: number;
  /** per-minute limits by group (defaults to RingCentral's) */
  limits?: Partial<Record<string, number>>;
  /** send RingOut ids as JSON numbers, as RingCentral's samples do (the spec says string) */
  numericRingOutIds?: boolean;
}

export class FakeRingCentral {
  url = '';
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: Delivery[] = [];
  readonly handshakes: HandshakeRecord[] = [];
  readonly specViolations: string[] = [];
  readonly ringOuts = new Map<string, FakeRingOut>();
  readonly subscriptions = new Map<string, FakeSubscription>();
  /** grant types of every token request, in order */
  readonly authRequests: string[] = [];
  scenario: RingOutScenario = { ...DEFAULT_RINGOUT_SCENARIO };
  /** recordings started through Call Control, by telephony session id (party id) */
  readonly recording = new Map<string, string>();
  /** recordings stored once their call ended, by recording id */
  readonly recordings = new Map<string, FakeRecording>();
  /** the company call log (only what the adapter reads: recorded calls' records) */
  readonly callLog: Json[] = [];
  /** stored: a recorded call's recording lands in the call log at its end; none: RingCentral kept nothing */
  recordingOutcome: 'stored' | 'none' = 'stored';
  /** the call log's duration of a recorded call (seconds) */
  recordedDurationSec = 5;
  /** numbers RingOut refuses as invalid (CMN-101 on to.phoneNumber) */
  readonly invalidNumbers = new Set<string>();

  private server: Server;
  private readonly tokens = new Map<string, number>();
  private readonly refreshTokens = new Map<string, number>();
  private readonly injected = new Map<string, Injected[]>();
  private readonly hits = new Map<string, number[]>();
  private readonly penaltyUntil = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inbound = new Map<string, { seq: number; buffered: Json[] }>();
  private readonly limits: Record<string, number>;
  private readonly validateEventBody: ValidateFunction;
  private readonly validateError: ValidateFunction;
  private seqCounter = 1000;
  private closed = false;

  constructor(readonly opts: FakeRingCentralOptions) {
    this.limits = { ...GROUP_LIMITS, ...(opts.limits as Record<string, number>) };
    const spec = ringcentralSpec();
    const ajv = new Ajv({ strict: false, allErrors: true });
    this.validateEventBody = ajv.compile(spec.doc.components.schemas.TelephonySessionsEventBody);
    this.validateError = ajv.compile(spec.doc.components.schemas.ErrorResponse);
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err) => {
        this.specViolations.push(`fake crashed: ${(err as Error).stack}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- knobs ---------------------------------------------------------------------------------

  /** The next `times` requests to an operation (spec operationId, or "token") answer this way. */
  inject(operation: string, how: Omit<Injected, 'times'> & { times?: number }): void {
    const list = this.injected.get(operation) ?? [];
    list.push({ times: 1, ...how });
    this.injected.set(operation, list);
  }

  /** A real 429: CMN-301, Retry-After (omitted when null), and the group's penalty starts. */
  rateLimitNext(operation: string, retryAfterSec: number | null = PENALTY_SEC): void {
    const headers: Record<string, string> = {};
    if (retryAfterSec !== null) headers['Retry-After'] = String(retryAfterSec);
    this.inject(operation, { status: 429, body: errorBody('CMN-301', 'Request rate exceeded'), headers });
  }

  /** Expires every access token now (the next API call gets 401). */
  expireAccessTokens(): void {
    for (const k of this.tokens.keys()) this.tokens.set(k, Date.now() - 1);
  }

  revokeRefreshTokens(): void {
    this.refreshTokens.clear();
  }

  blacklist(subscriptionId: string): void {
    const s = this.subscriptions.get(subscriptionId);
    if (s) s.status = 'Blacklisted';
  }

  /** RingCentral forgets the subscription (expired / removed): GET answers 404. */
  forget(subscriptionId: string): void {
    this.subscriptions.delete(subscriptionId);
  }

  requestsFor(operation: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operation === operation);
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;

    if (method === 'POST' && path === '/restapi/oauth/token') return this.token(req, res, raw);

    const op = ringcentralSpec().find(method, path);
    const operation = op?.operationId ?? 'unknown';
    const group = op?.op['x-throttling-group'] ?? 'Light';
    const rec: RecordedRequest = { at: Date.now(), method, path, operation, group, status: 0, authorization: req.headers.authorization, body: undefined };
    this.requests.push(rec);
    /** `wire` is what goes out when it deliberately differs from the validated body (numeric ids). */
    const send = (status: number, body?: Json, headers: Record<string, string> = {}, wire?: Json) => {
      rec.status = status;
      if (body !== undefined) {
        const check = status < 400 && op ? ringcentralSpec().validateResponse(op, status, body) : this.checkError(body);
        if (!check.ok) this.specViolations.push(`${operation} ${status} response: ${check.errors.join('; ')}`);
      }
      this.reply(res, status, wire ?? body, { ...this.rateHeaders(group), ...headers });
    };

    if (!op) return send(404, errorBody('CMN-120', 'Invalid URI'));
    // bearer token first: RingCentral checks auth before throttling
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(auth);
    const exp = m ? this.tokens.get(m[1]) : undefined;
    // the wire shape RingCentral sends: a top-level TokenInvalid plus the OAU-* detail
    if (!m || exp === undefined) {
      return send(401, { errorCode: 'TokenInvalid', message: 'OAuth token is invalid', errors: [{ errorCode: 'OAU-149', message: 'OAuth token is invalid' }] });
    }
    if (exp < Date.now()) {
      return send(401, { errorCode: 'TokenInvalid', message: 'Access token expired', errors: [{ errorCode: 'OAU-128', message: 'Access token expired' }] });
    }
    const limited = this.throttle(group);
    if (limited) return send(429, errorBody('CMN-301', 'Request rate exceeded'), limited);
    const inj = this.takeInjected(operation);
    if (inj) {
      if (inj.delayMs) await this.sleep(inj.delayMs);
      if (inj.status === 429) this.penaltyUntil.set(group, Date.now() + Number(inj.headers?.['Retry-After'] ?? PENALTY_SEC) * 1000);
      if (this.closed || res.destroyed) return;
      return send(inj.status, inj.body ?? (inj.status >= 500 ? errorBody('CMN-201', 'Service Temporary Unavailable') : undefined), inj.headers);
    }

    let body: unknown = undefined;
    if (raw.length) {
      const ct = String(req.headers['content-type'] ?? '');
      if (!ct.startsWith('application/json')) return send(415, errorBody('CMN-104', 'Cannot parse request'));
      try {
        body = JSON.parse(raw);
      } catch {
        return send(400, errorBody('CMN-103', "JSON can't be parsed."));
      }
    }
    rec.body = body;
    if (op.op.requestBody?.required && body === undefined) return send(400, errorBody('CMN-104', 'Cannot parse request'));
    if (body !== undefined) {
      const v = ringcentralSpec().validateRequest(op, 'application/json', body);
      if (!v.ok) {
        const param = (v.errors[0] ?? '').split(' ')[0].replace(/^\//, '').replace(/\//g, '.') || 'body';
        return send(400, errorBody('CMN-101', `Parameter [${param}] value is invalid`, { parameterName: param }));
      }
    }
    const q = this.checkQuery(op, url.searchParams);
    if (q) return send(400, errorBody('CMN-101', `Parameter [${q}] value is invalid`, { parameterName: q }));
    const seg = path.split('/');
    switch (operation) {
      case 'startCallRecording': {
        const tsid = decodeURIComponent(seg[7]);
        const partyId = decodeURIComponent(seg[9]);
        const ro = [...this.ringOuts.values()].find((r) => r.telephonySessionId === tsid && !r.ended);
        const inb = this.inbound.get(tsid) as Json | undefined;
        const live = ro ? ro.answered : Boolean(inb?.answered && !inb.ended);
        if (!live || ![`p-${tsid.slice(2)}-1`, `p-${tsid.slice(2)}-2`].includes(partyId)) {
          return send(404, errorBody('CMN-102', 'Resource for parameter [partyId] is not found', { parameterName: 'partyId' }));
        }
        if (this.recording.has(tsid)) return send(409, errorBody('TAS-104', 'Recording is already in progress'));
        this.recording.set(tsid, partyId);
        rec.status = 201;
        return this.reply(res, 201, undefined, this.rateHeaders(group));
      }
      case 'readCompanyCallLog': {
        const from = url.searchParams.get('dateFrom');
        const phone = url.searchParams.get('phoneNumber');
        const recordedOnly = url.searchParams.has('recordingType') || url.searchParams.get('withRecording') === 'true';
        const records = this.callLog.filter(
          (r) => (!from || Date.parse(r.startTime) >= Date.parse(from)) && (!phone || r.from.phoneNumber === phone || r.to.phoneNumber === phone) && (!recordedOnly || r.recording),
        );
        const perPage = Number(url.searchParams.get('perPage') ?? 100);
        const uri = `${this.url}/restapi/v1.0/account/${ACCOUNT_ID}/call-log`;
        return send(200, { uri, records: records.slice(0, perPage), navigation: { firstPage: { uri } }, paging: { page: 1, perPage, pageStart: 0, pageEnd: Math.max(0, records.length - 1) } });
      }
      case 'listCallRecordingData': {
        const r = this.recordings.get(decodeURIComponent(seg[6]));
        if (!r) return send(404, errorBody('CMN-102', 'Resource for parameter [recordingId] is not found', { parameterName: 'recordingId' }));
        const media = bufferMedia(r.wav, 'audio/x-wav', typeof req.headers.range === 'string' ? req.headers.range : undefined);
        rec.status = media.status;
        res.writeHead(media.status, { ...this.rateHeaders(group), 'Content-Type': media.contentType, ...media.headers }).end(media.body);
        return;
      }
      case 'createRingOutCall':
        return this.createRingOut(body as Json, send);
      case 'readRingOutCallStatus': {
        const ro = this.ringOuts.get(decodeURIComponent(seg[8]));
        if (!ro || ro.deleted) return send(404, errorBody('CMN-102', 'Resource for parameter [ringoutId] is not found', { parameterName: 'ringoutId' }));
        return send(200, this.ringOutResource(ro));
      }
      case 'deleteRingOutCall': {
        const ro = this.ringOuts.get(decodeURIComponent(seg[8]));
        if (!ro || ro.deleted || ro.ended) return send(404, errorBody('CMN-102', 'Resource for parameter [ringoutId] is not found', { parameterName: 'ringoutId' }));
        // RingCentral only cancels before the first leg connects; afterwards the call goes on
        if (!ro.leg1Up) this.cancelRingOut(ro);
        rec.status = 204;
        return this.reply(res, 204, undefined, this.rateHeaders(group));
      }
      case 'deleteCallSession': {
        const tsid = decodeURIComponent(seg[7]);
        const ro = [...this.ringOuts.values()].find((r) => r.telephonySessionId === tsid && !r.ended);
        const inb = this.inbound.get(tsid);
        if (!ro && !inb) return send(404, errorBody('CMN-102', 'Resource for parameter [telephonySessionId] is not found', { parameterName: 'telephonySessionId' }));
        if (ro) this.dropRingOut(ro);
        if (inb) this.endInbound(tsid, inb, true);
        rec.status = 204;
        return this.reply(res, 204, undefined, this.rateHeaders(group));
      }
      case 'readExtension': {
        // the JWT user's extension ("~"): what a credentials check or a health probe reads
        const base = `${this.url}/restapi/v1.0/account/${ACCOUNT_ID}/extension/${EXTENSION_ID}`;
        return send(200, { id: Number(EXTENSION_ID), uri: base, extensionNumber: '101', name: 'Fake Agent', type: 'User', status: 'Enabled' });
      }
      case 'readCallSessionStatus': {
        const tsid = decodeURIComponent(seg[7]);
        const ro = [...this.ringOuts.values()].find((r) => r.telephonySessionId === tsid && !r.ended && !r.deleted);
        const inb = this.inbound.get(tsid) as Json | undefined;
        if (!ro && (!inb || inb.ended)) return send(404, errorBody('CMN-102', 'Resource for parameter [telephonySessionId] is not found', { parameterName: 'telephonySessionId' }));
        const talking = ro ? ro.answered : Boolean(inb?.answered);
        const code = talking ? 'Answered' : 'Proceeding';
        return send(200, { id: tsid, origin: { type: ro ? 'RingOut' : 'Call' }, parties: [{ id: `p-${tsid.slice(2)}-2`, direction: 'Inbound', status: { code } }] });
      }
      case 'createSubscription':
        return this.createSubscription(body as Json, send);
      case 'readSubscription': {
        const s = this.liveSubscription(decodeURIComponent(seg[4]));
        if (!s) return send(404, errorBody('CMN-102', 'Resource for parameter [subscriptionId] is not found', { parameterName: 'subscriptionId' }));
        return send(200, this.subscriptionResource(s));
      }
      case 'renewSubscription':
      case 'updateSubscription': {
        const s = this.liveSubscription(decodeURIComponent(seg[4]));
        if (!s) return send(404, errorBody('CMN-102', 'Resource for parameter [subscriptionId] is not found', { parameterName: 'subscriptionId' }));
        if (operation === 'updateSubscription') {
          const b = body as Json;
          s.eventFilters = b.eventFilters;
          if (typeof b.expiresIn === 'number') s.expiresIn = b.expiresIn;
        }
        if (s.status === 'Active') s.expirationTime = Date.now() + s.expiresIn * 1000;
        return send(200, this.subscriptionResource(s));
      }
      case 'deleteSubscription': {
        const id = decodeURIComponent(seg[4]);
        if (!this.subscriptions.delete(id)) return send(404, errorBody('CMN-102', 'Resource for parameter [subscriptionId] is not found', { parameterName: 'subscriptionId' }));
        rec.status = 204;
        return this.reply(res, 204, undefined, this.rateHeaders(group));
      }
      default:
        return send(501, errorBody('CMN-202', 'Operation is not supported'));
    }
  }

  /** The name of a query parameter the operation does not take or whose value breaks its schema (enum, boolean, integer, date-time). */
  private checkQuery(op: NonNullable<ReturnType<ReturnType<typeof ringcentralSpec>['find']>>, params: URLSearchParams): string | null {
    const declared = new Map<string, Json>();
    for (const p of (op.op.parameters ?? []) as Json[]) if (p.in === 'query') declared.set(p.name, p.schema ?? {});
    for (const [name, value] of params) {
      const schema = declared.get(name);
      if (!schema) return name;
      const item = schema.type === 'array' ? (schema.items ?? {}) : schema;
      if (item.enum && !item.enum.includes(value)) return name;
      if (item.type === 'boolean' && value !== 'true' && value !== 'false') return name;
      if (item.type === 'integer' && !/^\d+$/.test(value)) return name;
      if (item.format === 'date-time' && Number.isNaN(Date.parse(value))) return name;
    }
    const missing = ringcentralSpec().validateQuery(op, Object.fromEntries(params));
    return missing.ok ? null : 'query';
  }

  /** A recorded call ended: RingCentral stores the recording and shows it in the call's call log record. */
  private storeRecording(tsid: string, from: string, to: string, direction: 'Inbound' | 'Outbound'): void {
    const partyId = this.recording.get(tsid);
    if (!partyId || this.recordingOutcome === 'none') return;
    const id = String(this.seqCounter++) + '0001';
    this.recordings.set(id, { id, telephonySessionId: tsid, partyId, wav: toneWav(1) });
    const base = `${this.url}/restapi/v1.0/account/${ACCOUNT_ID}`;
    this.callLog.push({
      id: `CL${id}`,
      uri: `${base}/call-log/CL${id}`,
      sessionId: String(Date.now()),
      telephonySessionId: tsid,
      startTime: new Date(Date.now() - this.recordedDurationSec * 1000).toISOString(),
      duration: this.recordedDurationSec,
      type: 'Voice',
      direction,
      action: direction === 'Inbound' ? 'Phone Call' : 'RingOut PC',
      result: 'Accepted',
      from: { phoneNumber: from },
      to: { phoneNumber: to },
      recording: { id, uri: `${base}/recording/${id}`, type: 'OnDemand', contentUri: `${base}/recording/${id}/content` },
    });
  }

  private checkError(body: unknown) {
    const ok = this.validateError(body) as boolean;
    return { ok, errors: ok ? [] : (this.validateError.errors ?? []).map((e) => `${e.instancePath} ${e.message}`) };
  }

  private reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    if (res.headersSent || res.destroyed) return;
    const h: Record<string, string> = { ...headers };
    let payload = '';
    if (body !== undefined) {
      payload = JSON.stringify(body);
      h['Content-Type'] = 'application/json;charset=UTF-8';
    }
    res.writeHead(status, h).end(payload);
  }

  private rateHeaders(group: string): Record<string, string> {
    const limit = this.limits[group] ?? 50;
    const used = this.recentHits(group).length;
    return {
      'X-Rate-Limit-Group': group,
      'X-Rate-Limit-Limit': String(limit),
      'X-Rate-Limit-Remaining': String(Math.max(0, limit - used)),
      'X-Rate-Limit-Window': String(PENALTY_SEC),
    };
  }

  private recentHits(group: string): number[] {
    const now = Date.now();
    const list = (this.hits.get(group) ?? []).filter((t) => t > now - 60_000);
    this.hits.set(group, list);
    return list;
  }

  /** Counts the request against its group; returns 429 headers when it is refused. */
  private throttle(group: string): Record<string, string> | null {
    const now = Date.now();
    const until = this.penaltyUntil.get(group) ?? 0;
    if (until > now) {
      // a request inside the penalty window restarts it
      this.penaltyUntil.set(group, now + PENALTY_SEC * 1000);
      return { 'Retry-After': String(PENALTY_SEC) };
    }
    const list = this.recentHits(group);
    if (list.length >= (this.limits[group] ?? 50)) {
      this.penaltyUntil.set(group, now + PENALTY_SEC * 1000);
      return { 'Retry-After': String(PENALTY_SEC) };
    }
    list.push(now);
    return null;
  }

  private takeInjected(operation: string): Injected | null {
    const list = this.injected.get(operation);
    if (!list?.length) return null;
    const first = list[0];
    first.times -= 1;
    if (first.times <= 0) list.shift();
    return first;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        r();
      }, ms);
      this.timers.add(t);
    });
  }

  private later(ms: number, fn: () => void | Promise<void>): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) void Promise.resolve().then(fn).catch((e) => this.specViolations.push(`fake timer failed: ${(e as Error).message}`));
    }, ms);
    this.timers.add(t);
  }

  // ---- OAuth ---------------------------------------------------------------------------------

  private token(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const form = new URLSearchParams(raw);
    const grant = form.get('grant_type') ?? '';
    this.authRequests.push(grant);
    const rec: RecordedRequest = { at: Date.now(), method: 'POST', path: '/restapi/oauth/token', operation: 'token', group: 'Auth', status: 0, body: { grant_type: grant } };
    this.requests.push(rec);
    const send = (status: number, body: Json, headers: Record<string, string> = {}) => {
      rec.status = status;
      this.reply(res, status, body, { ...this.rateHeaders('Auth'), ...headers });
    };
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return send(400, { error: 'invalid_request', error_description: 'Unsupported content type', ...errorBody('OAU-250', 'Unsupported content type') });
    }
    const limited = this.throttle('Auth');
    if (limited) return send(429, errorBody('CMN-301', 'Request rate exceeded'), limited);
    const inj = this.takeInjected('token');
    if (inj) {
      if (inj.status === 429) this.penaltyUntil.set('Auth', Date.now() + Number(inj.headers?.['Retry-After'] ?? PENALTY_SEC) * 1000);
      return send(inj.status, inj.body ?? errorBody('CMN-201', 'Service Temporary Unavailable'), inj.headers);
    }
    const { clientId, clientSecret, jwt } = this.opts.credentials;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const decoded = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
    if (decoded !== `${clientId}:${clientSecret}`) {
      return send(401, { error: 'invalid_client', error_description: 'Invalid client', ...errorBody('OAU-146', 'Invalid client credentials') });
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      if (form.get('assertion') !== jwt) {
        return send(400, { error: 'invalid_grant', error_description: 'Invalid assertion', ...errorBody('OAU-140', 'Invalid resource owner credentials') });
      }
    } else if (grant === 'refresh_token') {
      const rt = form.get('refresh_token') ?? '';
      const rexp = this.refreshTokens.get(rt);
      if (rexp === undefined || rexp < Date.now()) {
        return send(400, { error: 'invalid_grant', error_description: 'Token not found', ...errorBody('OAU-211', 'Token not found') });
      }
      // a refresh token is single-use
      this.refreshTokens.delete(rt);
    } else {
      return send(400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant type', ...errorBody('OAU-251', 'Unsupported grant type') });
    }
    const ttl = this.opts.accessTokenTtlSec ?? 3600;
    const rttl = this.opts.refreshTokenTtlSec ?? 604800;
    const access = `fake-at-${randomBytes(24).toString('base64url')}`;
    const refresh = `fake-rt-${randomBytes(24).toString('base64url')}`;
    this.tokens.set(access, Date.now() + ttl * 1000);
    this.refreshTokens.set(refresh, Date.now() + rttl * 1000);
    send(200, {
      access_token: access,
      token_type: 'bearer',
      expires_in: ttl,
      refresh_token: refresh,
      refresh_token_expires_in: rttl,
      scope: 'CallControl ReadAccounts RingOut WebhookSubscriptions',
      owner_id: EXTENSION_ID,
      endpoint_id: randomBytes(8).toString('base64url'),
    });
  }

  // ---- RingOut -------------------------------------------------------------------------------

  private ringOutResource(ro: FakeRingOut): Json {
    return {
      id: ro.id,
      uri: `${this.url}/restapi/v1.0/account/${ACCOUNT_ID}/extension/${EXTENSION_ID}/ring-out/${ro.id}`,
      status: { ...ro.status },
    };
  }

  private createRingOut(b: Json, send: (s: number, body?: Json, h?: Record<string, string>, wire?: Json) => void): void {
    const from = b.from?.phoneNumber;
    const to = b.to?.phoneNumber;
    if (typeof from !== 'string' || !E164.test(from)) return send(400, errorBody('CMN-101', 'Parameter [from.phoneNumber] value is invalid', { parameterName: 'from.phoneNumber' }));
    if (typeof to !== 'string' || !E164.test(to) || this.invalidNumbers.has(to)) return send(400, errorBody('CMN-101', 'Parameter [to.phoneNumber] value is invalid', { parameterName: 'to.phoneNumber' }));
    if (b.callerId?.phoneNumber !== undefined && !E164.test(b.callerId.phoneNumber)) {
      return send(400, errorBody('CMN-101', 'Parameter [callerId.phoneNumber] value is invalid', { parameterName: 'callerId.phoneNumber' }));
    }
    const id = String(++this.seqCounter * 1000 + Math.floor(Math.random() * 1000));
    const hex = randomBytes(16).toString('hex');
    const ro: FakeRingOut = {
      id,
      from,
      to,
      callerId: b.callerId?.phoneNumber,
      playPrompt: b.playPrompt,
      telephonySessionId: `s-${hex}`,
      sessionId: String(Date.now()),
      status: { callStatus: 'InProgress', callerStatus: 'InProgress', calleeStatus: 'InProgress' },
      scenario: { ...this.scenario },
      seq: 0,
      leg1Up: false,
      answered: false,
      ended: false,
      deleted: false,
      buffered: [],
    };
    this.ringOuts.set(id, ro);
    const resource = this.ringOutResource(ro);
    // the spec types id as a string; RingCentral's own samples send a number
    send(200, resource, {}, this.opts.numericRingOutIds ? { ...resource, id: Number(id) } : undefined);
    this.runRingOut(ro);
  }

  private party(ro: FakeRingOut, role: 'Initiator' | 'Target', code: string, reason?: string): Json {
    const p: Json = {
      accountId: ACCOUNT_ID,
      id: `p-${ro.telephonySessionId.slice(2)}-${role === 'Initiator' ? 1 : 2}`,
      direction: 'Inbound',
      ringOutRole: role,
      status: reason ? { code, reason, rcc: false } : { code, rcc: false },
      park: {},
      missedCall: false,
      standAlone: false,
      muted: false,
    };
    if (role === 'Initiator') {
      p.extensionId = EXTENSION_ID;
      p.from = { phoneNumber: ro.to };
      p.to = { phoneNumber: ro.from, extensionId: EXTENSION_ID };
    } else {
      p.from = { phoneNumber: ro.callerId ?? ro.from, name: 'Fake Agent' };
      p.to = { phoneNumber: ro.to };
    }
    return p;
  }

  private ringOutEvent(ro: FakeRingOut, parties: Json[]): void {
    ro.seq += 1;
    const body: Json = {
      sequence: ro.seq,
      sessionId: ro.sessionId,
      telephonySessionId: ro.telephonySessionId,
      serverId: '10.13.22.243.TAM',
      eventTime: new Date().toISOString(),
      parties,
      origin: { type: 'RingOut' },
    };
    if (!ro.scenario.notify) return;
    if (ro.scenario.order === 'shuffle') ro.buffered.push(body);
    else void this.notify(body, ro.scenario.duplicate);
  }

  private runRingOut(ro: FakeRingOut): void {
    const s = ro.scenario;
    const step = s.stepMs;
    this.later(step, () => {
      if (ro.ended) return;
      this.ringOutEvent(ro, [this.party(ro, 'Initiator', 'Proceeding')]);
      if (s.agent === 'ring') return;
      this.later(step, () => {
        if (ro.ended) return;
        if (s.agent !== 'answer') {
          const leg: LegStatus = s.agent === 'busy' ? 'Busy' : 'NoAnswer';
          ro.status = { callStatus: 'GenericError', callerStatus: leg, calleeStatus: 'InProgress' };
          this.ringOutEvent(ro, [this.party(ro, 'Initiator', 'Disconnected', s.agent === 'busy' ? 'BusyHere' : 'NoAnswer')]);
          return this.finishRingOut(ro);
        }
        ro.leg1Up = true;
        ro.status = { callStatus: 'InProgress', callerStatus: 'Success', calleeStatus: 'InProgress' };
        this.ringOutEvent(ro, [this.party(ro, 'Initiator', 'Answered')]);
        this.later(step, () => {
          if (ro.ended) return;
          this.ringOutEvent(ro, [this.party(ro, 'Target', 'Proceeding')]);
          if (s.customer === 'ring') return;
          this.later(step, () => {
            if (ro.ended) return;
            if (s.customer !== 'answer') {
              const leg: LegStatus = s.customer === 'busy' ? 'Busy' : 'NoAnswer';
              ro.status = { callStatus: 'GenericError', callerStatus: 'Success', calleeStatus: leg };
              this.ringOutEvent(ro, [this.party(ro, 'Target', 'Disconnected', s.customer === 'busy' ? 'BusyHere' : 'NoAnswer')]);
              this.ringOutEvent(ro, [this.party(ro, 'Initiator', 'Disconnected', 'CallerHangup')]);
              return this.finishRingOut(ro);
            }
            ro.answered = true;
            ro.status = { callStatus: 'Success', callerStatus: 'Success', calleeStatus: 'Success' };
            this.ringOutEvent(ro, [this.party(ro, 'Target', 'Answered')]);
            if (s.talkMs === 'hold') return;
            this.later(s.talkMs, () => this.hangUpConnected(ro, 'Target'));
          });
        });
      });
    });
  }

  private hangUpConnected(ro: FakeRingOut, first: 'Initiator' | 'Target'): void {
    if (ro.ended) return;
    ro.status = { callStatus: 'Success', callerStatus: 'Finished', calleeStatus: 'Finished' };
    const other = first === 'Target' ? 'Initiator' : 'Target';
    this.ringOutEvent(ro, [this.party(ro, first, 'Disconnected', 'CallerHangup')]);
    this.ringOutEvent(ro, [this.party(ro, other, 'Disconnected', 'CallerHangup')]);
    this.finishRingOut(ro);
  }

  private cancelRingOut(ro: FakeRingOut): void {
    ro.status = { callStatus: 'GenericError', callerStatus: 'Rejected', calleeStatus: 'InProgress' };
    this.ringOutEvent(ro, [this.party(ro, 'Initiator', 'Disconnected', 'Cancelled')]);
    this.finishRingOut(ro);
    ro.deleted = true;
  }

  private dropRingOut(ro: FakeRingOut): void {
    if (ro.answered) return this.hangUpConnected(ro, 'Initiator');
    ro.status = { callStatus: 'GenericError', callerStatus: ro.leg1Up ? 'Finished' : 'Rejected', calleeStatus: 'Rejected' };
    if (ro.leg1Up) this.ringOutEvent(ro, [this.party(ro, 'Target', 'Disconnected', 'Cancelled')]);
    this.ringOutEvent(ro, [this.party(ro, 'Initiator', 'Disconnected', 'CallerHangup')]);
    this.finishRingOut(ro);
  }

  private finishRingOut(ro: FakeRingOut): void {
    ro.ended = true;
    if (ro.answered) this.storeRecording(ro.telephonySessionId, ro.from, ro.to, 'Outbound');
    if (ro.scenario.order === 'shuffle' && ro.buffered.length) {
      const list = shuffle(ro.buffered.splice(0));
      void (async () => {
        for (const body of list) await this.notify(body, ro.scenario.duplicate);
      })();
    }
  }

  /** Lets a ringing leg ("ring" scenarios) answer now. */
  answerCustomer(ringOutId: string): void {
    const ro = this.ringOuts.get(ringOutId);
    if (!ro || ro.ended || !ro.leg1Up) throw new Error('no ringing customer leg');
    ro.answered = true;
    ro.status = { callStatus: 'Success', callerStatus: 'Success', calleeStatus: 'Success' };
    this.ringOutEvent(ro, [this.party(ro, 'Target', 'Answered')]);
  }

  // ---- inbound -------------------------------------------------------------------------------

  /**
   * An outside caller dials one of the account's numbers (`did`), which rings the user's
   * extension; shaped like RingCentral's PSTN → RingCentral notification stream.
   */
  placeInbound(opts: { from: string; did: string; answer: boolean; stepMs?: number; talkMs?: number | 'hold'; order?: 'in-order' | 'shuffle'; duplicate?: boolean }): string {
    const tsid = `s-${randomBytes(16).toString('hex')}`;
    const state = { seq: 1, buffered: [] as Json[] };
    this.inbound.set(tsid, state);
    const order = opts.order ?? 'in-order';
    const step = opts.stepMs ?? 20;
    const caller = (code: string, reason?: string): Json => ({
      accountId: ACCOUNT_ID,
      id: `p-${tsid.slice(2)}-1`,
      direction: 'Outbound',
      to: { phoneNumber: opts.did },
      from: { phoneNumber: opts.from },
      status: reason ? { code, reason, rcc: false } : { code, rcc: false },
      park: {},
      missedCall: false,
      standAlone: false,
      muted: false,
    });
    const agent = (code: string, extra: Json = {}): Json => ({
      accountId: ACCOUNT_ID,
      extensionId: EXTENSION_ID,
      id: `p-${tsid.slice(2)}-2`,
      direction: 'Inbound',
      to: { phoneNumber: opts.did, name: 'Fake Agent', extensionId: EXTENSION_ID },
      from: { phoneNumber: opts.from, name: 'CUSTOMER' },
      status: { code, rcc: false },
      park: {},
      missedCall: false,
      standAlone: false,
      muted: false,
      ...extra,
    });
    const emit = (parties: Json[]) => {
      state.seq += 1;
      const body: Json = {
        sequence: state.seq,
        sessionId: String(Date.now()),
        telephonySessionId: tsid,
        serverId: '10.13.22.27.TAM',
        eventTime: new Date().toISOString(),
        parties,
        origin: { type: 'Call' },
      };
      if (order === 'shuffle') state.buffered.push(body);
      else void this.notify(body, opts.duplicate ?? false);
    };
    const flush = () => {
      if (order !== 'shuffle') return;
      const list = shuffle(state.buffered.splice(0));
      void (async () => {
        for (const b of list) await this.notify(b, opts.duplicate ?? false);
      })();
    };
    (state as Json).end = (dropped: boolean) => {
      if ((state as Json).ended) return;
      (state as Json).ended = true;
      if ((state as Json).answered) this.storeRecording(tsid, opts.from, opts.did, 'Inbound');
      emit([agent('Disconnected', dropped ? {} : { missedCall: !(state as Json).answered })]);
      emit([caller('Disconnected')]);
      flush();
    };
    emit([caller('Setup')]);
    this.later(step, () => {
      emit([agent('Setup')]);
      this.later(step, () => {
        emit([agent('Proceeding')]);
        this.later(step, () => {
          if ((state as Json).ended) return;
          if (!opts.answer) return (state as Json).end(false);
          (state as Json).answered = true;
          emit([agent('Answered')]);
          emit([caller('Answered')]);
          const talk = opts.talkMs ?? 30;
          if (talk === 'hold') return;
          this.later(talk, () => (state as Json).end(false));
        });
      });
    });
    return tsid;
  }

  private endInbound(_tsid: string, state: { seq: number; buffered: Json[] }, dropped: boolean): void {
    (state as Json).end?.(dropped);
  }

  // ---- subscriptions -------------------------------------------------------------------------

  private liveSubscription(id: string): FakeSubscription | undefined {
    const s = this.subscriptions.get(id);
    if (s && s.expirationTime < Date.now()) {
      this.subscriptions.delete(id);
      return undefined;
    }
    return s;
  }

  private subscriptionResource(s: FakeSubscription): Json {
    const r: Json = {
      uri: `${this.url}/restapi/v1.0/subscription/${s.id}`,
      id: s.id,
      creationTime: s.creationTime,
      status: s.status,
      eventFilters: s.eventFilters.map((f) => f.replace('/account/~', `/account/${ACCOUNT_ID}`).replace('/extension/~', `/extension/${EXTENSION_ID}`)),
      expirationTime: new Date(s.expirationTime).toISOString(),
      expiresIn: Math.max(0, Math.floor((s.expirationTime - Date.now()) / 1000)),
      deliveryMode: { transportType: 'WebHook', encryption: false, address: s.address },
    };
    if (s.status === 'Blacklisted') r.blacklistedData = { blacklistedAt: new Date().toISOString(), reason: 'Webhook responses are failing' };
    return r;
  }

  private async createSubscription(b: Json, send: (s: number, body?: Json) => void): Promise<void> {
    const dm = b.deliveryMode ?? {};
    if (dm.transportType !== 'WebHook' || typeof dm.address !== 'string') {
      return send(400, errorBody('CMN-101', 'Parameter [deliveryMode.address] value is invalid', { parameterName: 'deliveryMode.address' }));
    }
    const bad = (b.eventFilters as string[]).filter((f) => !/^\/restapi\/v1\.0\/account\/~(\/extension\/~)?\/telephony\/sessions(\?.*)?$/.test(f));
    if (bad.length) return send(400, errorBody('SUB-508', `Invalid event filters: [${bad.join(', ')}]`));
    const hs = await this.handshake(dm.address);
    this.handshakes.push(hs);
    if (!hs.ok) return send(400, errorBody('SUB-525', 'WebHook server response is invalid'));
    const expiresIn = typeof b.expiresIn === 'number' ? Math.min(b.expiresIn, 630720000) : 604800;
    const s: FakeSubscription = {
      id: randomUUID(),
      eventFilters: b.eventFilters,
      address: dm.address,
      verificationToken: dm.verificationToken,
      expiresIn,
      creationTime: new Date().toISOString(),
      expirationTime: Date.now() + expiresIn * 1000,
      status: 'Active',
    };
    this.subscriptions.set(s.id, s);
    send(200, this.subscriptionResource(s));
  }

  /**
   * The Validation-Token handshake over a raw socket, so the whole response (status line,
   * headers and body) is measured byte for byte against the 1024-byte limit.
   */
  async handshake(address: string): Promise<HandshakeRecord> {
    const started = Date.now();
    const token = randomUUID();
    const u = new URL(address);
    return new Promise<HandshakeRecord>((resolve) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (ok: boolean, reason?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        const raw = Buffer.concat(chunks);
        resolve({ address, ok, reason, bytes: raw.length, ms: Date.now() - started, rawResponse: raw.toString('latin1') });
      };
      const socket = connect(Number(u.port || 80), u.hostname);
      const timer = setTimeout(() => finish(false, 'no response within 3000 ms'), 3000);
      socket.on('error', (e) => finish(false, `connection failed: ${e.message}`));
      socket.on('connect', () => {
        socket.write(
          `POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nValidation-Token: ${token}\r\n` +
            `Content-Type: application/json\r\nContent-Length: 0\r\nUser-Agent: RingCentral-Webhook/8.3\r\n` +
            `Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n`,
        );
      });
      const evaluate = (complete: boolean) => {
        const raw = Buffer.concat(chunks);
        const end = raw.indexOf('\r\n\r\n');
        if (end < 0) return complete ? finish(false, 'incomplete response') : undefined;
        const head = raw.subarray(0, end).toString('latin1').split('\r\n');
        const headers = new Map<string, string>();
        for (const line of head.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        const len = headers.has('content-length') ? Number(headers.get('content-length')) : null;
        const bodyBytes = raw.length - end - 4;
        if (!complete && (len === null || bodyBytes < len)) return;
        const status = Number(head[0].split(' ')[1]);
        if (raw.length > 1024) return finish(false, `response is ${raw.length} bytes (> 1024)`);
        if (status !== 200) return finish(false, `status ${status}`);
        if (headers.get('validation-token') !== token) return finish(false, 'Validation-Token not echoed');
        if (!(headers.get('content-type') ?? '').startsWith('application/json')) return finish(false, 'Content-Type is not application/json');
        finish(true);
      };
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        if (Buffer.concat(chunks).length > 1024) return finish(false, 'response larger than 1024 bytes');
        evaluate(false);
      });
      socket.on('end', () => evaluate(true));
    });
  }

  /** Posts one notification to every Active subscription (twice when duplicating). */
  private async notify(body: Json, duplicate: boolean): Promise<void> {
    if (!this.validateEventBody(body)) {
      this.specViolations.push(`session event body: ${(this.validateEventBody.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('; ')}`);
    }
    for (const s of this.subscriptions.values()) {
      if (s.status !== 'Active' || s.expirationTime < Date.now()) continue;
      const envelope = {
        uuid: String(BigInt.asUintN(63, BigInt(`0x${randomBytes(8).toString('hex')}`))),
        event: `/restapi/v1.0/account/${ACCOUNT_ID}/telephony/sessions`,
        timestamp: new Date().toISOString(),
        subscriptionId: s.id,
        ownerId: EXTENSION_ID,
        body,
      };
      for (let i = 0; i < (duplicate ? 2 : 1); i++) await this.post(s, envelope);
    }
  }

  private async post(s: FakeSubscription, envelope: Json): Promise<void> {
    if (this.closed) return;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'RingCentral-Webhook/8.3' };
    if (s.verificationToken) headers['verification-token'] = s.verificationToken;
    let statusCode = 0;
    try {
      const res = await request(s.address, { method: 'POST', headers, body: JSON.stringify(envelope), headersTimeout: 5000, bodyTimeout: 5000 });
      statusCode = res.statusCode;
      await res.body.text();
    } catch {
      statusCode = -1;
    }
    this.deliveries.push({ at: Date.now(), telephonySessionId: envelope.body.telephonySessionId, sequence: envelope.body.sequence, statusCode, envelope });
  }

  /** Sends any envelope (e.g. a forged one) to an address with the given headers. */
  async postRaw(address: string, envelope: unknown, headers: Record<string, string>): Promise<{ statusCode: number; body: string }> {
    const res = await request(address, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(envelope) });
    return { statusCode: res.statusCode, body: await res.body.text() };
  }
}

function shuffle<T>(list: T[]): T[] {
  // deterministic enough to be out of order every time: reverse, then swap neighbours randomly
  const out = list.slice().reverse();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  if (out.length > 1 && out.every((x, i) => x === list[i])) out.reverse();
  return out;
}

export async function startFakeRingCentral(opts: FakeRingCentralOptions): Promise<FakeRingCentral> {
  return new FakeRingCentral(opts).start();
}
