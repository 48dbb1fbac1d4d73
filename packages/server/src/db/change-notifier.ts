/**
 * Wakes waiting change feeds when a new sequence is committed. Waiters register the last sequence they have
 * seen and are resolved as soon as a higher one is announced, or when their signal aborts.
 */
export class ChangeNotifier {
  #latest = 0;
  #waiters = new Set<{ since: number; resolve: () => void }>();

  get latest(): number {
    return this.#latest;
  }

  announce(seq: number): void {
    if (seq <= this.#latest) return;
    this.#latest = seq;
    for (const waiter of this.#waiters) {
      if (seq > waiter.since) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Resolves true when a sequence above `since` is announced, false on timeout or abort. */
  waitFor(since: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#latest > since) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
        resolve(value);
      };
      const waiter = { since, resolve: () => finish(true) };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** Number of feeds currently waiting; exposed for metrics and tests. */
  get waiting(): number {
    return this.#waiters.size;
  }
}
