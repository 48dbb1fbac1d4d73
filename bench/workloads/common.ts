import type { HttpClient } from '../http-client.ts';
import type { HttpTarget } from '../targets/types.ts';
import type { WorkloadId } from '../settings.ts';

export interface Measurement {
  docs: number;
  seconds: number;
}

export type Log = (line: string) => void;

export interface Workload {
  readonly id: WorkloadId;
  /** Short name used in progress lines and goals, e.g. "_bulk_docs". */
  readonly name: string;
  /** One-line description for the report heading. */
  readonly title: string;
  readonly docCount: number;
  runHttp(target: HttpTarget, log: Log): Promise<Measurement>;
  /** The same work straight into better-sqlite3, where a comparison makes sense. */
  runSqlite?(tmpRoot: string, log: Log): Measurement;
}

/**
 * A report section measured against Syncline alone, with ratios between its own figures from the same run.
 * It keeps its own results: `run` is called once per round and records failures instead of throwing.
 */
export interface SynclineSection {
  readonly id: WorkloadId;
  readonly name: string;
  /** Lines for the report header: what is measured, with document counts. */
  readonly summary: readonly string[];
  run(target: HttpTarget, log: Log): Promise<void>;
  /** Marks everything not yet measured as failed (e.g. Syncline did not start). */
  failAll(error: string): void;
  report(rounds: number): string[];
  /** Rows for the closing list of goals (PASS/MISS), if the section has goals. */
  goalLines?(rounds: number): string[];
  hasErrors(): boolean;
}

const RUN_TAG = Date.now().toString(36);
let tagCounter = 0;

/**
 * Document ids are `${base}-N` in a fresh database; when `${base}-0` already
 * exists (a later round, or an external server reused across runs) the ids get
 * a run-unique tag so every write creates a new document.
 */
export async function freshIdPrefix(client: HttpClient, db: string, base: string): Promise<string> {
  const res = await client.request('GET', `/${db}/${base}-0`);
  if (res.status === 404) return base;
  tagCounter += 1;
  return `${base}-${RUN_TAG}${tagCounter}`;
}

/** Times one measured phase and prints a line at each quarter of the way. */
export class Progress {
  readonly #log: Log;
  readonly #what: string;
  readonly #total: number;
  readonly #start = performance.now();
  #nextQuarter = 1;

  constructor(log: Log, what: string, total: number) {
    this.#log = log;
    this.#what = what;
    this.#total = total;
  }

  elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  update(done: number): void {
    if (done >= this.#total) return;
    if (done < (this.#total * this.#nextQuarter) / 4) return;
    while (done >= (this.#total * this.#nextQuarter) / 4) this.#nextQuarter += 1;
    this.#log(`${this.#what}: ${done.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')} docs (${this.elapsed().toFixed(1)} s)`);
  }

  finish(done: number): Measurement {
    const seconds = this.elapsed();
    const rate = Math.round(done / seconds).toLocaleString('en-US');
    this.#log(`${this.#what}: ${done.toLocaleString('en-US')} docs in ${seconds.toFixed(2)} s = ${rate} docs/s`);
    return { docs: done, seconds };
  }
}

export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
