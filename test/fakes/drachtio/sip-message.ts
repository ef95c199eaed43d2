// A small SIP message model for the drachtio-server double: parse and write RFC 3261 text. It is
// deliberately independent of drachtio-srf's parser, so the double does not share the bugs of the
// library under test.

const COMPACT: Record<string, string> = {
  i: 'call-id',
  f: 'from',
  t: 'to',
  v: 'via',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
};

function canon(name: string): string {
  const n = name.trim().toLowerCase();
  return COMPACT[n] ?? n;
}

export class SipMessage {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  headers: Array<[string, string]> = [];
  body = '';

  static request(method: string, uri: string): SipMessage {
    const m = new SipMessage();
    m.method = method;
    m.uri = uri;
    return m;
  }

  static response(status: number, reason: string): SipMessage {
    const m = new SipMessage();
    m.status = status;
    m.reason = reason;
    return m;
  }

  /** Parses SIP text; throws on a malformed start line. Honours Content-Length (in bytes). */
  static parse(text: string): SipMessage {
    const sep = text.indexOf('\r\n\r\n');
    const head = sep === -1 ? text : text.slice(0, sep);
    let rest = sep === -1 ? '' : text.slice(sep + 4);
    const lines = head.split('\r\n');
    const start = lines.shift() ?? '';
    const m = new SipMessage();
    let r: RegExpExecArray | null;
    if ((r = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(start))) {
      m.status = Number(r[1]);
      m.reason = r[2];
    } else if ((r = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(start))) {
      m.method = r[1];
      m.uri = r[2];
    } else {
      throw new Error(`bad SIP start line: ${JSON.stringify(start)}`);
    }
    for (const line of lines) {
      if (!line) continue;
      if (/^[ \t]/.test(line) && m.headers.length) {
        // header folding
        m.headers[m.headers.length - 1][1] += ` ${line.trim()}`;
        continue;
      }
      const i = line.indexOf(':');
      if (i <= 0) throw new Error(`bad SIP header line: ${JSON.stringify(line)}`);
      m.headers.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
    }
    const cl = m.get('content-length');
    if (cl !== undefined) {
      const n = Number(cl);
      const buf = Buffer.from(rest, 'utf8');
      rest = buf.subarray(0, Math.min(n, buf.length)).toString('utf8');
    }
    m.body = rest;
    return m;
  }

  get isRequest(): boolean {
    return this.method !== undefined;
  }

  get(name: string): string | undefined {
    const n = canon(name);
    return this.headers.find(([h]) => canon(h) === n)?.[1];
  }

  getAll(name: string): string[] {
    const n = canon(name);
    return this.headers.filter(([h]) => canon(h) === n).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, value: string): this {
    this.remove(name);
    this.headers.push([name, value]);
    return this;
  }

  add(name: string, value: string): this {
    this.headers.push([name, value]);
    return this;
  }

  remove(name: string): this {
    const n = canon(name);
    this.headers = this.headers.filter(([h]) => canon(h) !== n);
    return this;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): { seq: number; method: string } {
    const [seq, method] = (this.get('cseq') ?? '0 UNKNOWN').split(/\s+/);
    return { seq: Number(seq), method: method ?? '' };
  }

  /** One-word summary for traces: the method, or the status code. */
  get summary(): string {
    return this.method ?? String(this.status);
  }

  toString(): string {
    const start = this.method ? `${this.method} ${this.uri} SIP/2.0` : `SIP/2.0 ${this.status} ${this.reason}`;
    const lines = [start];
    for (const [h, v] of this.headers) if (canon(h) !== 'content-length') lines.push(`${h}: ${v}`);
    lines.push(`Content-Length: ${Buffer.byteLength(this.body, 'utf8')}`);
    return `${lines.join('\r\n')}\r\n\r\n${this.body}`;
  }

  clone(): SipMessage {
    return SipMessage.parse(this.toString());
  }
}

/** The tag parameter of a From/To value. */
export function tagOf(v: string | undefined): string | undefined {
  return v ? /;\s*tag=([^;>\s]+)/i.exec(v)?.[1] : undefined;
}

/** The URI inside a name-addr (`"x" <sip:a@b>;tag=1` → sip:a@b) or the bare URI. */
export function uriOf(v: string | undefined): string {
  if (!v) return '';
  const m = /<([^>]+)>/.exec(v);
  if (m) return m[1];
  return v.split(';')[0].trim();
}

export function userOf(uri: string): string {
  return /^sips?:([^@;]+)@/.exec(uri)?.[1] ?? '';
}

/** host and port (port 0 when absent) of a SIP URI */
export function hostPortOf(uri: string): { host: string; port: number } {
  const m = /^sips?:(?:[^@]+@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/.exec(uri);
  return { host: m?.[1] ?? '', port: m?.[2] ? Number(m[2]) : 0 };
}

export const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
  600: 'Busy Everywhere',
  603: 'Decline',
};

export function rand(n = 10): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

export function sdp(sessionId: string, address: string, port: number): string {
  return [
    'v=0',
    `o=- ${sessionId} 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 8 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}
