// Zoho PhoneBridge mode: Zoho pops and logs calls itself from our callnotify messages, so this
// mode never inserts into the Calls module (that would log every call twice). Live states
// (ringing, answered) go out through notify(); the outcome goes out from the call-log job, which
// retries it like any other log. Also: parsing Zoho's click-to-dial request.

import { timingSafeEqual, createHash } from 'node:crypto';
import type { Call, User } from '../../../src/domain/types.js';
import { CrmError, type CallLog, type CrmWriteResult } from '../../../src/crm/adapter.js';
import { parseJson } from '../shared/http.js';
import type { ZohoClient } from './client.js';
import { phonebridgeTime } from './format.js';

/**
 * The callnotify state for a call's current status, or null when PhoneBridge has no state for it.
 * received: ringing → answered → missed | ended. dialed: answered → ended, or the unattended
 * outcomes busy / noanswer / notavailable / rejected.
 */
export function callnotifyState(call: Call): string | null {
  const answered = Boolean(call.answeredAt);
  if (call.direction === 'inbound') {
    switch (call.status) {
      case 'ringing':
        return 'ringing';
      case 'answered':
        return 'answered';
      case 'completed':
        return answered ? 'ended' : 'missed';
      case 'failed':
      case 'busy':
      case 'no-answer':
      case 'canceled':
        return answered ? 'ended' : 'missed';
      default:
        return null;
    }
  }
  switch (call.status) {
    case 'answered':
      return 'answered';
    case 'completed':
      return answered ? 'ended' : 'noanswer';
    case 'busy':
      return 'busy';
    case 'no-answer':
      return 'noanswer';
    case 'failed':
      return answered ? 'ended' : 'notavailable';
    case 'canceled':
      return answered ? 'ended' : 'rejected';
    default:
      // PhoneBridge has no "dialing/ringing" state for dialed calls
      return null;
  }
}

export function callnotifyParams(call: Call, user: User | null, state: string): Record<string, string> {
  const p: Record<string, string> = {
    type: call.direction === 'inbound' ? 'received' : 'dialed',
    state,
    id: call.id,
    // URLSearchParams encodes "+" as %2B, which is what Zoho requires
    from: call.direction === 'inbound' ? (call.from ?? '') : (user?.phone ?? call.from ?? ''),
    to: call.direction === 'inbound' ? (user?.phone ?? call.to) : call.to,
    start_time: phonebridgeTime(call.answeredAt ?? call.createdAt),
  };
  if (user?.crmUserId) p.zohouser = user.crmUserId;
  if (state === 'ended' && call.durationSec !== undefined) p.duration = String(call.durationSec);
  return p;
}

export class ZohoPhoneBridge {
  constructor(private readonly client: ZohoClient) {}

  private async send(call: Call, user: User | null, state: string): Promise<void> {
    const label = `zoho callnotify ${state}`;
    const res = await this.client.ok(
      { method: 'POST', path: '/phonebridge/v3/callnotify', form: callnotifyParams(call, user, state) },
      label,
    );
    const body = parseJson(res.text) as { status?: string; code?: string } | undefined;
    if (body && body.status && body.status !== 'success') {
      throw new CrmError(`${label}: ${body.code ?? 'error'}`, false, undefined, body.code);
    }
  }

  /** Live, non-final states only; the final one is sent by writeCallLog from the job. */
  async notify(call: Call, user: User | null): Promise<void> {
    const state = callnotifyState(call);
    if (!state || ['missed', 'ended', 'busy', 'noanswer', 'notavailable', 'rejected'].includes(state)) return;
    await this.send(call, user, state);
  }

  async writeCallLog(log: CallLog): Promise<CrmWriteResult> {
    const state = callnotifyState(log.call);
    if (state) await this.send(log.call, log.user, state);
    return { skipped: true };
  }
}

export interface ClickToDialAuth {
  authParamName?: string;
  authParamValue?: string;
}

export interface ClickToDialRequest {
  zohoUser: string | null;
  /** the callee as Zoho sent it (normalise to E.164 with the user's region before dialling) */
  to: string | null;
  authorized: boolean;
}

function first(v: unknown): string | undefined {
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function safeEqual(a: string, b: string): boolean {
  // hash first so the comparison takes the same time whatever the lengths
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Zoho's click-to-dial request (query string or form body, merged by the caller): the callee in
 * `tonumber`, the Zoho user in `zohouser`, and the authorisation parameter we registered. Without
 * a configured authorisation value every request is refused.
 */
export function parseClickToDial(params: Record<string, unknown>, auth: ClickToDialAuth): ClickToDialRequest {
  const name = auth.authParamName ?? 'authkey';
  const expected = auth.authParamValue;
  const given = first(params[name]);
  const authorized = typeof expected === 'string' && expected.length > 0 && typeof given === 'string' && safeEqual(given, expected);
  return {
    zohoUser: first(params.zohouser) ?? first(params.userid) ?? null,
    to: first(params.tonumber) ?? first(params.to) ?? null,
    authorized,
  };
}

/** The form Zoho expects when we register our click-to-dial URI (POST /phonebridge/v3/clicktodial). */
export function clickToDialRegistration(uri: string, auth: ClickToDialAuth, zohoUser?: string): Record<string, string> {
  const p: Record<string, string> = {
    clicktodialuri: uri,
    authorizationparam: JSON.stringify({ name: auth.authParamName ?? 'authkey', value: auth.authParamValue ?? '' }),
  };
  if (zohoUser) p.zohouser = zohoUser;
  return p;
}
