// A fake Twilio: the REST API for Calls (create, update) on a real HTTP server, checking Basic
// auth, validating every request against the official spec (test/fakes/specs/twilio_api_v2010.subset.json),
// answering with spec-valid Call resources or Twilio's error bodies, with knobs for 429/5xx/hangs.
// It then drives the gateway the way Twilio does: fetches the call's Url (signed) for TwiML, runs
// <Dial>/<Pause>/<Hangup>, posts the <Dial action>, and posts signed status callbacks, optionally
// out of order or duplicated. Inbound calls are placed with placeInbound().

import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { twilioSpec } from '../openapi.js';
import { readTwiml, type DialInstruction, type Instruction } from './twiml.js';

export type Form = Record<string, string | string[]>;

export interface CallScenario {
  /** what the first leg (the agent, or the trial destination) does; "ring" rings until canceled via the API */
  agent: 'answer' | 'busy' | 'no-answer' | 'failed' | 'ring';
  /** what the <Dial>ed party does */
  customer: 'answer' | 'busy' | 'no-answer' | 'failed';
  /** talk time once connected; "hold" stays connected until hung up via the API */
  talkMs: number | 'hold';
  /** status callback delivery: as they happen, or buffered and sent at the end in another order */
  order: 'in-order' | 'reverse' | 'shuffle';
  /** send every status callback twice */
  duplicate: boolean;
  /** CallDuration reported on completion (seconds) */
  durationSec: number;
  /** seconds of message an inbound caller leaves at a <Record> */
  voicemailSec: number;
}

export const DEFAULT_SCENARIO: CallScenario = {
  agent: 'answer',
  customer: 'answer',
  talkMs: 20,
  order: 'in-order',
  duplicate: false,
  durationSec: 42,
  voicemailSec: 4,
};

export interface FakeRecording {
  sid: string;
  callSid: string;
  source: 'DialVerb' | 'RecordVerb';
  durationSec: number;
  /** the audio served at .../Recordings/{Sid}.wav */
  wav: Buffer;
}

/** A small real WAV (8 kHz mono 16-bit PCM, a 440 Hz tone), written here independently of the gateway's code. */
export function fakeWav(seconds: number): Buffer {
  const n = Math.max(1, Math.round(seconds * 8000));
  const out = Buffer.alloc(44 + n * 2);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + n * 2, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(8000, 24);
  out.writeUInt32LE(16000, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000)), 44 + i * 2);
  return out;
}

export interface FakeCall {
  sid: string;
  direction: 'outbound-api' | 'inbound' | 'outbound-dial';
  to: string;
  from: string;
  status: 'queued' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';
  params: Form;
  idempotencyToken?: string;
  parentCallSid?: string;
  scenario: CallScenario;
  seq: number;
  createdAt: Date;
  answeredAt?: Date;
  endedAt?: Date;
  /** TwiML documents the gateway returned for this call, in order */
  twiml: string[];
  /** <Dial> targets the gateway asked for */
  dialed: Instruction[];
  resource: Record<string, unknown>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  contentType: string;
  rawBody: string;
  form: Form;
  status?: number;
}

export interface Delivery {
  kind: 'status' | 'twiml' | 'action' | 'voice' | 'custom' | 'recording';
  url: string;
  params: Form;
  statusCode: number;
  body: string;
  contentType: string;
}

// a fault for dials only leaves the gateway's other requests (probes, price and status reads) alone
type Fault = ({ kind: 'status'; status: number } | { kind: 'hang'; ms: number }) & { dialsOnly?: boolean };

export interface FakeTwilioOptions {
  accountSid?: string;
  authToken?: string;
  apiKey?: { sid: string; secret: string };
  scenario?: Partial<CallScenario>;
  /** delay between simulated call steps */
  stepMs?: number;
  /** real milliseconds per <Pause> second */
  pauseScale?: number;
}

/**
 * What the fake charges: per started minute of a completed leg, in `unit`; the price stays null
 * for `delayMs` after the leg ended (Twilio fills it in later), or for good with delayMs Infinity.
 */
export interface Pricing {
  perMinute: number;
  unit: string;
  delayMs: number;
}

const API = '2010-04-01';
const E164 = /^\+[1-9][0-9]{1,14}$/;

function hex(n: number): string {
  return randomBytes(n).toString('hex');
}

export function newSid(prefix: string): string {
  return prefix + hex(16);
}

/** RFC 2822, as Twilio writes dates ("Tue, 31 Aug 2010 20:36:28 +0000"). */
export function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

function parseForm(raw: string): Form {
  const out: Form = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Twilio's signature, computed here independently of the adapter's code. */
export function twilioSign(authToken: string, url: string, params: Form): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => {
      const v = params[k];
      return acc + (Array.isArray(v) ? [...new Set(v)].sort().map((x) => k + x).join('') : k + v);
    }, url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

function errorBody(code: number, message: string, status: number) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

export class FakeTwilio {
  readonly accountSid: string;
  readonly authToken: string;
  readonly apiKey?: { sid: string; secret: string };
  scenario: CallScenario;
  stepMs: number;
  pauseScale: number;
  pricing: Pricing = { perMinute: 0.013, unit: 'USD', delayMs: 0 };
  /** what the next recordings' status callbacks say (Twilio: absent when nothing was recorded) */
  recordingOutcome: 'completed' | 'absent' | 'failed' = 'completed';
  readonly recordings = new Map<string, FakeRecording>();

  readonly calls: FakeCall[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: Delivery[] = [];
  /** anything the fake found wrong in the gateway's behaviour or in its own responses */
  readonly problems: string[] = [];
  /** numbers Twilio refuses as invalid (To), with the error code to answer */
  readonly refusedNumbers = new Map<string, number>();

  private readonly faults: Fault[] = [];
  private readonly byToken = new Map<string, FakeCall>();
  private readonly enders = new Map<string, () => void>();
  private readonly running = new Set<Promise<unknown>>();
  /** maps the public URL Twilio signs to the address it really connects to (a proxy in front of the gateway) */
  route: (publicUrl: string) => string = (u) => u;
  private server: Server | null = null;
  private closing = false;
  url = '';

  constructor(opts: FakeTwilioOptions = {}) {
    this.accountSid = opts.accountSid ?? 'AC' + hex(16);
    this.authToken = opts.authToken ?? hex(16);
    this.apiKey = opts.apiKey;
    this.scenario = { ...DEFAULT_SCENARIO, ...opts.scenario };
    this.stepMs = opts.stepMs ?? 5;
    this.pauseScale = opts.pauseScale ?? 10;
  }

  async start(): Promise<this> {
    // parse the spec and compile its validators now, not inside the first (timed) API request
    const spec = twilioSpec();
    const create = spec.find('POST', `/${API}/Accounts/${this.accountSid}/Calls.json`)!;
    const update = spec.find('POST', `/${API}/Accounts/${this.accountSid}/Calls/CA${'0'.repeat(32)}.json`)!;
    for (const op of [create, update]) {
      spec.validateRequest(op, 'application/x-www-form-urlencoded', {});
      spec.validateResponse(op, op === create ? 201 : 200, {});
    }
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        this.problems.push(`fake crashed: ${(e as Error).stack}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const end of this.enders.values()) end();
    await this.idle(2000).catch(() => undefined);
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
  }

  // ---- knobs ------------------------------------------------------------------------------

  /** The next `times` REST requests answer 429 (Twilio 20429). */
  rateLimit(times: number): void {
    for (let i = 0; i < times; i++) this.faults.push({ kind: 'status', status: 429 });
  }

  /** The next `times` REST requests answer a 5xx. */
  serverError(times: number, status = 500): void {
    for (let i = 0; i < times; i++) this.faults.push({ kind: 'status', status });
  }

  /** The next `times` REST requests (with `dialsOnly`, call creations) get no answer for `ms`. */
  hang(times: number, ms = 30_000, opts: { dialsOnly?: boolean } = {}): void {
    for (let i = 0; i < times; i++) this.faults.push({ kind: 'hang', ms, ...(opts.dialsOnly ? { dialsOnly: true } : {}) });
  }

  refuseNumber(number: string, code = 21211): void {
    this.refusedNumbers.set(number, code);
  }

  /** Resolves when every simulated call has finished driving the gateway. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0) {
      if (Date.now() > deadline) throw new Error(`fake Twilio still driving ${this.running.size} call(s) after ${timeoutMs} ms`);
      await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, 50))]);
    }
  }

  callBySid(sid: string): FakeCall | undefined {
    return this.calls.find((c) => c.sid === sid);
  }

  deliveriesFor(sid: string, kind?: Delivery['kind']): Delivery[] {
    return this.deliveries.filter((d) => (one(d.params.CallSid) === sid || one(d.params.ParentCallSid) === sid) && (!kind || d.kind === kind));
  }

  // ---- REST API ---------------------------------------------------------------------------

  private send(res: ServerResponse, rec: RecordedRequest | null, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    if (rec) rec.status = status;
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const contentType = String(req.headers['content-type'] ?? '');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      contentType,
      rawBody,
      form: contentType.startsWith('application/x-www-form-urlencoded') ? parseForm(rawBody) : {},
    };
    this.requests.push(rec);

    // Basic auth with the account's token or an API key of the account
    const auth = String(req.headers.authorization ?? '');
    const [user, pass] = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(/:(.*)/s) : [];
    const authed =
      (user === this.accountSid && pass === this.authToken) || (this.apiKey !== undefined && user === this.apiKey.sid && pass === this.apiKey.secret);
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls(?:\/([^/]+))?\.json$/.exec(url.pathname);
    const account = /^\/2010-04-01\/Accounts\/([^/]+)\.json$/.exec(url.pathname);
    const recording = /^\/2010-04-01\/Accounts\/([^/]+)\/Recordings\/([^/]+)\.(json|wav|mp3)$/.exec(url.pathname);
    if (!authed || (m && m[1] !== this.accountSid) || (account && account[1] !== this.accountSid) || (recording && recording[1] !== this.accountSid)) {
      return this.send(res, rec, 401, errorBody(20003, 'Authenticate', 401), { 'www-authenticate': 'Basic realm="Twilio API"' });
    }

    const isDial = rec.method === 'POST' && m !== null && m[2] === undefined;
    const at = this.faults.findIndex((f) => !f.dialsOnly || isDial);
    const fault = at >= 0 ? this.faults.splice(at, 1)[0] : undefined;
    if (fault?.kind === 'hang') {
      await new Promise<void>((r) => {
        const t = setTimeout(r, fault.ms);
        res.on('close', () => {
          clearTimeout(t);
          r();
        });
      });
      if (res.destroyed || this.closing) return;
    } else if (fault?.kind === 'status') {
      if (fault.status === 429) return this.send(res, rec, 429, errorBody(20429, 'Too Many Requests', 429), { 'twilio-concurrent-requests': '101' });
      return this.send(res, rec, fault.status, errorBody(fault.status === 503 ? 20503 : 20500, fault.status === 503 ? 'Service Unavailable' : 'Internal Server Error', fault.status));
    }

    const spec = twilioSpec();
    const op = spec.find(rec.method, url.pathname);
    if (account && op && rec.method === 'GET') return this.fetchAccount(res, rec, op);
    if (recording) return this.fetchRecording(req, res, rec, recording[2], recording[3]);
    if (!m || !op) {
      return this.send(res, rec, 404, errorBody(20404, `The requested resource ${url.pathname} was not found`, 404));
    }
    const checked = spec.validateRequest(op, contentType || 'application/octet-stream', rec.form);
    // Twilio names a missing To / From / Url or a bad URL with its own codes before anything else
    if (rec.method === 'POST' && !m[2] && this.refuseMissing(res, rec)) return;
    if (!checked.ok) {
      // [~] Twilio's generic code for a malformed parameter; the adapter never branches on it
      return this.send(res, rec, 400, errorBody(20001, `Invalid request: ${checked.errors.join('; ')}`, 400));
    }
    if (rec.method === 'POST' && !m[2]) return this.createCall(res, rec, op);
    if (rec.method === 'POST' && m[2]) return this.updateCall(res, rec, op, m[2]);
    if (rec.method === 'GET' && !m[2]) return this.listCalls(res, rec, op, url.searchParams);
    if (rec.method === 'GET' && m[2]) {
      const call = this.callBySid(m[2]);
      if (!call) return this.send(res, rec, 404, errorBody(20404, `The requested resource ${rec.path} was not found`, 404));
      return this.respondCall(res, rec, op, 200, call);
    }
    return this.send(res, rec, 405, errorBody(20004, 'Method not allowed', 405));
  }

  private respondCall(res: ServerResponse, rec: RecordedRequest, op: NonNullable<ReturnType<ReturnType<typeof twilioSpec>['find']>>, status: number, call: FakeCall): void {
    const body = this.priced(call);
    const v = twilioSpec().validateResponse(op, status, body);
    if (!v.ok) this.problems.push(`fake's own ${status} response does not match the spec: ${v.errors.join('; ')}`);
    this.send(res, rec, status, body);
  }

  /** The Call resource as it reads now: a completed leg's price once `pricing.delayMs` has passed (negative: a charge). */
  priceOf(call: FakeCall): string | null {
    if (call.status !== 'completed' || !call.endedAt || !call.answeredAt) return null;
    if (Date.now() < call.endedAt.getTime() + this.pricing.delayMs) return null;
    const minutes = Math.max(1, Math.ceil(call.scenario.durationSec / 60));
    return (-(minutes * this.pricing.perMinute)).toFixed(5);
  }

  private priced(call: FakeCall): Record<string, unknown> {
    return { ...call.resource, price: this.priceOf(call), price_unit: this.pricing.unit };
  }

  /** ListCall, filtered by ParentCallSid (what the adapter asks for); one page. */
  private listCalls(res: ServerResponse, rec: RecordedRequest, op: NonNullable<ReturnType<ReturnType<typeof twilioSpec>['find']>>, query: URLSearchParams): void {
    const known = new Set(((op.op.parameters ?? []) as Array<{ name: string; in: string }>).filter((p) => p.in === 'query').map((p) => p.name));
    const unknown = [...query.keys()].filter((k) => !known.has(k));
    if (unknown.length) return this.send(res, rec, 400, errorBody(20001, `Unknown parameters: ${unknown.join(', ')}`, 400));
    const size = Number(query.get('PageSize') ?? 50);
    if (!(Number.isInteger(size) && size >= 1 && size <= 1000)) return this.send(res, rec, 400, errorBody(20001, 'PageSize must be between 1 and 1000', 400));
    const parent = query.get('ParentCallSid');
    const calls = this.calls.filter((c) => (parent === null || c.parentCallSid === parent)).slice(0, size).map((c) => this.priced(c));
    // [~] Twilio writes these paths relative; the spec types them as format uri, so they go absolute here
    const uri = `${this.url}${rec.path}?${query}`;
    const body = { calls, end: Math.max(0, calls.length - 1), first_page_uri: uri, next_page_uri: null, page: 0, page_size: size, previous_page_uri: null, start: 0, uri };
    const v = twilioSpec().validateResponse(op, 200, body);
    if (!v.ok) this.problems.push(`fake's own call list does not match the spec: ${v.errors.join('; ')}`);
    this.send(res, rec, 200, body);
  }

  /**
   * FetchRecording: the metadata (.json) or the audio (.wav; .mp3 is not made here: 404), with
   * Range (206, 416 past the end). The media URL is the resource's with another extension, so
   * the Sid is checked against the spec's FetchRecording parameters.
   */
  private fetchRecording(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, sid: string, ext: string): void {
    const spec = twilioSpec();
    const op = spec.find('GET', `/${API}/Accounts/${this.accountSid}/Recordings/${sid}.json`);
    const sidParam = ((op?.op.parameters ?? []) as Array<{ name: string; in: string; schema?: { pattern?: string } }>).find((p) => p.in === 'path' && p.name === 'Sid');
    if (rec.method !== 'GET' || !op) return this.send(res, rec, 405, errorBody(20004, 'Method not allowed', 405));
    if (sidParam?.schema?.pattern && !new RegExp(sidParam.schema.pattern).test(sid)) return this.send(res, rec, 404, errorBody(20404, `The requested resource ${rec.path} was not found`, 404));
    const r = this.recordings.get(sid);
    if (!r || ext === 'mp3') return this.send(res, rec, 404, errorBody(20404, `The requested resource ${rec.path} was not found`, 404));
    if (ext === 'json') {
      const base = `/${API}/Accounts/${this.accountSid}/Recordings/${sid}`;
      const body = {
        account_sid: this.accountSid,
        api_version: API,
        call_sid: r.callSid,
        conference_sid: null,
        date_created: rfc2822(new Date()),
        date_updated: rfc2822(new Date()),
        start_time: rfc2822(new Date()),
        duration: String(r.durationSec),
        sid,
        price: null,
        price_unit: 'USD',
        status: 'completed',
        channels: r.source === 'DialVerb' ? 2 : 1,
        source: r.source,
        error_code: null,
        uri: `${base}.json`,
        encryption_details: null,
        subresource_uris: { add_on_results: `${base}/AddOnResults.json`, transcriptions: `${base}/Transcriptions.json` },
        media_url: `${this.url}${base}`,
      };
      const v = spec.validateResponse(op, 200, body);
      if (!v.ok) this.problems.push(`fake's own recording resource does not match the spec: ${v.errors.join('; ')}`);
      return this.send(res, rec, 200, body);
    }
    const size = r.wav.length;
    const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
    const head = { 'content-type': 'audio/x-wav', 'accept-ranges': 'bytes' };
    if (!range || (range[1] === '' && range[2] === '')) {
      rec.status = 200;
      res.writeHead(200, { ...head, 'content-length': size }).end(r.wav);
      return;
    }
    const start = range[1] === '' ? Math.max(0, size - Number(range[2])) : Number(range[1]);
    const end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start >= size || start > end) {
      rec.status = 416;
      res.writeHead(416, { ...head, 'content-range': `bytes */${size}` }).end();
      return;
    }
    rec.status = 206;
    res.writeHead(206, { ...head, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 }).end(r.wav.subarray(start, end + 1));
  }

  /**
   * A recording Twilio made of `call` (a recorded <Dial> that bridged, or a <Record>): kept for
   * the media URL, and reported to its recordingStatusCallback, signed, with recordingOutcome.
   */
  private async record(call: FakeCall, source: FakeRecording['source'], durationSec: number, callback: string | undefined, events: string[]): Promise<FakeRecording> {
    const r: FakeRecording = { sid: newSid('RE'), callSid: call.sid, source, durationSec, wav: fakeWav(Math.min(durationSec, 10)) };
    const outcome = this.recordingOutcome;
    if (outcome === 'completed') this.recordings.set(r.sid, r);
    if (callback && events.includes(outcome === 'failed' ? 'completed' : outcome)) {
      await this.post('recording', callback, {
        AccountSid: this.accountSid,
        CallSid: call.sid,
        RecordingSid: r.sid,
        RecordingUrl: `${this.url}/${API}/Accounts/${this.accountSid}/Recordings/${r.sid}`,
        RecordingStatus: outcome,
        RecordingDuration: outcome === 'completed' ? String(durationSec) : '0',
        RecordingChannels: source === 'DialVerb' ? '2' : '1',
        RecordingSource: source === 'DialVerb' ? 'DialVerb' : 'RecordVerb',
        RecordingStartTime: rfc2822(new Date()),
      });
    }
    return r;
  }

  /** GET the account resource (FetchAccount): what a credentials check or a health probe reads. */
  private fetchAccount(res: ServerResponse, rec: RecordedRequest, op: NonNullable<ReturnType<ReturnType<typeof twilioSpec>['find']>>): void {
    const base = `/${API}/Accounts/${this.accountSid}`;
    const resource = {
      sid: this.accountSid,
      friendly_name: 'Fake account',
      status: 'active',
      type: 'Full',
      auth_token: null,
      owner_account_sid: this.accountSid,
      date_created: new Date(0).toUTCString(),
      date_updated: new Date(0).toUTCString(),
      uri: `${base}.json`,
      subresource_uris: { calls: `${base}/Calls.json` },
    };
    const v = twilioSpec().validateResponse(op, 200, resource);
    if (!v.ok) this.problems.push(`fake's own account response does not match the spec: ${v.errors.join('; ')}`);
    this.send(res, rec, 200, resource);
  }

  /** Answers the missing-parameter errors; true when it did. */
  private refuseMissing(res: ServerResponse, rec: RecordedRequest): boolean {
    const f = rec.form;
    if (!one(f.To)) this.send(res, rec, 400, errorBody(21201, "No 'To' number is specified", 400));
    else if (!one(f.From)) this.send(res, rec, 400, errorBody(21213, "No 'From' number is specified", 400));
    else if (!one(f.Url) && !one(f.Twiml) && !one(f.ApplicationSid)) this.send(res, rec, 400, errorBody(21205, 'Url parameter is required.', 400));
    else {
      const bad = (['Url', 'StatusCallback', 'FallbackUrl'] as const).find((k) => {
        const u = one(f[k]);
        return u !== undefined && !/^https?:\/\/[^\s/]+/.test(u);
      });
      if (!bad) return false;
      this.send(res, rec, 400, errorBody(21205, `${bad} is not a valid URL.`, 400));
    }
    return true;
  }

  private createCall(res: ServerResponse, rec: RecordedRequest, op: Parameters<FakeTwilio['respondCall']>[2]): void {
    const f = rec.form;
    const token = one(rec.headers['i-twilio-idempotency-token']);
    if (token) {
      const prior = this.byToken.get(token);
      // same token: the original call comes back and nothing is dialled again
      if (prior) return this.respondCall(res, rec, op, 201, prior);
    }
    const to = one(f.To)!;
    const from = one(f.From)!;
    const refused = this.refusedNumbers.get(to);
    if (refused !== undefined) return this.send(res, rec, 400, errorBody(refused, `The 'To' number ${to} is not a valid phone number.`, 400));
    if (!E164.test(to) && !/^client:[A-Za-z0-9_.@-]+$/.test(to) && !to.startsWith('sip:')) {
      return this.send(res, rec, 400, errorBody(21211, `The 'To' number ${to} is not a valid phone number.`, 400));
    }
    if (!E164.test(from) && !from.startsWith('client:')) return this.send(res, rec, 400, errorBody(21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`, 400));
    const allowed = new Set((twilioSpec().deref('#/components/schemas/call_enum_event').enum as string[]) ?? []);
    const events = f.StatusCallbackEvent === undefined ? [] : Array.isArray(f.StatusCallbackEvent) ? f.StatusCallbackEvent : [f.StatusCallbackEvent];
    for (const e of events) {
      // Twilio's form also accepts space-separated events in one value
      for (const part of e.split(' ')) {
        if (!allowed.has(part)) return this.send(res, rec, 400, errorBody(20001, `StatusCallbackEvent ${part} is not one of ${[...allowed].join(', ')}`, 400));
      }
    }
    const timeout = one(f.Timeout);
    if (timeout !== undefined && !(Number(timeout) >= 1 && Number(timeout) <= 600)) return this.send(res, rec, 400, errorBody(20001, 'Timeout must be between 1 and 600', 400));

    const now = new Date();
    const sid = newSid('CA');
    const call: FakeCall = {
      sid,
      direction: 'outbound-api',
      to,
      from,
      status: 'queued',
      params: f,
      idempotencyToken: token,
      scenario: { ...this.scenario },
      seq: 0,
      createdAt: now,
      twiml: [],
      dialed: [],
      resource: {},
    };
    this.refreshResource(call);
    this.calls.push(call);
    if (token) this.byToken.set(token, call);
    this.respondCall(res, rec, op, 201, call);
    // Twilio starts the call after answering the API request
    this.track(this.driveOutbound(call));
  }

  private updateCall(res: ServerResponse, rec: RecordedRequest, op: Parameters<FakeTwilio['respondCall']>[2], sid: string): void {
    const call = this.callBySid(sid);
    if (!call) return this.send(res, rec, 404, errorBody(20404, `The requested resource ${rec.path} was not found`, 404));
    const status = one(rec.form.Status);
    if (status === 'canceled' && (call.status === 'queued' || call.status === 'ringing')) this.end(call, 'canceled');
    // [~] "completed" on a call not yet answered ends it as canceled
    else if (status === 'completed' && (call.status === 'queued' || call.status === 'ringing')) this.end(call, 'canceled');
    else if (status === 'completed' && call.status === 'in-progress') this.end(call, 'completed');
    // canceled on a live call, or anything on an ended one, leaves it as it is
    this.respondCall(res, rec, op, 200, call);
  }

  private refreshResource(call: FakeCall): void {
    const base = `/${API}/Accounts/${this.accountSid}/Calls/${call.sid}`;
    const ended = call.endedAt !== undefined;
    call.resource = {
      account_sid: this.accountSid,
      answered_by: null,
      api_version: API,
      caller_name: null,
      date_created: rfc2822(call.createdAt),
      date_updated: rfc2822(call.endedAt ?? call.answeredAt ?? call.createdAt),
      direction: call.direction,
      duration: ended ? String(call.answeredAt ? call.scenario.durationSec : 0) : null,
      end_time: ended ? rfc2822(call.endedAt!) : null,
      forwarded_from: null,
      from: call.from,
      from_formatted: call.from,
      group_sid: null,
      parent_call_sid: call.parentCallSid ?? null,
      phone_number_sid: null,
      price: null,
      price_unit: this.pricing.unit,
      sid: call.sid,
      start_time: call.status === 'queued' ? null : rfc2822(call.createdAt),
      status: call.status,
      subresource_uris: {
        notifications: `${base}/Notifications.json`,
        recordings: `${base}/Recordings.json`,
        payments: `${base}/Payments.json`,
        events: `${base}/Events.json`,
        siprec: `${base}/Siprec.json`,
        streams: `${base}/Streams.json`,
        transcriptions: `${base}/Transcriptions.json`,
        user_defined_message_subscriptions: `${base}/UserDefinedMessageSubscriptions.json`,
        user_defined_messages: `${base}/UserDefinedMessages.json`,
      },
      to: call.to,
      to_formatted: call.to,
      trunk_sid: null,
      uri: `${base}.json`,
      queue_time: '0',
    };
  }

  // ---- driving the gateway ----------------------------------------------------------------

  private track(p: Promise<unknown>): void {
    const wrapped = p.catch((e) => this.problems.push(`driver failed: ${(e as Error).message}`));
    this.running.add(wrapped);
    void wrapped.finally(() => this.running.delete(wrapped));
  }

  /** Ends a call (from the API or the scenario) and posts the matching "completed" callback. */
  private end(call: FakeCall, status: FakeCall['status']): void {
    if (call.endedAt) return;
    call.status = status;
    call.endedAt = new Date();
    this.refreshResource(call);
    this.enders.get(call.sid)?.();
    this.track(this.statusEvent(call, 'completed'));
    // hanging up a parent takes its <Dial>ed legs down with it
    for (const child of this.calls) {
      if (child.parentCallSid === call.sid && !child.endedAt) this.end(child, child.answeredAt ? 'completed' : 'canceled');
    }
  }

  /** Waits `ms`; resolves true early if the call ended meanwhile. */
  private wait(call: FakeCall, ms: number | 'forever'): Promise<boolean> {
    if (call.endedAt || this.closing) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = ms === 'forever' ? null : setTimeout(() => {
        this.enders.delete(call.sid);
        resolve(false);
      }, ms);
      this.enders.set(call.sid, () => {
        if (t) clearTimeout(t);
        this.enders.delete(call.sid);
        resolve(true);
      });
    });
  }

  private readonly buffered = new Map<string, Form[]>();

  /** Posts a status callback for an event the call asked for (StatusCallbackEvent). */
  private async statusEvent(call: FakeCall, event: 'initiated' | 'ringing' | 'answered' | 'completed'): Promise<void> {
    const cb = one(call.params.StatusCallback);
    if (!cb) return;
    const wanted = ([] as string[]).concat(call.params.StatusCallbackEvent ?? []).flatMap((e) => e.split(' '));
    if (!(wanted.length ? wanted : ['completed']).includes(event)) return;
    const status = event === 'initiated' ? 'initiated' : event === 'ringing' ? 'ringing' : event === 'answered' ? 'in-progress' : call.status;
    const params: Form = {
      ...this.callParams(call, status),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(call.seq++),
      Timestamp: rfc2822(new Date()),
    };
    if (event === 'completed') {
      const dur = call.answeredAt ? call.scenario.durationSec : 0;
      params.CallDuration = String(dur);
      params.Duration = String(Math.ceil(dur / 60));
    }
    if (call.scenario.order !== 'in-order') {
      const list = this.buffered.get(call.sid) ?? [];
      list.push(params);
      this.buffered.set(call.sid, list);
      if (event === 'completed') await this.flush(call, cb);
      return;
    }
    await this.post('status', cb, params);
    if (call.scenario.duplicate) await this.post('status', cb, params);
  }

  private async flush(call: FakeCall, cb: string): Promise<void> {
    const list = this.buffered.get(call.sid) ?? [];
    this.buffered.delete(call.sid);
    let ordered = [...list];
    if (call.scenario.order === 'reverse') ordered.reverse();
    else {
      // a fixed permutation that moves every element (deterministic: no flaky "happened to be in order")
      ordered = ordered.map((_, i) => list[(i + 1) % list.length]);
    }
    for (const p of ordered) {
      await this.post('status', cb, p);
      if (call.scenario.duplicate) await this.post('status', cb, p);
    }
  }

  private callParams(call: FakeCall, status: string): Form {
    const p: Form = {
      AccountSid: this.accountSid,
      ApiVersion: API,
      CallSid: call.sid,
      CallStatus: status,
      Called: call.to,
      Caller: call.from,
      Direction: call.direction,
      From: call.from,
      To: call.to,
    };
    if (call.parentCallSid) p.ParentCallSid = call.parentCallSid;
    return p;
  }

  private async driveOutbound(call: FakeCall): Promise<void> {
    const sc = call.scenario;
    await this.wait(call, this.stepMs);
    if (call.endedAt) return;
    await this.statusEvent(call, 'initiated');
    call.status = 'ringing';
    this.refreshResource(call);
    if (await this.wait(call, this.stepMs)) return;
    await this.statusEvent(call, 'ringing');
    if (sc.agent === 'ring') {
      await this.wait(call, 'forever');
      return;
    }
    if (await this.wait(call, this.stepMs)) return;
    if (sc.agent !== 'answer') return this.end(call, sc.agent);
    call.status = 'in-progress';
    call.answeredAt = new Date();
    this.refreshResource(call);
    await this.statusEvent(call, 'answered');
    const url = one(call.params.Url);
    if (!url) return this.end(call, 'completed');
    const reply = await this.post('twiml', url, this.callParams(call, 'in-progress'));
    await this.execute(call, reply);
  }

  /** Runs the TwiML the gateway answered, like Twilio's voice engine (the subset we use). */
  private async execute(call: FakeCall, reply: Delivery): Promise<void> {
    if (reply.statusCode !== 200) {
      this.problems.push(`TwiML request for ${call.sid} answered ${reply.statusCode}`);
      return this.end(call, 'failed');
    }
    if (!/^(text|application)\/xml/.test(reply.contentType)) this.problems.push(`TwiML for ${call.sid} served as "${reply.contentType}"`);
    call.twiml.push(reply.body);
    const { instructions, problems } = readTwiml(reply.body);
    if (problems.length) {
      this.problems.push(...problems.map((p) => `${call.sid}: ${p}`));
      return this.end(call, 'failed');
    }
    for (const ins of instructions) {
      if (call.endedAt) return;
      if (ins.verb === 'Hangup') return this.end(call, 'completed');
      if (ins.verb === 'Reject') return this.end(call, call.answeredAt ? 'completed' : 'busy');
      if (ins.verb === 'Pause') {
        if (await this.wait(call, ins.seconds * this.pauseScale)) return;
        continue;
      }
      if (ins.verb === 'Dial') {
        call.dialed.push(ins);
        const sc = call.scenario;
        let dialStatus: string = sc.customer === 'answer' ? 'completed' : sc.customer;
        // the <Dial>ed leg is a call of its own (ListCall?ParentCallSid finds it; billed on its own)
        const child = this.childLeg(call, ins.dial.target.value, ins.dial.callerId ?? call.from);
        if (sc.customer === 'answer') {
          child.status = 'in-progress';
          child.answeredAt = new Date();
          this.refreshResource(child);
          const endedByApi = await this.wait(call, sc.talkMs === 'hold' ? 'forever' : sc.talkMs);
          if (this.recorded(ins.dial)) this.track(this.record(call, 'DialVerb', sc.durationSec, ins.dial.recordingStatusCallback, ins.dial.recordingStatusCallbackEvents));
          if (endedByApi) return;
          this.end(child, 'completed');
        } else {
          if (await this.wait(call, this.stepMs)) return;
          this.end(child, sc.customer);
        }
        if (ins.dial.action) {
          const params: Form = {
            ...this.callParams(call, 'in-progress'),
            DialCallSid: child.sid,
            DialCallStatus: dialStatus,
            DialCallDuration: String(sc.customer === 'answer' ? sc.durationSec : 0),
          };
          const next = await this.post('action', ins.dial.action, params);
          return this.execute(call, next);
        }
        continue;
      }
    }
    // the document ran out: Twilio hangs up
    this.end(call, 'completed');
  }

  private childLeg(parent: FakeCall, to: string, from: string, status: FakeCall['status'] = 'ringing'): FakeCall {
    const child: FakeCall = {
      sid: newSid('CA'),
      direction: 'outbound-dial',
      to,
      from,
      status,
      params: {},
      parentCallSid: parent.sid,
      scenario: { ...parent.scenario },
      seq: 0,
      createdAt: new Date(),
      twiml: [],
      dialed: [],
      resource: {},
    };
    this.refreshResource(child);
    this.calls.push(child);
    return child;
  }

  /**
   * An inbound call from `from` to the DID `to`: posts the signed voice webhook and returns the
   * TwiML reply; when it is a <Dial>, the agent leg is then simulated in the background (child-leg
   * status callbacks if the noun asked for them, then the <Dial action>).
   */
  async placeInbound(voiceUrl: string, from: string, to: string, scenario: Partial<CallScenario> = {}): Promise<{ callSid: string; reply: Delivery; instructions: Instruction[]; problems: string[] }> {
    const call: FakeCall = {
      sid: newSid('CA'),
      direction: 'inbound',
      to,
      from,
      status: 'ringing',
      params: {},
      scenario: { ...this.scenario, ...scenario },
      seq: 0,
      createdAt: new Date(),
      twiml: [],
      dialed: [],
      resource: {},
    };
    this.refreshResource(call);
    this.calls.push(call);
    const reply = await this.post('voice', voiceUrl, {
      ...this.callParams(call, 'ringing'),
      FromCountry: 'US',
      ToCountry: 'US',
    });
    const { instructions, problems } = reply.statusCode === 200 ? readTwiml(reply.body) : { instructions: [], problems: [`voice webhook answered ${reply.statusCode}`] };
    if (reply.statusCode === 200) call.twiml.push(reply.body);
    // executing TwiML answers the inbound call on Twilio's side
    if (reply.statusCode === 200 && problems.length === 0) {
      call.status = 'in-progress';
      this.refreshResource(call);
    }
    const dial = instructions.find((i) => i.verb === 'Dial');
    if (dial && dial.verb === 'Dial' && problems.length === 0) this.track(this.driveInboundDial(call, dial.dial));
    else if (instructions.some((i) => i.verb === 'Reject' || i.verb === 'Hangup')) this.end(call, instructions[0]?.verb === 'Reject' ? 'busy' : 'completed');
    return { callSid: call.sid, reply, instructions, problems };
  }

  private async driveInboundDial(parent: FakeCall, dial: Extract<Instruction, { verb: 'Dial' }>['dial']): Promise<void> {
    parent.dialed.push({ verb: 'Dial', dial });
    const sc = parent.scenario;
    const child = this.childLeg(parent, dial.target.kind === 'client' ? `client:${dial.target.value}` : dial.target.value, dial.callerId ?? parent.from, 'queued');
    if (dial.target.statusCallback) child.params = { StatusCallback: dial.target.statusCallback, StatusCallbackEvent: dial.target.statusCallbackEvents };
    await this.wait(child, this.stepMs);
    await this.statusEvent(child, 'initiated');
    child.status = 'ringing';
    await this.wait(child, this.stepMs);
    await this.statusEvent(child, 'ringing');
    if (sc.agent === 'ring') {
      await this.wait(child, 'forever');
      return;
    }
    await this.wait(child, this.stepMs);
    let dialStatus: string;
    if (sc.agent === 'answer') {
      child.status = 'in-progress';
      child.answeredAt = new Date();
      await this.statusEvent(child, 'answered');
      await this.wait(child, sc.talkMs === 'hold' ? 'forever' : sc.talkMs);
      this.end(child, 'completed');
      if (this.recorded(dial)) this.track(this.record(parent, 'DialVerb', sc.durationSec, dial.recordingStatusCallback, dial.recordingStatusCallbackEvents));
      dialStatus = 'completed';
    } else {
      this.end(child, sc.agent);
      dialStatus = sc.agent;
    }
    if (dial.action) {
      const next = await this.post('action', dial.action, {
        ...this.callParams(parent, 'in-progress'),
        DialCallSid: child.sid,
        DialCallStatus: dialStatus,
        DialCallDuration: String(child.answeredAt ? sc.durationSec : 0),
      });
      parent.twiml.push(next.body);
      const { instructions, problems } = readTwiml(next.body);
      this.problems.push(...problems);
      await this.afterDial(parent, instructions, next.body);
    }
    this.end(parent, 'completed');
  }

  private recorded(dial: DialInstruction): boolean {
    return dial.record !== undefined && dial.record !== 'do-not-record' && dial.record !== 'false';
  }

  /**
   * What an inbound call does after its <Dial> ended: <Hangup/>, or (voicemail) <Say> then <Record>:
   * the caller speaks for voicemailSec, the recording is reported, then the Record action is
   * requested and must end the call.
   */
  private async afterDial(parent: FakeCall, instructions: Instruction[], body: string): Promise<void> {
    for (const ins of instructions) {
      if (ins.verb === 'Hangup') return;
      if (ins.verb === 'Say') continue;
      if (ins.verb === 'Record') {
        const secs = Math.min(parent.scenario.voicemailSec, ins.record.maxLength);
        await this.wait(parent, this.stepMs);
        await this.record(parent, 'RecordVerb', secs, ins.record.recordingStatusCallback, ins.record.recordingStatusCallbackEvents);
        if (!ins.record.action) {
          this.problems.push('<Record> without an action: Twilio would request the same document again');
          return;
        }
        const next = await this.post('action', ins.record.action, { ...this.callParams(parent, 'in-progress'), RecordingDuration: String(secs), Digits: 'hangup' });
        parent.twiml.push(next.body);
        const after = readTwiml(next.body);
        if (after.problems.length || after.instructions[0]?.verb !== 'Hangup') this.problems.push(`after <Record> the gateway answered ${next.body}`);
        return;
      }
      this.problems.push(`after <Dial> the gateway answered ${body}`);
      return;
    }
  }

  /** Posts a signed form webhook as Twilio does (public for tests that forge or replay). */
  async post(kind: Delivery['kind'], url: string, params: Form, opts: { signature?: string | null; token?: string } = {}): Promise<Delivery> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'TwilioProxy/1.1',
      'i-twilio-idempotency-token': hex(8),
    };
    const signature = opts.signature === undefined ? twilioSign(opts.token ?? this.authToken, url, params) : opts.signature;
    if (signature !== null) headers['x-twilio-signature'] = signature;
    let d: Delivery;
    try {
      const res = await request(this.route(url), { method: 'POST', headers, body: body.toString(), headersTimeout: 15_000, bodyTimeout: 15_000 });
      d = { kind, url, params, statusCode: res.statusCode, body: await res.body.text(), contentType: String(res.headers['content-type'] ?? '') };
    } catch (e) {
      d = { kind, url, params, statusCode: 0, body: String((e as Error).message), contentType: '' };
    }
    this.deliveries.push(d);
    if (kind === 'status' && (d.statusCode < 200 || d.statusCode >= 300)) this.problems.push(`status callback to ${url} answered ${d.statusCode}`);
    return d;
  }
}
