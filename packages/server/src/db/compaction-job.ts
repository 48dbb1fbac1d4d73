import { badRequest, unavailable } from '../base/errors.ts';

/** States of a compaction run, as Sync Gateway's background processes report them. */
export type CompactionState = 'running' | 'completed' | 'stopping' | 'stopped' | 'error';

/** The part of `GET /{db}/_compact` every compaction type shares (Sync Gateway's BackgroundManagerStatus). */
export interface CompactionRunStatus {
  status: CompactionState;
  /** ISO time the last run started; Go's zero time, as Sync Gateway shows it, before any run. */
  start_time: string;
  last_error: string;
}

export type CompactionWork<P> = (signal: AbortSignal, report: (progress: Partial<P>) => void) => Promise<P>;

export interface CompactionJobOptions<P> {
  /** Progress counters of a run before it has done anything (e.g. `{ docs_purged: 0 }`). */
  initial: () => P;
  /** Reason of the 503 answered to a start while a run is in progress. */
  busyReason: string;
  /** Reason of the error answered to a stop while nothing runs. */
  notRunning: { status: 400 | 503; reason: string };
  /** Called when a run fails (its status then says `error`). */
  onError: (err: unknown) => void;
}

const NEVER = '0001-01-01T00:00:00Z';

/** One kind of compaction of a database: at most one run at a time, stoppable, with its last status kept. */
export class CompactionJob<P extends object> {
  readonly #opts: CompactionJobOptions<P>;
  #state: CompactionState = 'stopped';
  #startTime = NEVER;
  #lastError = '';
  #progress: P;
  #abort: AbortController | null = null;
  #done: Promise<unknown> | null = null;

  constructor(opts: CompactionJobOptions<P>) {
    this.#opts = opts;
    this.#progress = opts.initial();
  }

  get running(): boolean {
    return this.#done !== null;
  }

  status(): CompactionRunStatus & P {
    return { status: this.#state, start_time: this.#startTime, last_error: this.#lastError, ...this.#progress };
  }

  /**
   * Runs `work` now and resolves, once it ends, with the final status (`completed`, `stopped` or `error`: never
   * rejects for a failed run). Throws 503 at once when a run is already in progress.
   */
  run(work: CompactionWork<P>): Promise<CompactionRunStatus & P> {
    if (this.#done) throw unavailable(this.#opts.busyReason);
    const abort = new AbortController();
    this.#abort = abort;
    this.#state = 'running';
    this.#startTime = new Date().toISOString();
    this.#lastError = '';
    this.#progress = this.#opts.initial();
    const report = (progress: Partial<P>) => {
      this.#progress = { ...this.#progress, ...progress };
    };
    const done = this.#execute(work, abort.signal, report);
    this.#done = done;
    return done;
  }

  /** Asks the run in progress to stop at its next check; answers its status (`stopping`). */
  stop(): CompactionRunStatus & P {
    if (!this.#abort || this.#state !== 'running') {
      const { status, reason } = this.#opts.notRunning;
      throw status === 400 ? badRequest(reason) : unavailable(reason);
    }
    this.#state = 'stopping';
    this.#abort.abort();
    return this.status();
  }

  /** Stops the run in progress, if any, and waits for it to end. */
  async close(): Promise<void> {
    this.#abort?.abort();
    await this.#done;
  }

  async #execute(work: CompactionWork<P>, signal: AbortSignal, report: (p: Partial<P>) => void): Promise<CompactionRunStatus & P> {
    try {
      // The caller sees the run as started before any of its work happens.
      await Promise.resolve();
      report(await work(signal, report));
      this.#state = signal.aborted ? 'stopped' : 'completed';
    } catch (err) {
      this.#state = 'error';
      this.#lastError = err instanceof Error ? err.message : String(err);
      this.#opts.onError(err);
    } finally {
      this.#abort = null;
      this.#done = null;
    }
    return this.status();
  }
}
