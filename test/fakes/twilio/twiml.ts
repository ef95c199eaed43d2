// A strict little XML reader for the TwiML the gateway returns, and the TwiML rules the fake
// Twilio enforces (Twilio rejects a document it cannot parse with error 12100 and unknown
// verbs/nouns with 12200-class errors; here every such problem is recorded and the call fails).

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, where: string): string {
  return s.replace(/&([^;\s&]*);?/g, (m, name: string) => {
    if (!m.endsWith(';')) throw new Error(`bare '&' in ${where}`);
    if (name in ENTITIES) return ENTITIES[name];
    if (/^#x[0-9a-fA-F]+$/.test(name)) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (/^#[0-9]+$/.test(name)) return String.fromCodePoint(parseInt(name.slice(1), 10));
    throw new Error(`unknown entity &${name}; in ${where}`);
  });
}

/** Parses one XML document; throws on anything malformed. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const s = src.replace(/^\uFEFF/, '');
  const skipWs = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  skipWs();
  if (s.startsWith('<?xml', i)) {
    const end = s.indexOf('?>', i);
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  skipWs();
  const root = parseElement();
  skipWs();
  if (i !== s.length) throw new Error('content after the root element');
  return root;

  function parseElement(): XmlElement {
    if (s[i] !== '<') throw new Error(`expected '<' at ${i}`);
    i++;
    const nameMatch = /^[A-Za-z_][\w.-]*/.exec(s.slice(i));
    if (!nameMatch) throw new Error(`bad element name at ${i}`);
    const name = nameMatch[0];
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: '' };
    for (;;) {
      skipWs();
      if (s.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (s[i] === '>') {
        i++;
        break;
      }
      const am = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(s.slice(i));
      if (!am) throw new Error(`bad attribute in <${name}> at ${i}`);
      if (am[1] in el.attrs) throw new Error(`duplicate attribute ${am[1]} in <${name}>`);
      el.attrs[am[1]] = decode(am[3] ?? am[4] ?? '', `<${name} ${am[1]}>`);
      i += am[0].length;
    }
    for (;;) {
      const lt = s.indexOf('<', i);
      if (lt < 0) throw new Error(`unclosed <${name}>`);
      el.text += decode(s.slice(i, lt), `<${name}> text`);
      i = lt;
      if (s.startsWith('</', i)) {
        const close = new RegExp(`^</${name}\\s*>`).exec(s.slice(i));
        if (!close) throw new Error(`mismatched closing tag for <${name}> at ${i}`);
        i += close[0].length;
        el.text = el.text.trim();
        return el;
      }
      el.children.push(parseElement());
    }
  }
}

const E164 = /^\+[1-9][0-9]{1,14}$/;
const VERBS = new Set(['Dial', 'Pause', 'Hangup', 'Reject', 'Say', 'Play', 'Redirect', 'Gather', 'Record', 'Enqueue', 'Leave']);
const DIAL_ATTRS = new Set(['action', 'method', 'timeout', 'callerId', 'hangupOnStar', 'timeLimit', 'record', 'trim', 'answerOnBridge', 'ringTone', 'recordingStatusCallback', 'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent', 'sequential', 'referUrl', 'referMethod']);
const NOUN_ATTRS = new Set(['statusCallback', 'statusCallbackEvent', 'statusCallbackMethod', 'url', 'method', 'sendDigits', 'machineDetection']);
const EVENTS = new Set(['initiated', 'ringing', 'answered', 'completed']);
const RECORD_MODES = new Set(['do-not-record', 'record-from-answer', 'record-from-ringing', 'record-from-answer-dual', 'record-from-ringing-dual', 'true', 'false']);
const RECORDING_EVENTS = new Set(['in-progress', 'completed', 'absent']);
const RECORD_ATTRS = new Set(['action', 'method', 'timeout', 'finishOnKey', 'maxLength', 'playBeep', 'trim', 'recordingStatusCallback', 'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent', 'transcribe', 'transcribeCallback']);
const SAY_ATTRS = new Set(['voice', 'language', 'loop']);

/** The recording attributes of <Dial> or <Record>, checked as Twilio would; problems pushed. */
function recordingAttrs(el: XmlElement, problems: string[]): { recordingStatusCallback?: string; recordingStatusCallbackEvents: string[] } {
  const events = (el.attrs.recordingStatusCallbackEvent ?? 'completed').split(/\s+/).filter(Boolean);
  for (const e of events) if (!RECORDING_EVENTS.has(e)) problems.push(`<${el.name} recordingStatusCallbackEvent> has unknown event ${e}`);
  const cb = el.attrs.recordingStatusCallback;
  if (cb !== undefined && !/^https?:\/\//.test(cb)) problems.push(`<${el.name} recordingStatusCallback> is not an absolute URL`);
  const m = el.attrs.recordingStatusCallbackMethod;
  if (m !== undefined && m !== 'GET' && m !== 'POST') problems.push(`<${el.name} recordingStatusCallbackMethod="${m}">`);
  return { recordingStatusCallback: cb, recordingStatusCallbackEvents: events };
}

export interface DialInstruction {
  callerId?: string;
  action?: string;
  timeout?: number;
  target: { kind: 'number' | 'client' | 'sip'; value: string; statusCallback?: string; statusCallbackEvents: string[] };
  /** the record attribute (absent: not recorded) */
  record?: string;
  recordingStatusCallback?: string;
  recordingStatusCallbackEvents: string[];
}

export interface RecordInstruction {
  maxLength: number;
  action?: string;
  recordingStatusCallback?: string;
  recordingStatusCallbackEvents: string[];
}

export type Instruction =
  | { verb: 'Dial'; dial: DialInstruction }
  | { verb: 'Pause'; seconds: number }
  | { verb: 'Hangup' }
  | { verb: 'Reject' }
  | { verb: 'Say'; text: string }
  | { verb: 'Record'; record: RecordInstruction }
  | { verb: 'Other'; name: string };

/** Parses a TwiML response and checks it the way Twilio would; returns the verbs or the problems. */
export function readTwiml(body: string): { instructions: Instruction[]; problems: string[] } {
  const problems: string[] = [];
  let root: XmlElement;
  try {
    root = parseXml(body);
  } catch (e) {
    return { instructions: [], problems: [`12100 document parse failure: ${(e as Error).message}`] };
  }
  if (root.name !== 'Response') return { instructions: [], problems: [`12100 root element is <${root.name}>, not <Response>`] };
  const instructions: Instruction[] = [];
  for (const v of root.children) {
    if (!VERBS.has(v.name)) {
      problems.push(`12200 unknown verb <${v.name}>`);
      continue;
    }
    if (v.name === 'Pause') {
      const len = v.attrs.length === undefined ? 1 : Number(v.attrs.length);
      if (!Number.isInteger(len) || len < 0) problems.push(`Pause length "${v.attrs.length}" is not a whole number`);
      instructions.push({ verb: 'Pause', seconds: len });
    } else if (v.name === 'Hangup') instructions.push({ verb: 'Hangup' });
    else if (v.name === 'Reject') instructions.push({ verb: 'Reject' });
    else if (v.name === 'Dial') {
      for (const a of Object.keys(v.attrs)) if (!DIAL_ATTRS.has(a)) problems.push(`<Dial> has unknown attribute ${a}`);
      if (v.attrs.callerId !== undefined && !E164.test(v.attrs.callerId) && !v.attrs.callerId.startsWith('client:')) {
        problems.push(`13214 <Dial callerId="${v.attrs.callerId}"> is not a valid caller id`);
      }
      if (v.attrs.action !== undefined && !/^https?:\/\//.test(v.attrs.action)) problems.push(`<Dial action> "${v.attrs.action}" is not an absolute URL`);
      const timeout = v.attrs.timeout === undefined ? undefined : Number(v.attrs.timeout);
      if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= 600)) problems.push(`<Dial timeout="${v.attrs.timeout}"> out of range`);
      let target: DialInstruction['target'] | undefined;
      if (v.children.length === 0 && v.text) target = { kind: 'number', value: v.text, statusCallbackEvents: [] };
      for (const n of v.children) {
        if (!['Number', 'Client', 'Sip'].includes(n.name)) {
          problems.push(`<Dial> child <${n.name}> is not supported here`);
          continue;
        }
        for (const a of Object.keys(n.attrs)) if (!NOUN_ATTRS.has(a)) problems.push(`<${n.name}> has unknown attribute ${a}`);
        const events = (n.attrs.statusCallbackEvent ?? '').split(/\s+/).filter(Boolean);
        for (const e of events) if (!EVENTS.has(e)) problems.push(`<${n.name} statusCallbackEvent> has unknown event ${e}`);
        if (n.attrs.statusCallback !== undefined && !/^https?:\/\//.test(n.attrs.statusCallback)) problems.push(`<${n.name} statusCallback> is not an absolute URL`);
        const kind = n.name === 'Number' ? 'number' : n.name === 'Client' ? 'client' : 'sip';
        if (kind === 'number' && !E164.test(n.text)) problems.push(`13223 <Number>${n.text}</Number> is not a valid phone number`);
        if (kind === 'client' && !n.text) problems.push('<Client> has no identity');
        target = { kind, value: n.text, statusCallback: n.attrs.statusCallback, statusCallbackEvents: events.length ? events : ['completed'] };
      }
      if (!target) {
        problems.push('<Dial> has nothing to dial');
        continue;
      }
      const record = v.attrs.record;
      if (record !== undefined && !RECORD_MODES.has(record)) problems.push(`<Dial record="${record}"> is not a recording mode`);
      instructions.push({ verb: 'Dial', dial: { callerId: v.attrs.callerId, action: v.attrs.action, timeout, target, record, ...recordingAttrs(v, problems) } });
    } else if (v.name === 'Say') {
      for (const a of Object.keys(v.attrs)) if (!SAY_ATTRS.has(a)) problems.push(`<Say> has unknown attribute ${a}`);
      if (!v.text) problems.push('<Say> has nothing to say');
      instructions.push({ verb: 'Say', text: v.text });
    } else if (v.name === 'Record') {
      for (const a of Object.keys(v.attrs)) if (!RECORD_ATTRS.has(a)) problems.push(`<Record> has unknown attribute ${a}`);
      const maxLength = v.attrs.maxLength === undefined ? 3600 : Number(v.attrs.maxLength);
      if (!(Number.isInteger(maxLength) && maxLength >= 1)) problems.push(`<Record maxLength="${v.attrs.maxLength}"> is not a whole number of seconds`);
      if (v.attrs.action !== undefined && !/^https?:\/\//.test(v.attrs.action)) problems.push('<Record action> is not an absolute URL');
      instructions.push({ verb: 'Record', record: { maxLength, action: v.attrs.action, ...recordingAttrs(v, problems) } });
    } else instructions.push({ verb: 'Other', name: v.name });
  }
  return { instructions, problems };
}
