// In-process wake-ups for trial runs waiting on a call's end: the trial observer wakes the run as
// soon as this instance applies the terminal status. A call ended on another instance is found by
// the run's periodic look at the store instead.

export class CallWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  wake(callId: string): void {
    const set = this.waiting.get(callId);
    if (!set) return;
    this.waiting.delete(callId);
    for (const f of set) f();
  }

  /** Resolves on wake(callId), after ms, or when the signal aborts — whichever comes first. */
  wait(callId: string, ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiting.get(callId);
      if (!set) this.waiting.set(callId, (set = new Set()));
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        const s = this.waiting.get(callId);
        s?.delete(done);
        if (s?.size === 0) this.waiting.delete(callId);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }
}
