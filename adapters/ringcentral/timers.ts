// Every timer the adapter starts goes through here so close() can clear them all; they are
// unref'd so a forgotten adapter never keeps a process alive.

export class Timers {
  private readonly handles = new Set<NodeJS.Timeout>();
  private readonly flushable = new Map<NodeJS.Timeout, () => void | Promise<void>>();
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  after(ms: number, fn: () => void | Promise<void>): void {
    if (this.closed) return;
    const h = setTimeout(() => {
      this.handles.delete(h);
      if (this.closed) return;
      void Promise.resolve()
        .then(fn)
        .catch(() => undefined);
    }, ms);
    h.unref();
    this.handles.add(h);
  }

  /**
   * Like after(), but close() runs the task at once instead of dropping it: a decision that is
   * only waiting for late events (a call's final status) must not be lost when the core replaces
   * the adapter after a config change.
   */
  afterOrFlush(ms: number, fn: () => void | Promise<void>): void {
    if (this.closed) {
      void Promise.resolve().then(fn).catch(() => undefined);
      return;
    }
    const h = setTimeout(() => {
      this.handles.delete(h);
      this.flushable.delete(h);
      void Promise.resolve()
        .then(fn)
        .catch(() => undefined);
    }, ms);
    h.unref();
    this.handles.add(h);
    this.flushable.set(h, fn);
  }

  close(): void {
    this.closed = true;
    for (const h of this.handles) clearTimeout(h);
    this.handles.clear();
    const pending = [...this.flushable.values()];
    this.flushable.clear();
    for (const fn of pending) void Promise.resolve().then(fn).catch(() => undefined);
  }
}
