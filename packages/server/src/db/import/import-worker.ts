import { yieldToEventLoop } from '../../base/yield.ts';
import type { DbContext } from '../context.ts';
import { importDocuments } from './importer.ts';

export interface ImportWorkerOptions {
  /** How long to wait before looking at the mutation log again when it had nothing new. */
  pollMs?: number;
  /** Mutation-log entries read per batch. */
  batchSize?: number;
}

const DEFAULT_POLL_MS = 50;
const DEFAULT_BATCH = 500;
const ERROR_BACKOFF_MS = 1000;
const CATCH_UP_PAGE = 500;
const PROGRESS_EVERY = 10_000;

/**
 * Storage calls complete synchronously (SQLite), so a loop of them never lets the event loop run: between
 * batches, let requests and timers through, or a large backlog would keep the server from answering.
 */

const checkpointKey = (collection: string, partition: number): string => `_sync:import:checkpoint:${collection}:${partition}`;

/**
 * Imports what server apps write directly to the documents table. At start it catches up with a full check
 * (rows written while no node was importing), then follows the mutation log of each partition from its
 * checkpoint. Processing is idempotent (an imported row is recognised by its cas), so after a crash the entries
 * since the last checkpoint are simply looked at again: nothing is skipped and nothing is imported twice.
 */
export class ImportWorker {
  readonly #ctx: DbContext;
  readonly #pollMs: number;
  readonly #batchSize: number;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(ctx: DbContext, opts: ImportWorkerOptions = {}) {
    this.#ctx = ctx;
    this.#pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.#batchSize = opts.batchSize ?? DEFAULT_BATCH;
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

  async #run(): Promise<void> {
    const log = this.#ctx.importLog;
    try {
      await this.#catchUp();
    } catch (err) {
      if (this.#running) log.error({ err }, 'import catch-up failed; following the mutation log');
    }
    const partitions = this.#ctx.bucket.partitions;
    const positions = await this.#loadCheckpoints(partitions);
    while (this.#running) {
      let busy = false;
      try {
        for (let p = 0; p < partitions && this.#running; p++) {
          const read = await this.#processPartition(p, positions);
          if (read === this.#batchSize) busy = true;
          if (read > 0) await yieldToEventLoop();
        }
      } catch (err) {
        if (!this.#running) break;
        log.error({ err }, 'import error; retrying');
        await this.#sleep(ERROR_BACKOFF_MS);
        continue;
      }
      if (!busy) await this.#sleep(this.#pollMs);
    }
  }

  /** Imports every row written outside the gateway that is not imported yet, whatever the mutation log holds. */
  async #catchUp(): Promise<void> {
    const ctx = this.#ctx;
    let after = '';
    let total = 0;
    while (this.#running) {
      const ids = await ctx.collection.scanUnimported(after, CATCH_UP_PAGE);
      if (ids.length === 0) break;
      await importDocuments(ctx, ids);
      await yieldToEventLoop();
      after = ids[ids.length - 1]!;
      const before = total;
      total += ids.length;
      if (Math.floor(before / PROGRESS_EVERY) !== Math.floor(total / PROGRESS_EVERY)) {
        ctx.importLog.info({ checked: total }, 'import catch-up progress');
      }
      if (ids.length < CATCH_UP_PAGE) break;
    }
    if (total > 0) ctx.importLog.info({ checked: total }, 'import catch-up done');
  }

  async #loadCheckpoints(partitions: number): Promise<number[]> {
    const positions: number[] = [];
    for (let p = 0; p < partitions; p++) {
      const record = await this.#ctx.bucket.getRecord(checkpointKey(this.#ctx.collection.name, p));
      const position = record ? Number((JSON.parse(record.value) as { position?: unknown }).position) : 0;
      positions.push(Number.isSafeInteger(position) && position > 0 ? position : 0);
    }
    return positions;
  }

  /** Imports one batch of a partition's log; returns how many entries it read. */
  async #processPartition(partition: number, positions: number[]): Promise<number> {
    const ctx = this.#ctx;
    const after = positions[partition] ?? 0;
    const entries = await ctx.collection.readMutations(partition, after, this.#batchSize);
    if (entries.length === 0) {
      ctx.importStats.oldestPendingAt = null;
      return 0;
    }
    ctx.importStats.oldestPendingAt = entries[0]!.at ?? Date.now();
    ctx.importStats.mutationsRead += entries.length;
    // The latest state of each document is what gets imported; earlier entries for it are covered by it.
    await importDocuments(ctx, [...new Set(entries.map((e) => e.id))]);
    const position = entries[entries.length - 1]!.position;
    positions[partition] = position;
    await ctx.bucket.setRecord(checkpointKey(ctx.collection.name, partition), JSON.stringify({ position }), { durable: false });
    await ctx.collection.trimMutations(partition, position);
    return entries.length;
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
