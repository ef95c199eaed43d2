// Trunk health: a SIP OPTIONS to trunk.uri every optionsIntervalMs. optionsFailureThreshold
// consecutive failures (no response in time, a 5xx, a send error) make the provider unhealthy;
// one success makes it healthy again. Any other answer (2xx, 4xx such as 401/404/405, 6xx) shows
// the trunk is up and counts as a success.

import type { Logger } from 'pino';
import type { SipConfig } from './config.js';
import type { SipConnection } from './connection-pool.js';
import { within } from './session.js';
import type { SrfRequest } from './srf-types.js';

export class TrunkHealth {
  consecutiveFailures = 0;
  probes = 0;
  lastOutcome?: string;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;

  constructor(
    private readonly conn: SipConnection,
    private readonly cfg: SipConfig,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get trunkUp(): boolean {
    return this.consecutiveFailures < this.cfg.optionsFailureThreshold;
  }

  private schedule(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, ms);
    // Health probes alone must not keep a process alive.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    const started = Date.now();
    try {
      // Without a drachtio connection the trunk cannot be probed; connection health covers it.
      if (this.conn.srf) await this.probe();
    } finally {
      this.running = false;
      this.schedule(Math.max(0, this.cfg.optionsIntervalMs - (Date.now() - started)));
    }
  }

  private async probe(): Promise<void> {
    const srf = this.conn.srf;
    if (!srf) return;
    const budget = Math.min(this.cfg.optionsIntervalMs, 5_000);
    const deadline = Date.now() + budget;
    let outcome: string;
    let ok: boolean;
    try {
      const req: SrfRequest = await within(
        srf.request(this.cfg.trunk.uri, { method: 'OPTIONS', headers: { From: `<sip:${this.cfg.callerId}@localhost>` } }),
        budget,
        'OPTIONS send',
      );
      const status = await within(
        new Promise<number>((resolve) => {
          req.on('response', (res: { status: number }) => {
            if (res.status >= 200) resolve(res.status);
          });
        }),
        Math.max(1, deadline - Date.now()),
        'OPTIONS',
      );
      ok = !(status >= 500 && status < 600) && status !== 408;
      outcome = `OPTIONS ${status}`;
    } catch (err) {
      ok = false;
      outcome = (err as Error)?.message ?? 'OPTIONS failed';
    }
    if (this.stopped) return;
    this.probes++;
    this.lastOutcome = outcome;
    const wasUp = this.trunkUp;
    this.consecutiveFailures = ok ? 0 : this.consecutiveFailures + 1;
    if (wasUp !== this.trunkUp) {
      if (this.trunkUp) this.log.info({ outcome }, 'sip trunk healthy again');
      else this.log.warn({ outcome, failures: this.consecutiveFailures }, 'sip trunk unhealthy');
    }
  }
}
