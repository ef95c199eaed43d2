// A few TwiML documents, built as strings with every attribute and text node XML-escaped (a
// number or identity is client data and must never be able to inject a verb).

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

const HEADER = '<?xml version="1.0" encoding="UTF-8"?>';

export function response(inner = ''): string {
  return inner ? `${HEADER}<Response>${inner}</Response>` : `${HEADER}<Response/>`;
}

export interface DialTarget {
  kind: 'number' | 'client';
  value: string;
  /** child-leg progress callbacks (inbound calls: the agent's leg) */
  statusCallback?: string;
}

/** Recording status callbacks asked for: the finished recording, and none made (absent). */
const RECORDING_EVENTS = 'completed absent';

export function dial(opts: { callerId?: string; action?: string; timeoutSec?: number; recordingCallback?: string }, target: DialTarget): string {
  const noun = target.kind === 'client' ? 'Client' : 'Number';
  const nounAttrs = target.statusCallback
    ? attrs({ statusCallbackEvent: 'initiated ringing answered completed', statusCallback: target.statusCallback, statusCallbackMethod: 'POST' })
    : '';
  // the bridged call only (from answer), one channel per party
  const record = opts.recordingCallback
    ? { record: 'record-from-answer-dual', recordingStatusCallback: opts.recordingCallback, recordingStatusCallbackMethod: 'POST', recordingStatusCallbackEvent: RECORDING_EVENTS }
    : {};
  return response(
    `<Dial${attrs({ callerId: opts.callerId, action: opts.action, method: opts.action ? 'POST' : undefined, timeout: opts.timeoutSec, ...record })}>` +
      `<${noun}${nounAttrs}>${xmlEscape(target.value)}</${noun}></Dial>`,
  );
}

/** A missed caller's voicemail: the greeting, then <Record> (its status callback signed like the rest). */
export function voicemail(opts: { greeting: string; maxLengthSec: number; recordingCallback: string; action: string }): string {
  return response(
    `<Say>${xmlEscape(opts.greeting)}</Say>` +
      `<Record${attrs({ maxLength: opts.maxLengthSec, playBeep: 'true', action: opts.action, method: 'POST', recordingStatusCallback: opts.recordingCallback, recordingStatusCallbackMethod: 'POST', recordingStatusCallbackEvent: RECORDING_EVENTS })}/>` +
      '<Hangup/>',
  );
}

export function pauseThenHangup(seconds: number): string {
  return response(`<Pause length="${Math.max(1, Math.round(seconds))}"/><Hangup/>`);
}

export function hangup(): string {
  return response('<Hangup/>');
}

export function reject(): string {
  return response('<Reject/>');
}
