// The fallback when session notifications do not come (subscription down, CallControl permission
// missing, events lost): the instance that started a RingOut polls GET .../ring-out/{id} every
// few seconds until a notification about the call has arrived (on any instance: the shared
// "event" flag), the call ended, or maxMs passed. A poll inside the Light group's penalty window
// is skipped, not sent.

import type { Logger } from 'pino';
import { ProviderError, type CallEventSink } from '../../src/providers/adapter.js';
import type { RcApi } from './api.js';
import { TERMINAL_STATUSES } from '../../src/domain/types.js';
import { ringOutPath } from './paths.js';
import type { CallState } from './state.js';
import { mapRingOutStatus, type RingOutStatus } from './status-map.js';
import type { Timers } from './timers.js';

export interface PollOptions {
  intervalMs: number;
  maxMs: number;
}

export const DEFAULT_POLL_OPTIONS: PollOptions = { intervalMs: 5_000, maxMs: 4 * 3600_000 };

export class RingOutPoller {
  constructor(
    private readonly api: RcApi,
    private readonly state: CallState,
    private readonly sink: CallEventSink,
    private readonly logger: Logger,
    private readonly timers: Timers,
    private readonly opts: PollOptions,
    private readonly onAnswered: (providerCallId: string) => void,
  ) {}

  start(id: string): void {
    const until = Date.now() + this.opts.maxMs;
    const tick = async () => {
      if ((await this.state.flag(id, 'event')) || (await this.state.flag(id, 'done')) || Date.now() > until) return;
      let again = true;
      try {
        again = await this.pollOnce(id);
      } catch (err) {
        if (!(err instanceof ProviderError && err.code === 'rate_limited')) {
          this.logger.warn({ providerCallId: id, code: (err as ProviderError).code }, 'ringcentral ringout poll failed');
        }
      }
      if (again) this.timers.after(this.opts.intervalMs, tick);
    };
    this.timers.after(this.opts.intervalMs, tick);
  }

  /** One poll; false when the call is over and polling should stop. */
  async pollOnce(id: string): Promise<boolean> {
    const res = await this.api.call({ operation: 'readRingOut', method: 'GET', path: ringOutPath(id), accept: [404] });
    // a notification may have landed while the request was in flight: it is the better source
    if (await this.state.flag(id, 'event')) return false;
    const answered = await this.state.flag(id, 'answered');
    const canceled = await this.state.flag(id, 'cancel');
    const at = new Date().toISOString();
    if (res.status === 404) {
      // the RingOut is gone: it ended without us hearing how
      await this.sink.status({ providerCallId: id, status: answered ? 'completed' : canceled ? 'canceled' : 'failed', at, cause: 'ringout:not-found' });
      await this.state.setFlag(id, 'done');
      return false;
    }
    const status = ((res.body ?? {}) as { status?: RingOutStatus }).status ?? {};
    const mapped = mapRingOutStatus(status, { answered, canceled });
    if (!mapped) return true;
    if (mapped.status === 'answered' && !answered) {
      await this.state.setFlag(id, 'answered');
      this.onAnswered(id);
    }
    await this.sink.status({ providerCallId: id, status: mapped.status, at, cause: mapped.cause });
    if (TERMINAL_STATUSES.has(mapped.status)) {
      await this.state.setFlag(id, 'done');
      return false;
    }
    return true;
  }
}
