/**
 * Syncline-only section: import of direct writes. A server app's own better-sqlite3 connection (opened here, in
 * the benchmark process, on the server's SQLite file) inserts documents with plain SQL; the section times how
 * soon the server lists them on the admin `_changes` feed, and compares with `_bulk_docs` of the same
 * documents on the same server, in the same round.
 *
 *  - Throughput: N docs inserted in transactions of 500, from the first INSERT until all N are on `_changes`.
 *  - Lag: docs inserted at a steady rate (2,000 docs/s), each timed from its commit to its arrival on the feed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { track } from '../cleanup.ts';
import { averageSize, makeDocs } from '../docs.ts';
import { collectGarbage } from '../gc.ts';
import { describeFailure, postBulkDocs, type HttpClient } from '../http-client.ts';
import { median, throughputLines } from '../report.ts';
import type { Settings } from '../settings.ts';
import type { HttpTarget } from '../targets/types.ts';
import { updateSeq, watchLongpoll } from './changes-watch.ts';
import { Progress, batches, freshIdPrefix, type Log, type Measurement, type SynclineSection } from './common.ts';

export const IMPORT_DB = 'import';
export const IMPORT_BULK_DB = 'import_bulk';

/** Goal: import throughput at least this share of the `_bulk_docs` rate. */
const GOAL = 0.5;
const GOAL_TEXT = 'import >= 50% of _bulk_docs';
const WARM_UP_DOCS = 500;
const STEADY_TICK_MS = 10;

type Row = 'bulk' | 'sql' | 'import';

const ROWS: ReadonlyArray<{ key: Row; label: string }> = [
  { key: 'bulk', label: '_bulk_docs (admin API, batches of 100)' },
  { key: 'sql', label: 'SQL INSERT by the app (commits only)' },
  { key: 'import', label: 'import: first INSERT to all on _changes' },
];

interface LagSample {
  /** Write rate the app achieved, docs/s. */
  writeRate: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  /** From the last commit until the last document was on the feed. */
  drainMs: number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => x.toFixed(x < 10 ? 1 : 0);
const sleep = (delay: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, delay));
const yieldNow = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The app's side: its own connection to the server's SQLite file, writing the documented table. */
class AppConnection {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[string, string]>;
  readonly #insertMany: Database.Transaction<(rows: ReadonlyArray<readonly [string, string]>) => void>;

  constructor(file: string) {
    this.#db = new Database(file, { timeout: 10_000 });
    this.#insert = this.#db.prepare('INSERT INTO documents (id, body) VALUES (?, ?)');
    this.#insertMany = this.#db.transaction((rows) => {
      for (const [id, body] of rows) this.#insert.run(id, body);
    });
  }

  /** One transaction. */
  insert(rows: ReadonlyArray<readonly [string, string]>): void {
    this.#insertMany.immediate(rows);
  }

  close(): void {
    this.#db.close();
  }
}

export function importSection(settings: Settings): SynclineSection {
  const s = settings.import;
  const size = settings.batchSize;
  const rows = new Map<Row, Measurement[]>();
  const lags: LagSample[] = [];
  const errors = new Map<Row | 'lag', string>();
  const docBytes = averageSize(makeDocs(settings.seed, 200, 7_000_000));
  const steadySeconds = s.steadyDocs / s.steadyRate;
  let round = 0;
  let files: { import: string; bulk: string } | undefined;
  let dir: string | undefined;

  const add = (key: Row, m: Measurement): void => void rows.set(key, [...(rows.get(key) ?? []), m]);
  const fail = (key: Row | 'lag', error: string): void => void (errors.has(key) || errors.set(key, error));

  function tempDir(): string {
    if (dir) return dir;
    const made = mkdtempSync(path.join(os.tmpdir(), 'syncline-bench-import-'));
    const remove = (): void => rmSync(made, { recursive: true, force: true });
    track({ name: `temp dir ${made}`, close: () => Promise.resolve(remove()), closeSync: remove });
    dir = made;
    return made;
  }

  /** The database's SQLite file: created with `PUT /{db}/` on the admin API, or read from an existing one's config. */
  async function sqliteFile(admin: HttpClient, db: string): Promise<string> {
    const res = await admin.json<{ server?: string }>('GET', `/${db}/_config`);
    if (res.status === 200) {
      const server = res.data.server ?? '';
      const file = server.startsWith('sqlite:') ? server.slice('sqlite:'.length) : '';
      if (file === '' || file === ':memory:' || !path.isAbsolute(file)) {
        throw new Error(`database ${db} exists with storage "${server}"; the section needs an SQLite file with an absolute path`);
      }
      return file;
    }
    if (res.status !== 404) throw new Error(`GET /${db}/_config: HTTP ${res.status}`);
    const file = path.join(tempDir(), `${db}.sqlite`);
    const created = await admin.request('PUT', `/${db}/`, JSON.stringify({ server: `sqlite:${file}` }));
    if (created.status !== 201) throw describeFailure('PUT', `/${db}/`, created);
    return file;
  }

  async function bulkWrite(admin: HttpClient, base: string, count: number, offset: number, log: Log | undefined): Promise<Measurement> {
    const prefix = await freshIdPrefix(admin, IMPORT_BULK_DB, base);
    const groups = batches(
      makeDocs(settings.seed, count, offset).map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc })),
      size,
    );
    const progress = new Progress(log ?? (() => {}), `_bulk_docs /${IMPORT_BULK_DB}`, count);
    let done = 0;
    for (const group of groups) {
      await postBulkDocs(admin, IMPORT_BULK_DB, group);
      done += group.length;
      progress.update(done);
    }
    return progress.finish(done);
  }

  /** Inserts `count` docs in transactions and waits until all are on `_changes`; returns [app commits, import]. */
  async function importWrite(admin: HttpClient, file: string, base: string, count: number, offset: number, log: Log | undefined): Promise<[Measurement, Measurement]> {
    const quiet = (): void => {};
    const prefix = await freshIdPrefix(admin, IMPORT_DB, base);
    const bodies = makeDocs(settings.seed, count, offset).map((doc, i) => [`${prefix}-${i}`, JSON.stringify(doc)] as const);
    const since = await updateSeq(admin, IMPORT_DB);
    const app = new AppConnection(file);
    try {
      const visible = new Progress(log ?? quiet, `import /${IMPORT_DB}: on _changes`, count);
      let seen = 0;
      const watching = watchLongpoll(admin, IMPORT_DB, since, prefix, count, () => visible.update(++seen)).done;
      const started = performance.now();
      for (const group of batches(bodies, s.transactionSize)) {
        app.insert(group);
        await yieldNow();
      }
      const sql = { docs: count, seconds: (performance.now() - started) / 1000 };
      log?.(`SQL INSERT into /${IMPORT_DB}'s documents table: ${int(count)} docs committed in ${sql.seconds.toFixed(2)} s = ${int(count / sql.seconds)} docs/s`);
      await watching;
      return [sql, visible.finish(count)];
    } finally {
      app.close();
    }
  }

  /** Inserts at a steady rate (one transaction per tick) and times each document from its commit to the feed. */
  async function steadyWrite(admin: HttpClient, file: string, log: Log): Promise<LagSample> {
    const count = s.steadyDocs;
    const prefix = await freshIdPrefix(admin, IMPORT_DB, 'steady');
    const bodies = makeDocs(settings.seed, count, 7_500_000).map((doc, i) => [`${prefix}-${i}`, JSON.stringify(doc)] as const);
    const committedAt = new Float64Array(count);
    const visibleAt = new Float64Array(count);
    const since = await updateSeq(admin, IMPORT_DB);
    const app = new AppConnection(file);
    try {
      const visible = new Progress(log, `steady ${int(s.steadyRate)} docs/s into /${IMPORT_DB}: on _changes`, count);
      let seen = 0;
      const watching = watchLongpoll(admin, IMPORT_DB, since, prefix, count, (index, at) => {
        visibleAt[index] = at;
        visible.update(++seen);
      }).done;
      const started = performance.now();
      let written = 0;
      while (written < count) {
        await sleep(STEADY_TICK_MS);
        const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * s.steadyRate));
        if (due <= written) continue;
        app.insert(bodies.slice(written, due));
        committedAt.fill(performance.now(), written, due);
        written = due;
      }
      const lastCommit = performance.now();
      const lastVisible = await watching;
      visible.finish(count);
      const lag = visibleAt.map((v, i) => v - committedAt[i]!).sort();
      return {
        writeRate: count / ((lastCommit - started) / 1000),
        medianMs: percentile(lag, 0.5),
        p95Ms: percentile(lag, 0.95),
        maxMs: lag[lag.length - 1]!,
        drainMs: Math.max(0, lastVisible - lastCommit),
      };
    } finally {
      app.close();
    }
  }

  async function prepare(admin: HttpClient, log: Log): Promise<{ import: string; bulk: string }> {
    const prepared = { import: await sqliteFile(admin, IMPORT_DB), bulk: await sqliteFile(admin, IMPORT_BULK_DB) };
    // Unmeasured: the first writes of each database prepare its statements and warm the JIT.
    await bulkWrite(admin, 'warm', WARM_UP_DOCS, 7_900_000, undefined);
    await importWrite(admin, prepared.import, 'warm', WARM_UP_DOCS, 7_950_000, undefined);
    log(`import databases ready: /${IMPORT_DB} (${prepared.import}), /${IMPORT_BULK_DB} for the _bulk_docs reference`);
    return prepared;
  }

  async function measure(admin: HttpClient, log: Log): Promise<void> {
    if (!files) files = await prepare(admin, log);
    const importFile = files.import;
    const steps: Array<() => Promise<void>> = [
      async () => add('bulk', await bulkWrite(admin, 'bulk', s.docs, 7_000_000, log)),
      async () => {
        const [sql, imported] = await importWrite(admin, importFile, 'sql', s.docs, 7_000_000, log);
        add('sql', sql);
        add('import', imported);
      },
    ];
    for (const step of round % 2 === 1 ? steps : [...steps].reverse()) {
      collectGarbage();
      await step();
    }
    collectGarbage();
    try {
      const lag = await steadyWrite(admin, importFile, log);
      lags.push(lag);
      log(`steady: wrote ${int(lag.writeRate)} docs/s; commit to _changes median ${ms(lag.medianMs)} ms, p95 ${ms(lag.p95Ms)} ms, max ${ms(lag.maxMs)} ms`);
    } catch (err) {
      fail('lag', message(err));
    }
  }

  const rate = (key: Row): number | undefined => {
    const samples = rows.get(key);
    return samples && samples.length > 0 && !errors.has(key) ? median(samples.map((m) => m.docs / m.seconds)) : undefined;
  };

  function ratio(): number | undefined {
    const imported = rate('import');
    const bulk = rate('bulk');
    return imported !== undefined && bulk !== undefined ? imported / bulk : undefined;
  }

  const verdict = (r: number | undefined): string => (r === undefined ? 'n/a' : r >= GOAL ? 'PASS' : 'MISS');

  function rowLines(rounds: number): string[] {
    const r = ratio();
    return [
      ...throughputLines(ROWS, rows, errors, rounds),
      `  Import / _bulk_docs (docs/s): ${r === undefined ? 'n/a' : `${(r * 100).toFixed(0)}%`}   (goal ${GOAL_TEXT}: ${verdict(r)})`,
    ];
  }

  function lagLines(rounds: number): string[] {
    const heading = `Steady external writes: ${int(s.steadyRate)} docs/s for ${steadySeconds.toFixed(1)} s (${int(s.steadyDocs)} docs, one transaction per ${STEADY_TICK_MS} ms), time from commit to _changes:`;
    const error = errors.get('lag');
    if (error !== undefined) return [heading, `  FAILED: ${error.split('\n')[0]}`];
    if (lags.length === 0) return [heading, '  not measured'];
    const pick = (f: (l: LagSample) => number): number => median(lags.map(f));
    const note = rounds > 1 ? ` (medians over ${lags.length} rounds)` : '';
    return [
      heading,
      `  write rate achieved ${int(pick((l) => l.writeRate))} docs/s; lag median ${ms(pick((l) => l.medianMs))} ms, p95 ${ms(pick((l) => l.p95Ms))} ms, max ${ms(pick((l) => l.maxMs))} ms; last document on _changes ${ms(pick((l) => l.drainMs))} ms after the last commit${note}`,
    ];
  }

  return {
    id: 'import',
    name: 'import',
    summary: [
      `import (Syncline only): ${int(s.docs)} docs inserted with SQL in transactions of ${s.transactionSize} until on _changes, against _bulk_docs of the same docs`,
      `import lag (Syncline only): ${int(s.steadyDocs)} docs at ${int(s.steadyRate)} docs/s; goal ${GOAL_TEXT}`,
    ],

    async run(target: HttpTarget, log) {
      round += 1;
      const admin = target.adminClient;
      if (!admin) {
        for (const row of ROWS) fail(row.key, 'needs the Syncline admin API: set BENCH_SYNCLINE_ADMIN_URL along with BENCH_SYNCLINE_URL');
        fail('lag', 'needs the Syncline admin API');
        return;
      }
      try {
        await measure(admin, log);
      } catch (err) {
        log(`import FAILED: ${message(err)}`);
        for (const row of ROWS) fail(row.key, message(err));
        if (lags.length < round) fail('lag', message(err));
      }
    },

    failAll(error) {
      for (const row of ROWS) if (!rows.has(row.key)) fail(row.key, error);
      if (lags.length === 0) fail('lag', error);
    },

    report(rounds) {
      return [
        'Import of direct writes (Syncline only; ratios against Syncline in the same run)',
        `The generator's docs (~${int(docBytes)} bytes of JSON), written by a separate better-sqlite3 connection on the server's SQLite file`,
        `(INSERT INTO documents (id, body), ${s.transactionSize} rows per transaction); "on _changes": listed by the admin feed (longpoll)`,
        ...rowLines(rounds),
        '',
        ...lagLines(rounds),
      ];
    },

    goalLines() {
      const r = ratio();
      return [`  ${verdict(r).padEnd(4)}  ${GOAL_TEXT.padEnd(34)} measured ${r === undefined ? 'not measured' : `${(r * 100).toFixed(0)}%`}`];
    },

    hasErrors() {
      return errors.size > 0;
    },
  };
}
