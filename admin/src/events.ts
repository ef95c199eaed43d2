// The live call feed: one WebSocket to /v1/events for the whole signed-in session, so screen pops
// show on every page. Browsers cannot set headers on a WebSocket, so the key goes in the
// ?access_token= query parameter — the one place it is in a URL; the gateway redacts it from its
// logs, the connection is same-origin, and nothing stores or displays that URL.

import type { Call } from './api.js';

export type FeedState = 'connecting' | 'live' | 'offline';

export interface CallEvent {
  type: string;
  call?: Call;
  match?: unknown;
}

type Listener = (ev: CallEvent | null) => void;

const MAX_CALLS = 200;

export class LiveFeed {
  readonly calls = new Map<string, Call>();
  state: FeedState = 'offline';
  private ws: WebSocket | null = null;
  private listeners = new Set<Listener>();
  private retryMs = 1000;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;

  constructor(private readonly onEvent: (ev: CallEvent) => void) {}

  /** Starts the feed unless it is already running. */
  ensure(key: string): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect(key);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000, 'signed out');
    this.ws = null;
    this.calls.clear();
    this.setState('offline');
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Merges calls fetched over HTTP, without letting an older copy replace a newer one. */
  seed(calls: Call[]): void {
    for (const c of calls) this.upsert(c);
    this.emit(null);
  }

  private upsert(c: Call): void {
    const cur = this.calls.get(c.id);
    if (cur && (cur.updatedAt ?? '') > (c.updatedAt ?? '')) return;
    this.calls.set(c.id, c);
    if (this.calls.size > MAX_CALLS) {
      const oldest = [...this.calls.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
      this.calls.delete(oldest.id);
    }
  }

  private setState(s: FeedState): void {
    this.state = s;
    this.emit(null);
  }

  private emit(ev: CallEvent | null): void {
    for (const l of this.listeners) l(ev);
  }

  private connect(key: string): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.setState('connecting');
    const ws = new WebSocket(`${proto}//${location.host}/v1/events?access_token=${encodeURIComponent(key)}`);
    this.ws = ws;
    ws.onmessage = (m) => {
      let ev: CallEvent;
      try {
        ev = JSON.parse(String(m.data));
      } catch {
        return;
      }
      // the live calls first (a reloaded console shows its ringing and answered calls again)
      const snapshot = ev as unknown as { type: string; calls?: CallEvent['call'][] };
      if (snapshot.type === 'calls.snapshot') {
        for (const c of snapshot.calls ?? []) if (c) this.upsert(c);
        return;
      }
      if (ev.type === 'hello') {
        this.retryMs = 1000;
        this.setState('live');
        return;
      }
      if (ev.call) this.upsert(ev.call);
      this.onEvent(ev);
      this.emit(ev);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      this.setState('offline');
      // back off so a gateway restart is not met by a reconnect storm
      this.timer = setTimeout(() => this.connect(key), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 30_000);
    };
  }
}
