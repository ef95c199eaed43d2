// SIP final responses → the normalised call statuses.

import type { CallStatus } from '../../src/domain/types.js';

export type Leg = 'agent' | 'customer' | 'inbound';

/**
 * `weCanceled`: we sent the CANCEL because of a hang-up request (→ canceled);
 * `timedOut`: we sent it because the leg rang too long (→ no-answer).
 */
export function statusForFailure(status: number | undefined, opts: { weCanceled?: boolean; timedOut?: boolean } = {}): CallStatus {
  if (opts.timedOut) return 'no-answer';
  if (status === 487) return opts.weCanceled ? 'canceled' : 'no-answer';
  if (opts.weCanceled) return 'canceled';
  switch (status) {
    case 408:
    case 480:
      return 'no-answer';
    case 486:
    case 600:
      return 'busy';
    default:
      return 'failed';
  }
}

export function sipCause(leg: Leg, status: number | undefined, reason?: string): string {
  if (status === undefined) return `${leg} leg: ${reason ?? 'no response'}`;
  return `${leg} leg: SIP ${status}${reason ? ` ${reason}` : ''}`;
}

/** Pulls the SIP status out of an srf rejection (Srf.SipError has a numeric .status). */
export function errorStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}

export function errorReason(err: unknown): string | undefined {
  const e = err as { reason?: unknown; message?: unknown };
  if (typeof e?.reason === 'string') return e.reason;
  if (typeof e?.message === 'string') return e.message;
  return undefined;
}
