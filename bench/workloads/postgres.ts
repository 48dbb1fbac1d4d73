/**
 * Syncline-only section: PostgreSQL storage and clusters. PostgreSQL comes from BENCH_PG_URL / PG_URL or is
 * started here (bench/targets/postgres.ts); the section starts its own `syncline serve` processes on it, a fresh
 * PostgreSQL database per configuration, and stops them when the configuration is done.
 *
 *  - Raw baseline: the generated docs inserted with plain `pg` into `(id text primary key, body jsonb)`, no
 *    triggers, 100 rows per transaction, one connection.
 *  - `_bulk_docs` on one node (admin API, batches of 100), against the raw rate.
 *  - Import with 1 and with 2 import nodes, plus a client-only node (import_docs false) whose admin `_changes` is
 *    read: N docs inserted with SQL into `<schema>.documents` in transactions of 500, from the first INSERT until
 *    all N are on the client node's feed.
 *  - Write-to-visible latency: single-row INSERTs at a steady rate, each timed from its commit to its arrival on a
 *    continuous `_changes` feed of the client-only node.
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { track } from '../cleanup.ts';
import { averageSize, makeDocs } from '../docs.ts';
import { collectGarbage } from '../gc.ts';
import { postBulkDocs, type HttpClient } from '../http-client.ts';
import { median, throughputLines } from '../report.ts';
import type { Settings } from '../settings.ts';
import { startBenchPostgres, type BenchPostgres } from '../targets/postgres.ts';
import { startSynclineNode, type SynclineNode } from '../targets/syncline-node.ts';
import { Arrivals, updateSeq, watchLongpoll, type Watch } from './changes-watch.ts';
import { Progress, batches, type Log, type Measurement, type SynclineSection } from './common.ts';

/** The Syncline database of every node (and so the PostgreSQL schema: the default schema is the database name). */
export const PG_DB = 'pgbench';

const WARM_UP_DOCS = 500;
const IMPORT_COUNT_METRIC = 'sgw_shared_bucket_import_import_count';

type Row = 'raw' | 'bulk' | 'sql1' | 'import1' | 'sql2' | 'import2';
type Nodes = 1 | 2;
type Lat = 'lat1' | 'lat2';

const sqlRow = (nodes: Nodes): Row => (nodes === 1 ? 'sql1' : 'sql2');
const importRow = (nodes: Nodes): Row => (nodes === 1 ? 'import1' : 'import2');
const latRow = (nodes: Nodes): Lat => (nodes === 1 ? 'lat1' : 'lat2');
const nodesLabel = (nodes: Nodes): string => (nodes === 1 ? '1 import node' : '2 import nodes');

interface LatencySample {
  /** Write rate the app achieved, docs/s. */
  writeRate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => x.toFixed(x < 10 ? 1 : 0);
const pct = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(x * 100).toFixed(0)}%`);
const times = (x: number | undefined): string => (x === undefined ? 'n/a' : `${x.toFixed(2)}x`);
const sleep = (delay: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, delay));
const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** `[id, JSON body]` rows of the generator's docs, ids `${prefix}-N`. */
function rowsOf(seed: number, prefix: string, count: number, offset: number): Array<readonly [string, string]> {
  return makeDocs(seed, count, offset).map((doc, i) => [`${prefix}-${i}`, JSON.stringify(doc)] as const);
}

/** One app connection writing a table with plain SQL (a prepared INSERT, one statement per row). */
class SqlWriter {
  readonly #client: pg.Client;
  readonly #text: string;
  readonly #name: string;

  private constructor(client: pg.Client, table: string, name: string) {
    this.#client = client;
    this.#text = `INSERT INTO ${table} (id, body) VALUES ($1, $2)`;
    this.#name = name;
  }

  static async open(url: string, table: string, name: string): Promise<SqlWriter> {
    const client = new pg.Client({ connectionString: url });
    // A connection error outside a query (server stopped) must not crash the benchmark.
    client.on('error', () => {});
    await client.connect();
    return new SqlWriter(client, table, name);
  }

  query(sql: string): Promise<unknown> {
    return this.#client.query(sql);
  }

  /** One row, autocommit. */
  async insertOne(id: string, body: string): Promise<void> {
    await this.#client.query({ name: this.#name, text: this.#text, values: [id, body] });
  }

  /** One transaction. */
  async insert(rows: ReadonlyArray<readonly [string, string]>): Promise<void> {
    await this.#client.query('BEGIN');
    try {
      for (const [id, body] of rows) await this.#client.query({ name: this.#name, text: this.#text, values: [id, body] });
      await this.#client.query('COMMIT');
    } catch (err) {
      await this.#client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => {});
  }
}

/** Follows a `feed=continuous` admin `_changes` feed (one request, one JSON entry per line). */
function watchContinuous(admin: HttpClient, db: string, since: number | string, prefix: string, count: number, onSeen: (index: number, at: number) => void): Watch {
  let req: http.ClientRequest | undefined;
  let finish: ((error?: Error) => void) | undefined;
  const done = new Promise<number>((resolve, reject) => {
    const arrivals = new Arrivals(prefix, count, onSeen);
    let settled = false;
    const timer = setInterval(() => {
      if (arrivals.stalled(performance.now())) finish?.(arrivals.stallError(db, 'the continuous _changes feed'));
    }, 1_000);
    finish = (error) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      req?.destroy();
      if (error) reject(error);
      else resolve(arrivals.lastAt);
    };
    const url = `${admin.baseUrl}/${db}/_changes?feed=continuous&heartbeat=5000&timeout=900000&since=${encodeURIComponent(String(since))}`;
    req = http.get(url, { headers: { accept: 'application/json' } }, (res) => {
      if (res.statusCode !== 200) {
        finish?.(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let buffered = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line === '') continue;
          const entry = JSON.parse(line) as { id?: string };
          if (entry.id !== undefined && arrivals.see(entry.id, at) && arrivals.complete) finish?.();
        }
      });
      res.on('end', () => finish?.(new Error(`/${db}: the continuous _changes feed ended after ${int(arrivals.found)} of ${int(count)} documents`)));
      res.on('error', (err) => finish?.(err));
    });
    req.on('error', (err) => finish?.(err));
  });
  done.catch(() => {});
  return { done, stop: () => finish?.(new Error('stopped')) };
}

/** Documents a node has imported (its `import_count` metric for the database), or undefined if not found. */
async function importedBy(node: SynclineNode, db: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${node.metricsUrl}/_metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${IMPORT_COUNT_METRIC}{`) || !line.includes(`database="${db}"`)) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(value)) return value;
    }
  } catch {
    // Reported as unknown.
  }
  return undefined;
}

/** Stops every node, then reports the first that had died early (if any). */
async function stopAll(nodes: readonly SynclineNode[]): Promise<void> {
  const results = await Promise.allSettled([...nodes].reverse().map((node) => node.stop()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export function postgresSection(settings: Settings): SynclineSection {
  const s = settings.postgres;
  const size = settings.batchSize;
  const rows = new Map<Row, Measurement[]>();
  const latencies = new Map<Lat, LatencySample[]>();
  const errors = new Map<Row | Lat, string>();
  /** Share of the last round's imports done by each importer of the 2-node cluster. */
  let split: string | undefined;
  const docBytes = averageSize(makeDocs(settings.seed, 200, 9_000_000));
  let round = 0;
  let server: BenchPostgres | undefined;
  let serverError: string | undefined;
  let dir: string | undefined;

  const add = (key: Row, m: Measurement): void => void rows.set(key, [...(rows.get(key) ?? []), m]);
  const addLatency = (key: Lat, l: LatencySample): void => void latencies.set(key, [...(latencies.get(key) ?? []), l]);
  const fail = (key: Row | Lat, error: string): void => void (errors.has(key) || errors.set(key, error));

  const rowDefs: ReadonlyArray<{ key: Row; label: string }> = [
    { key: 'raw', label: `raw pg INSERT, plain table, no triggers (${s.rawTransactionSize} rows/tx)` },
    { key: 'bulk', label: `_bulk_docs, 1 node (admin API, batches of ${size})` },
    { key: 'sql1', label: `SQL INSERT into documents, ${s.transactionSize} rows/tx (commits only), 1 import node` },
    { key: 'import1', label: 'import, 1 import node: first INSERT to all on client _changes' },
    { key: 'sql2', label: `SQL INSERT into documents, ${s.transactionSize} rows/tx (commits only), 2 import nodes` },
    { key: 'import2', label: 'import, 2 import nodes: first INSERT to all on client _changes' },
  ];

  function tempDir(): string {
    if (dir) return dir;
    const made = mkdtempSync(path.join(os.tmpdir(), 'syncline-bench-pg-nodes-'));
    const remove = (): void => rmSync(made, { recursive: true, force: true });
    track({ name: `temp dir ${made}`, close: () => Promise.resolve(remove()), closeSync: remove });
    dir = made;
    return made;
  }

  async function postgres(log: Log): Promise<BenchPostgres> {
    if (server) return server;
    if (serverError !== undefined) throw new Error(serverError);
    try {
      server = await startBenchPostgres(log);
    } catch (err) {
      serverError = message(err);
      throw err;
    }
    log(server.description);
    return server;
  }

  /** Runs `body` on a fresh PostgreSQL database, dropped afterwards. */
  async function withDatabase<T>(pgs: BenchPostgres, prefix: string, body: (url: string) => Promise<T>): Promise<T> {
    const url = await pgs.createDatabase(prefix);
    try {
      return await body(url);
    } finally {
      await pgs.dropDatabase(url).catch(() => {});
    }
  }

  /** Raw baseline: the docs into a plain table with one `pg` connection, `rawTransactionSize` rows per transaction. */
  async function rawInsert(pgs: BenchPostgres, log: Log): Promise<Measurement> {
    return withDatabase(pgs, 'syncline_bench_raw', async (url) => {
      const writer = await SqlWriter.open(url, 'docs', 'raw-insert');
      try {
        await writer.query('CREATE TABLE docs (id text PRIMARY KEY, body jsonb)');
        // Unmeasured: prepares the statement and warms the client.
        for (const group of batches(rowsOf(settings.seed, 'warm', WARM_UP_DOCS, 9_900_000), s.rawTransactionSize)) await writer.insert(group);
        const groups = batches(rowsOf(settings.seed, 'raw', s.bulkDocs, 9_000_000), s.rawTransactionSize);
        collectGarbage();
        const progress = new Progress(log, 'raw pg INSERT (plain table)', s.bulkDocs);
        let done = 0;
        for (const group of groups) {
          await writer.insert(group);
          done += group.length;
          progress.update(done);
        }
        return progress.finish(done);
      } finally {
        await writer.close();
      }
    });
  }

  async function bulkWrite(admin: HttpClient, prefix: string, count: number, offset: number, log: Log | undefined): Promise<Measurement> {
    const groups = batches(
      makeDocs(settings.seed, count, offset).map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc })),
      size,
    );
    const progress = new Progress(log ?? (() => {}), `_bulk_docs /${PG_DB} (1 node)`, count);
    let done = 0;
    for (const group of groups) {
      await postBulkDocs(admin, PG_DB, group);
      done += group.length;
      progress.update(done);
    }
    return progress.finish(done);
  }

  /** `_bulk_docs` on one node of a fresh database. */
  async function bulkOnOneNode(pgs: BenchPostgres, log: Log): Promise<Measurement> {
    return withDatabase(pgs, 'syncline_bench_bulk', async (url) => {
      const node = await startSynclineNode({
        name: `r${round}-bulk`,
        dir: tempDir(),
        db: PG_DB,
        server: url,
        importDocs: true,
        poolSize: s.poolSize,
      });
      let result: Measurement | undefined;
      try {
        log(`_bulk_docs: node started (pid ${node.pid})`);
        await bulkWrite(node.adminClient, 'warm', WARM_UP_DOCS, 9_900_000, undefined);
        collectGarbage();
        result = await bulkWrite(node.adminClient, 'bulk', s.bulkDocs, 9_000_000, log);
      } finally {
        await stopAll([node]);
      }
      return result;
    });
  }

  /** Inserts `count` docs in transactions and waits until all are on the client node's `_changes`; returns [commits, import]. */
  async function importWrite(client: HttpClient, app: SqlWriter, prefix: string, count: number, offset: number, log: Log | undefined, what: string): Promise<[Measurement, Measurement]> {
    const bodies = rowsOf(settings.seed, prefix, count, offset);
    const since = await updateSeq(client, PG_DB);
    const visible = new Progress(log ?? (() => {}), `import (${what}): on the client node's _changes`, count);
    let seen = 0;
    const watch = watchLongpoll(client, PG_DB, since, prefix, count, () => visible.update(++seen));
    try {
      const started = performance.now();
      for (const group of batches(bodies, s.transactionSize)) await app.insert(group);
      const sql = { docs: count, seconds: (performance.now() - started) / 1000 };
      log?.(`SQL INSERT into ${PG_DB}.documents (${what}): ${int(count)} docs committed in ${sql.seconds.toFixed(2)} s = ${int(count / sql.seconds)} docs/s`);
      await watch.done;
      return [sql, visible.finish(count)];
    } finally {
      watch.stop();
    }
  }

  /** Single-row INSERTs at a steady rate; each doc is timed from its commit to its arrival on a continuous feed. */
  async function steadyWrite(client: HttpClient, app: SqlWriter, what: string, log: Log): Promise<LatencySample> {
    const count = s.latencyDocs;
    const bodies = rowsOf(settings.seed, 'steady', count, 9_500_000);
    const committedAt = new Float64Array(count);
    const visibleAt = new Float64Array(count);
    const since = await updateSeq(client, PG_DB);
    const visible = new Progress(log, `steady ${int(s.latencyRate)} INSERTs/s (${what}): on the client node's continuous _changes`, count);
    let seen = 0;
    const watch = watchContinuous(client, PG_DB, since, 'steady', count, (index, at) => {
      visibleAt[index] = at;
      visible.update(++seen);
    });
    try {
      const interval = 1000 / s.latencyRate;
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        const wait = started + i * interval - performance.now();
        if (wait > 1) await sleep(wait);
        const [id, body] = bodies[i]!;
        await app.insertOne(id, body);
        committedAt[i] = performance.now();
      }
      const lastCommit = performance.now();
      await watch.done;
      visible.finish(count);
      // A doc can show up on the feed before the app has read its own COMMIT's reply: that counts as 0.
      const lag = visibleAt.map((v, i) => Math.max(0, v - committedAt[i]!)).sort();
      return {
        writeRate: count / ((lastCommit - started) / 1000),
        p50Ms: percentile(lag, 0.5),
        p99Ms: percentile(lag, 0.99),
        maxMs: lag[lag.length - 1]!,
      };
    } finally {
      watch.stop();
    }
  }

  /** `nodes` import nodes and a client-only node on a fresh database: import throughput, then latency. */
  async function importCluster(pgs: BenchPostgres, nodes: Nodes, log: Log): Promise<void> {
    const what = nodesLabel(nodes);
    const shortName = (node: SynclineNode): string => node.name.replace(/^r\d+-\dn-/, '');
    await withDatabase(pgs, `syncline_bench_import${nodes}`, async (url) => {
      const started: SynclineNode[] = [];
      const start = async (name: string, importDocs: boolean): Promise<SynclineNode> => {
        const node = await startSynclineNode({ name: `r${round}-${nodes}n-${name}`, dir: tempDir(), db: PG_DB, server: url, importDocs, poolSize: s.poolSize });
        started.push(node);
        return node;
      };
      let app: SqlWriter | undefined;
      try {
        // The first node creates the schema; the others then join it together.
        const importers = [await start('importer-1', true)];
        const others = await Promise.allSettled([...(nodes === 2 ? [start('importer-2', true)] : []), start('client', false)]);
        for (const result of others) if (result.status === 'rejected') throw result.reason;
        const client = started.find((n) => n.name.endsWith('-client'))!;
        importers.push(...started.filter((n) => n !== client && !importers.includes(n)));
        log(`${what}: ${started.map((n) => `${shortName(n)} (pid ${n.pid})`).join(', ')} on PostgreSQL database ${new URL(url).pathname.slice(1)}`);
        app = await SqlWriter.open(url, `${quoteIdent(PG_DB)}.documents`, 'app-insert');

        // Unmeasured: the first imports prepare statements and warm the JIT of every node.
        await importWrite(client.adminClient, app, 'warm', WARM_UP_DOCS, 9_900_000, undefined, what);
        const before = await Promise.all(importers.map((n) => importedBy(n, PG_DB)));
        collectGarbage();
        const [sql, imported] = await importWrite(client.adminClient, app, 'sql', s.importDocs, 9_000_000, log, what);
        add(sqlRow(nodes), sql);
        add(importRow(nodes), imported);
        if (nodes === 2) {
          const after = await Promise.all(importers.map((n) => importedBy(n, PG_DB)));
          const counts = after.map((a, i) => (a === undefined || before[i] === undefined ? undefined : a - before[i]));
          split = counts.every((c) => c !== undefined)
            ? importers.map((n, i) => `${shortName(n)} ${int(counts[i]!)}`).join(', ')
            : 'unknown (no import_count metric)';
          log(`${what}: documents imported per node: ${split}`);
        }

        collectGarbage();
        const lat = await steadyWrite(client.adminClient, app, what, log);
        addLatency(latRow(nodes), lat);
        log(`steady (${what}): wrote ${int(lat.writeRate)} docs/s; commit to client _changes p50 ${ms(lat.p50Ms)} ms, p99 ${ms(lat.p99Ms)} ms, max ${ms(lat.maxMs)} ms`);
      } finally {
        await app?.close();
        await stopAll(started);
      }
    });
  }

  async function measure(log: Log): Promise<void> {
    const pgs = await postgres(log);
    const clusters: Array<{ keys: ReadonlyArray<Row | Lat>; run: () => Promise<void> }> = [
      { keys: ['sql1', 'import1', 'lat1'], run: () => importCluster(pgs, 1, log) },
      { keys: ['sql2', 'import2', 'lat2'], run: () => importCluster(pgs, 2, log) },
    ];
    const phases: Array<{ keys: ReadonlyArray<Row | Lat>; run: () => Promise<void> }> = [
      { keys: ['raw'], run: async () => add('raw', await rawInsert(pgs, log)) },
      { keys: ['bulk'], run: async () => add('bulk', await bulkOnOneNode(pgs, log)) },
      // The two cluster sizes alternate going first from round to round.
      ...(round % 2 === 1 ? clusters : [...clusters].reverse()),
    ];
    for (const phase of phases) {
      collectGarbage();
      try {
        await phase.run();
      } catch (err) {
        log(`postgres: ${phase.keys.join('/')} FAILED: ${message(err)}`);
        for (const key of phase.keys) {
          const measuredThisRound = key.startsWith('lat') ? (latencies.get(key as Lat)?.length ?? 0) >= round : (rows.get(key as Row)?.length ?? 0) >= round;
          if (!measuredThisRound) fail(key, message(err));
        }
      }
    }
  }

  const rate = (key: Row): number | undefined => {
    const samples = rows.get(key);
    return samples && samples.length > 0 && !errors.has(key) ? median(samples.map((m) => m.docs / m.seconds)) : undefined;
  };
  const ratio = (a: Row, b: Row): number | undefined => {
    const x = rate(a);
    const y = rate(b);
    return x !== undefined && y !== undefined ? x / y : undefined;
  };

  function latencyLines(rounds: number): string[] {
    const lines = [
      `Write-to-visible latency: single-row INSERTs (autocommit) at ${int(s.latencyRate)}/s, ${int(s.latencyDocs)} docs, each timed from its commit to its arrival on the client-only node's continuous _changes feed:`,
    ];
    for (const nodes of [1, 2] as const) {
      const key = latRow(nodes);
      const error = errors.get(key);
      const label = `  ${nodesLabel(nodes)} + client node:`.padEnd(34);
      if (error !== undefined) {
        lines.push(`${label} FAILED: ${error.split('\n')[0]}`);
        continue;
      }
      const samples = latencies.get(key) ?? [];
      if (samples.length === 0) {
        lines.push(`${label} not measured`);
        continue;
      }
      const pick = (f: (l: LatencySample) => number): number => median(samples.map(f));
      const note = rounds > 1 ? ` (medians over ${samples.length} rounds)` : '';
      lines.push(`${label} p50 ${ms(pick((l) => l.p50Ms))} ms, p99 ${ms(pick((l) => l.p99Ms))} ms, max ${ms(pick((l) => l.maxMs))} ms; write rate achieved ${int(pick((l) => l.writeRate))}/s${note}`);
    }
    return lines;
  }

  return {
    id: 'postgres',
    name: 'postgres',
    summary: [
      `postgres (Syncline only): raw pg INSERT and _bulk_docs of ${int(s.bulkDocs)} docs; import of ${int(s.importDocs)} SQL-inserted docs (transactions of ${s.transactionSize}) with 1 and 2 import nodes + a client-only node`,
      `postgres latency (Syncline only): ${int(s.latencyDocs)} single-row INSERTs at ${int(s.latencyRate)}/s, commit to the client node's _changes`,
    ],

    async run(_target, log) {
      round += 1;
      try {
        await measure(log);
      } catch (err) {
        log(`postgres FAILED: ${message(err)}`);
        for (const row of rowDefs) if ((rows.get(row.key)?.length ?? 0) < round) fail(row.key, message(err));
        for (const key of ['lat1', 'lat2'] as const) if ((latencies.get(key)?.length ?? 0) < round) fail(key, message(err));
      }
    },

    failAll(error) {
      for (const row of rowDefs) if (!rows.has(row.key)) fail(row.key, error);
      for (const key of ['lat1', 'lat2'] as const) if (!latencies.has(key)) fail(key, error);
    },

    report(rounds) {
      const raw = ratio('import1', 'raw');
      return [
        `PostgreSQL storage and clusters (Syncline only; ${server?.description ?? 'PostgreSQL not started'})`,
        `The generator's docs (~${int(docBytes)} bytes of JSON); each configuration on a fresh PostgreSQL database with its own Syncline nodes`,
        `(pool_size ${s.poolSize}); the app writes "${PG_DB}".documents with one pg connection, one prepared INSERT per row; "on client _changes":`,
        `listed by the admin feed (longpoll) of a node with import_docs false`,
        ...throughputLines(rowDefs, rows, errors, rounds),
        `  _bulk_docs / raw INSERT: ${pct(ratio('bulk', 'raw'))}; SQL INSERT into documents (triggers) / raw INSERT: ${pct(ratio('sql1', 'raw'))} (1 import node), ${pct(ratio('sql2', 'raw'))} (2)`,
        `  import / raw INSERT: ${pct(raw)} (1 import node), ${pct(ratio('import2', 'raw'))} (2 import nodes); import 2 nodes / 1 node: ${times(ratio('import2', 'import1'))}`,
        ...(split === undefined ? [] : [`  documents imported per node with 2 import nodes (last round): ${split}`]),
        '',
        ...latencyLines(rounds),
      ];
    },

    hasErrors() {
      return errors.size > 0;
    },
  };
}
