// Feeds SIP call progress to the core through ctx.sink.status, the same normalised path webhooks
// use. Reports of one call are delivered in order (ringing before answered before completed); a
// sink that throws (store briefly down) is retried a few times before the report is dropped.

import type { Logger } from 'pino';
import type { CallStatus } from '../../src/domain/types.js';
import type { CallEventSink } from '../../src/providers/adapter.js';

const RETRY_DELAYS_MS = [100, 400, 1600];

export interface Report {
  providerCallId: string;
  callId?: string;
  status: CallStatus;
  cause?: string;
  durationSec?: number;
}

export class Reporter {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly sink: CallEventSink,
    private readonly log: Logger,
  ) {}

  report(r: Report): Promise<void> {
    const at = new Date().toISOString();
    const prev = this.chains.get(r.providerCallId) ?? Promise.resolve();
    const next = prev.then(() => this.deliver(r, at));
    this.chains.set(r.providerCallId, next);
    void next.finally(() => {
      if (this.chains.get(r.providerCallId) === next) this.chains.delete(r.providerCallId);
    });
    return next;
  }

  /** Resolves when every report queued so far has been delivered (or given up). */
  async drain(): Promise<void> {
    while (this.chains.size) await Promise.allSettled([...this.chains.values()]);
  }

  private async deliver(r: Report, at: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.sink.status({
          providerCallId: r.providerCallId,
          ...(r.callId ? { callId: r.callId } : {}),
          status: r.status,
          at,
          ...(r.cause ? { cause: r.cause } : {}),
          ...(r.durationSec !== undefined ? { durationSec: r.durationSec } : {}),
        });
        return;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[i];
        if (delay === undefined) {
          this.log.error({ err: (err as Error)?.message, providerCallId: r.providerCallId, status: r.status }, 'sip: status report dropped');
          return;
        }
        await new Promise((res) => setTimeout(res, delay));
      }
    }
  }
}
