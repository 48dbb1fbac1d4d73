import type { Logger } from '../base/logger.ts';
import type { Bucket } from '../storage/bucket.ts';
import type { ChangeNotifier } from './change-notifier.ts';

export interface BucketWakeupsOptions {
  /** Polling backstop: how often the last sequence is read whatever the notifications say (default 1 s). */
  pollMs?: number;
  /** Told when documents-table rows were written (the import worker looks at the log again). */
  onMutations?: () => void;
}

const DEFAULT_POLL_MS = 1000;

/**
 * Wakes this node's change feeds and import worker on what other nodes (or this one) write to the shared
 * bucket: storage notifications when the engine delivers them, and a poll of the last sequence as a backstop,
 * so that a lost notification delays a feed by at most one poll interval.
 */
export class BucketWakeups {
  readonly #bucket: Bucket;
  readonly #notifier: ChangeNotifier;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #onMutations: (() => void) | undefined;
  #unwatch: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #reading: Promise<void> | null = null;
  #stopped = false;

  constructor(bucket: Bucket, notifier: ChangeNotifier, log: Logger, opts: BucketWakeupsOptions = {}) {
    this.#bucket = bucket;
    this.#notifier = notifier;
    this.#log = log;
    this.#pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.#onMutations = opts.onMutations;
  }

  start(): void {
    if (this.#unwatch || this.#stopped) return;
    this.#unwatch = this.#bucket.watch((event) => {
      switch (event.kind) {
        case 'sequence':
          this.#notifier.announce(event.seq);
          break;
        case 'mutations':
          this.#onMutations?.();
          break;
        case 'resync':
          this.#readLastSequence();
          this.#onMutations?.();
          break;
        case 'record':
          break;
      }
    });
    this.#timer = setInterval(() => this.#readLastSequence(), this.#pollMs);
    this.#timer.unref();
  }

  #readLastSequence(): void {
    if (this.#reading || this.#stopped) return;
    this.#reading = this.#bucket
      .lastSequence()
      .then((seq) => {
        if (!this.#stopped) this.#notifier.announce(seq);
      })
      .catch((err: unknown) => {
        if (!this.#stopped) this.#log.warn({ err }, 'could not read the last sequence');
      })
      .finally(() => {
        this.#reading = null;
      });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = null;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#reading;
  }
}
