import { yieldToEventLoop } from '../../base/yield.ts';
import { checkpointKey, checkpointPosition } from '../../cluster/checkpoints.ts';
import type { LeaseListener } from '../../cluster/partition-leases.ts';
import { partitionOf } from '../../storage/sqlite/partition.ts';
import type { MutationRecord } from '../../storage/bucket.ts';
import type { DbContext } from '../context.ts';
import { importDocuments } from './importer.ts';

/** Which partitions this node may import (its leases); see cluster/partition-leases.ts. */
export interface PartitionOwnership {
  /** Resolves once the first lease round is done. */
  ready(): Promise<void>;
  owns(partition: number): boolean;
  owned(): number[];
  attach(listener: LeaseListener): void;
}

export interface ImportWorkerOptions {
  /** How long to wait before looking at the mutation log again when it had nothing new. */
  pollMs?: number;
  /** Mutation-log entries read per batch. */
  batchSize?: number;
  /** The partitions this node may import; without it, all of them (a node alone on its bucket). */
  ownership?: PartitionOwnership;
}

const DEFAULT_POLL_MS = 50;
const DEFAULT_BATCH = 500;
const ERROR_BACKOFF_MS = 1000;
const CATCH_UP_PAGE = 500;
const PROGRESS_EVERY = 10_000;
/** Imported log entries are deleted in steps of at least this many positions, and whenever a partition is caught up. */
const TRIM_EVERY = 2_000;

/**
 * Storage calls complete synchronously (SQLite), so a loop of them never lets the event loop run: between
 * batches, let requests and timers through, or a large backlog would keep the server from answering.
 */

/**
 * Imports what server apps write directly to the documents table. At start it catches up with a full check
 * (rows written while no node was importing), then follows the mutation log of each partition it holds a lease
 * on, from that partition's checkpoint. Processing is idempotent (an imported row is recognised by its cas), so
 * after a crash, or when a partition moves between nodes, the entries since the last checkpoint are simply looked
 * at again: nothing is skipped and nothing is imported twice.
 */
export class ImportWorker {
  readonly #ctx: DbContext;
  readonly #pollMs: number;
  readonly #batchSize: number;
  readonly #ownership: PartitionOwnership | null;
  /** Checkpoints of the partitions being imported, read when their lease was taken. */
  readonly #positions = new Map<number, number>();
  /** Position up to which each partition's log was last trimmed. */
  readonly #trimmed = new Map<number, number>();
  /** The batch being processed, per partition (awaited before its lease is given up). */
  readonly #inFlight = new Map<number, Promise<unknown>>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #passStartedAt = 0;
  #nudged = false;

  constructor(ctx: DbContext, opts: ImportWorkerOptions = {}) {
    this.#ctx = ctx;
    this.#pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.#batchSize = opts.batchSize ?? DEFAULT_BATCH;
    this.#ownership = opts.ownership ?? null;
    this.#ownership?.attach({
      gained: (p) => {
        ctx.importStats.leasesGained++;
        // Another node may have advanced the checkpoint while it held the partition: read it again.
        this.#forget(p);
        this.#wakeUp();
      },
      lost: (p) => {
        ctx.importStats.leasesLost++;
        this.#forget(p);
      },
      drain: async (p) => {
        await this.#inFlight.get(p);
      },
    });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wakeUp();
    await this.#loop;
    this.#loop = null;
  }

  /**
   * New mutations were written (possibly by another process): look at the log again soon. Several wake-ups
   * within half a poll interval make one pass, so a steady stream of writes does not turn into a pass per write.
   */
  nudge(): void {
    if (!this.#wake || !this.#timer) {
      // Mid-pass: the entries may have been written after this pass read their partition.
      this.#nudged = true;
      return;
    }
    const at = this.#passStartedAt + this.#pollMs / 2 - Date.now();
    if (at <= 0) {
      this.#wakeUp();
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#wakeUp(), at);
  }

  #owns(partition: number): boolean {
    return this.#ownership ? this.#ownership.owns(partition) : true;
  }

  #forget(partition: number): void {
    this.#positions.delete(partition);
    this.#ctx.importStats.dropPartition(partition);
  }

  async #run(): Promise<void> {
    const log = this.#ctx.importLog;
    try {
      await this.#ownership?.ready();
      await this.#catchUp();
    } catch (err) {
      if (this.#running) log.error({ err }, 'import catch-up failed; following the mutation log');
    }
    while (this.#running) {
      this.#passStartedAt = Date.now();
      this.#nudged = false;
      let busy: boolean;
      const pass = this.#pass();
      try {
        busy = await pass;
      } catch (err) {
        if (!this.#running) break;
        log.error({ err }, 'import error; retrying');
        await this.#sleep(ERROR_BACKOFF_MS);
        continue;
      }
      if (!busy) await this.#sleep(this.#nudged ? this.#pollMs / 2 : this.#pollMs);
    }
  }

  /**
   * One pass: reads a batch of every owned partition's log, imports the documents they name together (one
   * batch of writes, whatever the number of partitions), then moves each partition's checkpoint. Returns
   * whether some partition had a full batch (more is waiting).
   */
  async #pass(): Promise<boolean> {
    const ctx = this.#ctx;
    const read: Array<{ partition: number; entries: MutationRecord[] }> = [];
    let done!: () => void;
    const inFlight = new Promise<void>((resolve) => (done = resolve));
    try {
      for (let p = 0; p < ctx.bucket.partitions && this.#running; p++) {
        if (!this.#owns(p)) {
          if (this.#positions.has(p)) this.#forget(p);
          continue;
        }
        this.#inFlight.set(p, inFlight);
        const entries = await this.#readPartition(p);
        if (entries.length > 0) read.push({ partition: p, entries });
      }
      if (read.length === 0) return false;
      // The latest state of each document is what gets imported; earlier entries for it are covered by it.
      const ids = new Set<string>();
      for (const { entries } of read) for (const entry of entries) ids.add(entry.id);
      const all = [...ids];
      for (let i = 0; i < all.length; i += this.#batchSize) {
        await importDocuments(ctx, all.slice(i, i + this.#batchSize));
        if (i + this.#batchSize < all.length) await yieldToEventLoop();
      }
      for (const { partition, entries } of read) await this.#advance(partition, entries[entries.length - 1]!.position);
      await yieldToEventLoop();
      return read.some(({ entries }) => entries.length === this.#batchSize);
    } finally {
      for (const [p, promise] of this.#inFlight) if (promise === inFlight) this.#inFlight.delete(p);
      done();
    }
  }

  /**
   * Imports every row written outside the gateway that is not imported yet, whatever the mutation log holds, in
   * the partitions this node holds (the other partitions' holders check theirs).
   */
  async #catchUp(): Promise<void> {
    const ctx = this.#ctx;
    const partitions = ctx.bucket.partitions;
    if (this.#ownership && this.#ownership.owned().length === 0) return;
    const all = partitions === 1 || this.#ownership === null || this.#ownership.owned().length === partitions;
    let after = '';
    let total = 0;
    while (this.#running) {
      const ids = await ctx.collection.scanUnimported(after, CATCH_UP_PAGE);
      if (ids.length === 0) break;
      const mine = all ? ids : ids.filter((id) => this.#owns(partitionOf(id, partitions)));
      if (mine.length > 0) await importDocuments(ctx, mine);
      await yieldToEventLoop();
      after = ids[ids.length - 1]!;
      const before = total;
      total += mine.length;
      if (Math.floor(before / PROGRESS_EVERY) !== Math.floor(total / PROGRESS_EVERY)) {
        ctx.importLog.info({ checked: total }, 'import catch-up progress');
      }
      if (ids.length < CATCH_UP_PAGE) break;
    }
    if (total > 0) ctx.importLog.info({ checked: total }, 'import catch-up done');
  }

  async #loadCheckpoint(partition: number): Promise<number> {
    const record = await this.#ctx.bucket.getRecord(checkpointKey(this.#ctx.collection.name, partition));
    return checkpointPosition(record?.value);
  }

  /** The next batch of a partition's log after its checkpoint. */
  async #readPartition(partition: number): Promise<MutationRecord[]> {
    const ctx = this.#ctx;
    let after = this.#positions.get(partition);
    if (after === undefined) {
      after = await this.#loadCheckpoint(partition);
      this.#positions.set(partition, after);
      this.#trimmed.set(partition, 0);
      ctx.importStats.startPartition(partition, after);
    }
    const entries = await ctx.collection.readMutations(partition, after, this.#batchSize);
    if (entries.length === 0) {
      ctx.importStats.setPending(partition, null);
      // Caught up: drop what is already imported, once, instead of after every batch.
      if ((this.#trimmed.get(partition) ?? 0) < after) {
        await ctx.collection.trimMutations(partition, after);
        this.#trimmed.set(partition, after);
      }
      return entries;
    }
    ctx.importStats.setPending(partition, entries[0]!.at ?? Date.now());
    ctx.importStats.mutationsRead += entries.length;
    return entries;
  }

  /** Moves a partition's checkpoint past an imported batch, unless the partition was lost meanwhile. */
  async #advance(partition: number, position: number): Promise<void> {
    const ctx = this.#ctx;
    // Lost meanwhile: the checkpoint is the new holder's now (it starts from the last one written).
    if (!this.#owns(partition) || !this.#positions.has(partition)) return;
    this.#positions.set(partition, position);
    ctx.importStats.setPosition(partition, position);
    await ctx.bucket.setRecord(checkpointKey(ctx.collection.name, partition), JSON.stringify({ position }), { durable: false });
    if (position - (this.#trimmed.get(partition) ?? 0) >= TRIM_EVERY) {
      await ctx.collection.trimMutations(partition, position);
      this.#trimmed.set(partition, position);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    }).then(() => {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      this.#wake = null;
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }
}
