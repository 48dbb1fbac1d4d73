/**
 * Counts failed logins per user name in a fixed window, to warn about password guessing. In memory only, and
 * bounded so that guesses against random names cannot grow it without limit.
 */
export interface FailureTrackerOptions {
  /** Failures within one window that trigger a warning (default 5). */
  threshold?: number;
  windowMs?: number;
  /** Names tracked at once; the oldest entry is dropped beyond this. */
  maxNames?: number;
  now?: () => number;
}

interface Entry {
  count: number;
  windowStart: number;
}

export class FailureTracker {
  readonly #entries = new Map<string, Entry>();
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #maxNames: number;
  readonly #now: () => number;

  constructor(opts: FailureTrackerOptions = {}) {
    this.#threshold = opts.threshold ?? 5;
    this.#windowMs = opts.windowMs ?? 60_000;
    this.#maxNames = opts.maxNames ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Records a failure; returns the count in the current window when it reaches the threshold, else null. */
  fail(name: string): number | null {
    const now = this.#now();
    let entry = this.#entries.get(name);
    if (!entry || now - entry.windowStart >= this.#windowMs) {
      entry = { count: 0, windowStart: now };
      this.#entries.delete(name);
      this.#entries.set(name, entry);
      if (this.#entries.size > this.#maxNames) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
    }
    entry.count++;
    // Warn once on reaching the threshold, then again every further `threshold` failures.
    return entry.count >= this.#threshold && entry.count % this.#threshold === 0 ? entry.count : null;
  }

  succeed(name: string): void {
    this.#entries.delete(name);
  }
}
