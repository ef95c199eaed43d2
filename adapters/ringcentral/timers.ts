// Every timer the adapter starts goes through here so close() can clear them all; they are
// unref'd so a forgotten adapter never keeps a process alive.

export class Timers {
  private readonly handles = new Set<NodeJS.Timeout>();
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

  close(): void {
    this.closed = true;
    for (const h of this.handles) clearTimeout(h);
    this.handles.clear();
  }
}
