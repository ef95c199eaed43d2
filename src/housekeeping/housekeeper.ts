// The work no single request owns, done by one gateway instance at a time (a lock in the
// backend; whoever holds it walks every org): call logs handed off but never queued (a crash
// between a call's end and its enqueue: the outbox says so) are enqueued again, and so are CRM
// updates of ended calls whose enqueue was lost (the update outbox); ended calls whose
// retention is over are purged with their links and keys; token buckets that refilled and sticky
// caller ids that expired are dropped; then the tasks given (src/gateway.ts: provider probes and
// the stuck-call reconciler). Each step is idempotent, so a lock lost midway costs nothing but
// repeated work.

import type { Logger } from 'pino';
import type { Backend } from '../store/backend.js';
import type { CallLogQueue } from '../store/queues/port.js';

export interface HousekeeperOptions {
  /** how often a round runs (default 30 s) */
  everyMs?: number;
  /** how long a hand-off may wait before it is enqueued again (default 15 s; enqueuing twice is harmless) */
  outboxGraceMs?: number;
  /** extra per-org work (provider probes, the stuck-call reconciler) */
  tasks?: Array<(orgId: string) => Promise<void>>;
}

const LOCK = 'housekeeping';
const LOCK_MIN_TTL_MS = 15_000;
const BATCH = 200;

export class Housekeeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private readonly everyMs: number;
  private readonly graceMs: number;

  constructor(
    private readonly backend: Backend,
    private readonly callLog: CallLogQueue | undefined,
    private readonly logger: Logger,
    private readonly opts: HousekeeperOptions = {},
  ) {
    this.everyMs = opts.everyMs ?? 30_000;
    this.graceMs = opts.outboxGraceMs ?? 15_000;
  }

  // declared before firstRound: class fields are set in order, and its executor assigns this one
  private firstDone: () => void = () => {};
  /** Settles once the first round after start() is over (or the housekeeper stopped before it). */
  readonly firstRound: Promise<void> = new Promise((r) => (this.firstDone = r));

  start(): void {
    const tick = () => {
      if (this.stopped) return this.firstDone();
      this.running = this.round()
        .then(() => undefined)
        .catch((e: Error) => this.logger.warn({ err: e.message }, 'housekeeping round failed'))
        .finally(() => {
          this.running = undefined;
          this.firstDone();
          if (!this.stopped) this.timer = setTimeout(tick, this.everyMs).unref();
        });
    };
    this.timer = setTimeout(tick, Math.min(this.everyMs, 1000)).unref();
  }

  /** One round over every org, if this instance gets the lock. Returns whether it ran. */
  async round(): Promise<boolean> {
    const { shared, orgs } = this.backend;
    // short, and renewed as the round goes: a lock whose release failed (Redis blinked) holds
    // housekeeping back for at most this long
    const ttl = Math.max(this.everyMs * 2, LOCK_MIN_TTL_MS);
    const token = await shared.acquireLock(LOCK, ttl);
    if (!token) return false;
    try {
      let cursor = '';
      let renewed = Date.now();
      for (;;) {
        const page = await orgs.listOrgIds(cursor, 500);
        for (const orgId of page.ids) {
          if (this.stopped) return true;
          if (Date.now() - renewed > ttl / 3) {
            if (!(await shared.renewLock(LOCK, token, ttl))) return true;
            renewed = Date.now();
          }
          await this.org(orgId);
        }
        if (!page.next) break;
        cursor = page.next;
      }
      return true;
    } finally {
      await shared.releaseLock(LOCK, token).catch(() => {});
    }
  }

  private async org(orgId: string): Promise<void> {
    const { calls, limits, compliance } = this.backend;
    const now = Date.now();
    if (this.callLog) {
      const due = await calls.outboxDue(orgId, now - this.graceMs, BATCH);
      for (const callId of due) await this.callLog.enqueue(orgId, callId);
      if (due.length > 0) this.logger.info({ orgId, calls: due.length }, 'call logs handed off but not queued: enqueued again');
      // a job still queued or retrying keeps its id, so enqueuing it again changes nothing
      const updates = await calls.updatesDue(orgId, now - this.graceMs, BATCH);
      for (const u of updates) await this.callLog.enqueue(orgId, u.callId, u.update);
      if (updates.length > 0) this.logger.info({ orgId, updates: updates.length }, 'CRM updates not settled: enqueued again');
    }
    while ((await calls.purge(orgId, now, BATCH)) >= BATCH) {
      // a backlog of expired calls: keep going, a batch at a time
    }
    await limits.sweep(orgId);
    await compliance.sweepCallerIds(orgId, now);
    for (const task of this.opts.tasks ?? []) {
      // one task failing for one org (a provider's API down...) stops neither the others nor the round
      await task(orgId).catch((e: Error) => this.logger.warn({ orgId, err: e.message }, 'housekeeping task failed'));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.firstDone();
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
