// Open-loop traffic at a fixed rate: click-to-calls (POST /v1/calls, one live call per user, so
// a user is reused only after their call has had time to end) and inbound sim calls (POST
// /webhooks/sim/{id}/inbound). Requests are sent on schedule whatever the answers, so a slow or
// refusing gateway shows up as latency and status counts, not as a slower generator. Bounded:
// it stops by itself after durationMs (or when stop() is called).

import { send, type Reply } from './http.js';
import { destination, type OrgSetup } from './cluster.js';

export interface Sent {
  kind: 'click' | 'inbound';
  target: string;
  /** ms since the traffic started */
  at: number;
  status: number;
  ms: number;
  error?: string;
  code?: string;
  /** the call id of an acknowledged request (201 click, 200 inbound) */
  callId?: string;
  /** X-Request-Id sent (the gateway logs it), to tell requests it received from those it never read */
  reqId: string;
}

export interface TrafficOptions {
  org: OrgSetup;
  /** base URLs to spread requests over; called per request so a test can change the rotation */
  targets: () => string[];
  clicksPerSec: number;
  inboundPerSec: number;
  durationMs: number;
  /** how long after a 201 a user's call is surely over (dial + ring + answer + talk + margin) */
  callLengthMs: number;
  timeoutMs?: number;
  /** first destination index (runs on one org use fresh destinations) */
  destOffset?: number;
  /** round-robin over users whatever their live calls (the org's liveCallsPerUser is raised) */
  reuseUsers?: boolean;
  /** Idempotency-Key on clicks */
  idempotent?: boolean;
}

export class Traffic {
  readonly sent: Sent[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private stopped = false;
  private readonly t0 = performance.now();
  /** clicks not sent because every user still had a live call */
  noFreeUser = 0;
  done!: Promise<void>;
  private readonly runId = Math.random().toString(36).slice(2, 8);

  constructor(private readonly o: TrafficOptions) {}

  now(): number {
    return performance.now() - this.t0;
  }

  start(): this {
    this.done = this.loop();
    return this;
  }

  stop(): void {
    this.stopped = true;
  }

  inFlight(): number {
    return this.inflight.size;
  }

  private async loop(): Promise<void> {
    const { org, durationMs } = this.o;
    const free: number[] = org.users.map((_, i) => i);
    let clicks = 0;
    let inbound = 0;
    let dest = this.o.destOffset ?? 0;
    let rr = 0;
    let seq = 0;
    const tickMs = 10;
    while (!this.stopped && this.now() < durationMs) {
      const t = this.now();
      const wantClicks = Math.floor((t / 1000) * this.o.clicksPerSec);
      const wantInbound = Math.floor((t / 1000) * this.o.inboundPerSec);
      while (clicks < wantClicks) {
        clicks++;
        const ui = this.o.reuseUsers ? clicks % org.users.length : free.shift();
        if (ui === undefined) {
          this.noFreeUser++;
          continue;
        }
        const targets = this.o.targets();
        const target = targets[rr++ % targets.length];
        const user = org.users[ui];
        const to = destination(dest++);
        const reqId = `stress-${this.runId}-${seq++}`;
        const headers: Record<string, string> = { 'x-request-id': reqId, ...(this.o.idempotent ? { 'idempotency-key': reqId } : {}) };
        this.track('click', target, reqId, send(target, 'POST', '/v1/calls', { key: org.key, body: { userId: user.id, to }, headers, timeoutMs: this.o.timeoutMs }), (r) => {
          // the user is free again once the call has surely ended, or at once when it was refused
          if (!this.o.reuseUsers) setTimeout(() => free.push(ui), r.status === 201 ? this.o.callLengthMs : 200).unref();
          return r.status === 201 ? r.body?.id : undefined;
        });
      }
      while (inbound < wantInbound) {
        inbound++;
        const targets = this.o.targets();
        const target = targets[rr++ % targets.length];
        const user = org.users[inbound % org.users.length];
        const from = destination(dest++, 4);
        const reqId = `stress-${this.runId}-${seq++}`;
        this.track('inbound', target, reqId, send(target, 'POST', `/webhooks/sim/${org.providerId}/inbound`, { body: { from, to: user.did }, headers: { 'x-request-id': reqId }, timeoutMs: this.o.timeoutMs }), (r) =>
          r.status === 200 ? r.body?.callId : undefined,
        );
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await Promise.all([...this.inflight]);
  }

  private track(kind: Sent['kind'], target: string, reqId: string, p: Promise<Reply>, ack: (r: Reply) => string | undefined): void {
    const at = this.now();
    const run = p.then((r) => {
      this.sent.push({ kind, target, at, status: r.status, ms: r.ms, error: r.error, code: r.body?.error?.code, callId: ack(r), reqId });
    });
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
  }

  acked(): string[] {
    return this.sent.filter((s) => s.callId).map((s) => s.callId!);
  }

  statusCounts(kind?: Sent['kind']): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.sent) {
      if (kind && s.kind !== kind) continue;
      const k = s.status === 0 ? `err:${s.error}` : String(s.status) + (s.code && s.status >= 400 ? `:${s.code}` : '');
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }
}

export function fmtCounts(c: Record<string, number>): string {
  return Object.entries(c)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}×${v}`)
    .join(', ');
}
