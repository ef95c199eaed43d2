// Recordings of RingCentral calls (provider `recording: "on"`).
//
// RingCentral records a call on demand through Call Control: once a party answers, the adapter
// asks `POST .../telephony/sessions/{telephonySessionId}/parties/{partyId}/recordings` for the
// answering party (the customer's leg of a RingOut, the agent's of an inbound call) and reports
// the recording pending. The recording's id is only known once RingCentral has stored it: it shows
// in the call's record of the company call log (`recording: {id, contentUri}`), which RingCentral
// writes some seconds after the end. So after the call ends the adapter reads the call log a few
// times with growing delays (off the hot path, on unref'd timers) and reports the recording
// available with its id as ref, or absent when it never shows. fetchMedia streams
// `GET .../recording/{recordingId}/content` with the bearer token, Range passed on.

import type { Logger } from 'pino';
import type { Call } from '../../src/domain/types.js';
import type { CallEventSink, MediaStream } from '../../src/providers/adapter.js';
import type { RcApi } from './api.js';
import { COMPANY_CALL_LOG_PATH, partyRecordingsPath, recordingContentPath } from './paths.js';
import type { CallState } from './state.js';
import type { Timers } from './timers.js';

export interface MediaOptions {
  /** delays (after the end, then between tries) of the call-log reads; absent after the last */
  lookupDelaysMs: number[];
}

export const DEFAULT_MEDIA_OPTIONS: MediaOptions = { lookupDelaysMs: [2_000, 5_000, 15_000, 30_000, 60_000, 120_000] };

/** the recording id goes into a REST path: only RingCentral's own shape (digits / word characters) is kept */
const RECORDING_ID = /^[A-Za-z0-9_-]{1,64}$/;
const E164 = /^\+[1-9]\d{1,14}$/;

interface CallLogRecord {
  telephonySessionId?: string;
  duration?: number;
  recording?: { id?: string; contentUri?: string };
}

export class RcMedia {
  constructor(
    private readonly api: RcApi,
    private readonly state: CallState,
    private readonly sink: CallEventSink,
    private readonly logger: Logger,
    private readonly timers: Timers,
    private readonly recordingOn: boolean,
    private readonly opts: MediaOptions,
  ) {}

  /** A party answered: start recording it (once per call, across instances). */
  async answered(id: string, telephonySessionId: string | null, partyId: string | undefined): Promise<void> {
    if (!this.recordingOn || !telephonySessionId || !partyId || !(await this.state.once(id, 'record'))) return;
    // flagged before asking: a short call may end (and look for its recording) before the answer comes
    await this.state.setFlag(id, 'recording');
    try {
      await this.api.call({ operation: 'startCallRecording', method: 'POST', path: partyRecordingsPath(telephonySessionId, partyId) });
    } catch (err) {
      await this.state.setFlag(id, 'recfailed');
      this.logger.warn({ providerCallId: id, err: (err as Error).message }, 'ringcentral could not start the recording');
      await this.sink.media?.({ providerCallId: id, kind: 'recording', status: 'failed' });
      return;
    }
    await this.sink.media?.({ providerCallId: id, kind: 'recording', status: 'pending' });
  }

  /** The call ended: find its recording in the call log (bounded tries), else report it absent. */
  async ended(id: string, call: Call, telephonySessionId: string | null): Promise<void> {
    if (!telephonySessionId || !(await this.state.flag(id, 'recording')) || !(await this.state.once(id, 'recording-lookup'))) return;
    const tryAt = (attempt: number) => {
      this.timers.after(this.opts.lookupDelaysMs[attempt], async () => {
        // the start was refused: already reported failed
        if (await this.state.flag(id, 'recfailed')) return;
        const found = await this.lookup(call, telephonySessionId).catch((err: Error) => {
          this.logger.warn({ providerCallId: id, err: err.message }, 'ringcentral call log read failed');
          return null;
        });
        if (found) {
          await this.sink.media?.({ callId: call.id, providerCallId: id, kind: 'recording', status: 'available', ref: found.id, ...(found.durationSec !== undefined ? { durationSec: found.durationSec } : {}) });
        } else if (attempt + 1 < this.opts.lookupDelaysMs.length) {
          tryAt(attempt + 1);
        } else {
          await this.sink.media?.({ callId: call.id, providerCallId: id, kind: 'recording', status: 'absent' });
        }
      });
    };
    tryAt(0);
  }

  /** The call's record in the company call log, when it carries a recording. */
  private async lookup(call: Call, telephonySessionId: string): Promise<{ id: string; durationSec?: number } | null> {
    const q = new URLSearchParams({ view: 'Simple', recordingType: 'All', perPage: '100' });
    // from a little before the call was created: RingCentral stamps the record with its own start time
    q.set('dateFrom', new Date(Date.parse(call.createdAt) - 5 * 60_000).toISOString());
    const customer = call.direction === 'outbound' ? call.to : call.from;
    if (customer && E164.test(customer)) q.set('phoneNumber', customer);
    const res = await this.api.call({ operation: 'readCompanyCallLog', method: 'GET', path: `${COMPANY_CALL_LOG_PATH}?${q}` });
    const records = ((res.body ?? {}) as { records?: CallLogRecord[] }).records ?? [];
    const rec = records.find((r) => r.telephonySessionId === telephonySessionId && typeof r.recording?.id === 'string' && RECORDING_ID.test(r.recording.id));
    if (!rec) return null;
    return { id: rec.recording!.id!, ...(Number.isFinite(rec.duration) ? { durationSec: rec.duration } : {}) };
  }

  async fetch(ref: string, range?: string): Promise<MediaStream> {
    if (!RECORDING_ID.test(ref)) return { status: 404, contentType: 'application/json' };
    return this.api.stream('listCallRecordingData', recordingContentPath(ref), range);
  }
}
