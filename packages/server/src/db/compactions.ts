import { randomUUID } from 'node:crypto';
import { compactAttachmentsCounted } from './compact.ts';
import { CompactionJob, type CompactionRunStatus } from './compaction-job.ts';
import type { DbContext } from './context.ts';
import { compactTombstones, DAY_MS } from './tombstone-compaction.ts';

export type CompactionType = 'tombstone' | 'attachment';

/** `GET /{db}/_compact?type=tombstone`, shaped as Sync Gateway's TombstoneManagerResponse. */
export type TombstoneCompactStatus = CompactionRunStatus & { docs_purged: number };

/** `GET /{db}/_compact?type=attachment`, shaped as Sync Gateway's AttachmentManagerResponse. */
export type AttachmentCompactStatus = CompactionRunStatus & AttachmentProgress;

interface AttachmentProgress {
  marked_attachments: number;
  purged_attachments: number;
  compact_id: string;
  /** Present (true) when the run only counted what it would remove. */
  dry_run?: boolean;
}

const MIN_PERIOD_MS = 1000;
const MAX_PERIOD_MS = 3_600_000;

/** How often the background tombstone compaction runs: half the purge interval, within [1 s, 1 h]. */
export function tombstoneCompactionPeriodMs(intervalDays: number): number {
  return Math.min(Math.max((intervalDays * DAY_MS) / 2, MIN_PERIOD_MS), MAX_PERIOD_MS);
}

/**
 * The compactions of one database: tombstone purging (on demand and on a timer, per `metadata_purge_interval`)
 * and attachment compaction (on demand). Each type runs at most once at a time and keeps its last status.
 */
export class Compactions {
  readonly tombstone: CompactionJob<{ docs_purged: number }>;
  readonly attachment: CompactionJob<AttachmentProgress>;
  readonly #ctx: DbContext;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(ctx: DbContext) {
    this.#ctx = ctx;
    this.tombstone = new CompactionJob({
      initial: () => ({ docs_purged: 0 }),
      busyReason: 'Database compact already in progress',
      notRunning: { status: 400, reason: 'Database compact is not running' },
      onError: (err) => ctx.log.error({ err }, 'tombstone compaction failed'),
    });
    this.attachment = new CompactionJob({
      initial: () => ({ marked_attachments: 0, purged_attachments: 0, compact_id: '' }),
      busyReason: 'Process already running',
      notRunning: { status: 503, reason: 'Process already stopped' },
      onError: (err) => ctx.log.error({ err }, 'attachment compaction failed'),
    });
  }

  /** True while either compaction runs (`compact_running` of the database info). */
  get running(): boolean {
    return this.tombstone.running || this.attachment.running;
  }

  /** Milliseconds after which a tombstone is purged (`metadata_purge_interval`, in days). */
  get purgeIntervalMs(): number {
    return this.#ctx.config.metadata_purge_interval * DAY_MS;
  }

  /** Purges tombstones older than the purge interval now; throws 503 while a tombstone compaction runs. */
  compactTombstones(now?: number): Promise<TombstoneCompactStatus> {
    return this.tombstone.run(async (signal, report) => {
      const opts = { olderThanMs: this.purgeIntervalMs, signal, onProgress: (docs_purged: number) => report({ docs_purged }) };
      return { docs_purged: await compactTombstones(this.#ctx, now === undefined ? opts : { ...opts, now }) };
    });
  }

  /** Removes unreferenced attachment bodies now (only counts them with dryRun); 503 while one runs. */
  compactAttachments(opts: { dryRun?: boolean } = {}): Promise<AttachmentCompactStatus> {
    const compact_id = randomUUID();
    const dryRun = opts.dryRun === true ? { dry_run: true } : {};
    return this.attachment.run(async (_signal, report) => {
      report({ compact_id, ...dryRun });
      const { marked, purged } = await compactAttachmentsCounted(this.#ctx, opts);
      return { marked_attachments: marked, purged_attachments: purged, compact_id, ...dryRun };
    });
  }

  /** Starts the periodic tombstone compaction. Its timer never keeps the process alive. */
  start(): void {
    if (!this.#closed && this.#timer === null) this.#schedule();
  }

  /** Stops the timer and any run in progress, and waits for it to end. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await Promise.all([this.tombstone.close(), this.attachment.close()]);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#tick(), tombstoneCompactionPeriodMs(this.#ctx.config.metadata_purge_interval));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      // A run started on demand is still going: this turn is skipped.
      if (!this.tombstone.running && !this.#closed) await this.compactTombstones();
    } catch (err) {
      this.#ctx.log.error({ err }, 'periodic tombstone compaction failed');
    } finally {
      this.#schedule();
    }
  }
}
