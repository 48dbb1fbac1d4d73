/**
 * Syncline-only section: server-to-server replication (Sync Gateway ISGR-style, packages/server/src/replication/s2s/),
 * between two `syncline serve` nodes A and B that this section starts itself (a temp dir per round, SQLite files,
 * GUEST open, console log level `warn`) and stops when the round is done.
 *
 *  - Throughput: N docs written to A with `_bulk_docs`, then a one-shot push A -> B (`POST /{db}/_replicate` on A)
 *    and a one-shot pull into a fresh database of B from A (`POST /{db}/_replicate` on B), each timed from the
 *    request until it answers; the reference is `_bulk_docs` of the same docs into B in the same round.
 *  - Catch-up after a partition: a continuous pushAndPull defined on A (`PUT /{db}/_replication/{id}`) with B. B is
 *    stopped (SIGTERM) and runs cut off from A (on other ports, same data) while both sides take writes at a steady
 *    rate (new docs, and updates of docs both had); then B is stopped again and restarted on its own ports, and
 *    the clock runs from B listening again until both sides hold every document with the same current revision.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { track } from '../cleanup.ts';
import { averageSize, makeDoc, makeDocs } from '../docs.ts';
import { collectGarbage } from '../gc.ts';
import { HttpClient, describeFailure } from '../http-client.ts';
import { median, throughputLines } from '../report.ts';
import { REPO_ROOT, type Settings } from '../settings.ts';
import { freePort, logTail, spawnServer, waitForHttp, type Child } from '../targets/child-process.ts';
import { OPEN_GUEST, docCount } from './blip-common.ts';
import { Progress, batches, type Log, type Measurement, type SynclineSection } from './common.ts';

/** Databases of node A and of node B (every round starts fresh nodes in a fresh temp dir). */
const A_DBS = ['src', 'warm', 'catchup'] as const;
const B_DBS = ['push', 'pull', 'bulk', 'warm', 'warm_pull', 'catchup'] as const;
const CATCHUP_DB = 'catchup';
const CATCHUP_ID = 'catchup';
const WARM_UP_DOCS = 500;
/** A one-shot replication, or the catch-up, that moves no document for this long is stopped and failed. */
const STALL_MS = 60_000;
/** How often the catch-up checks both sides. */
const POLL_MS = 200;
/** Docs checked revision by revision on both sides after the catch-up, per kind. */
const SAMPLE = 50;

type Row = 'bulk' | 'push' | 'pull' | 'catchup' | 'transfer';

interface CatchUpDetail {
  partitionSeconds: number;
  writesA: number;
  writesB: number;
  newDocs: number;
  updates: number;
  /** Shared docs updated on both sides during the partition. */
  conflicting: number;
  totalDocs: number;
  startupSeconds: number;
  reconnectSeconds: number | undefined;
  pushed: number;
  pulled: number;
  conflictsResolved: number;
  writeConflicts: number;
  sampleChecked: number;
  initialSyncSeconds: number;
}

interface ReplicationStatus {
  replication_id?: string;
  status?: string;
  docs_written?: number;
  docs_read?: number;
  doc_write_failures?: number;
  doc_write_conflict?: number;
  conflicts_resolved?: number;
  last_error?: string | null;
}

interface Ports {
  port: number;
  adminPort: number;
  metricsPort: number;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const sec = (x: number): string => x.toFixed(x < 10 ? 2 : 1);
const pct = (x: number | undefined): string => (x === undefined ? 'n/a' : `${(x * 100).toFixed(0)}%`);
const sleep = (delay: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, delay));
const generation = (rev: string): number => Number.parseInt(rev, 10);

/** One `syncline serve` process on SQLite files in `dir`; it can be stopped and started again on the same files. */
class ReplNode {
  readonly name: string;
  readonly #dir: string;
  readonly #dbs: readonly string[];
  readonly ports: Ports;
  #child: Child | undefined;
  #admin: HttpClient | undefined;

  private constructor(name: string, dir: string, dbs: readonly string[], ports: Ports) {
    this.name = name;
    this.#dir = dir;
    this.#dbs = dbs;
    this.ports = ports;
  }

  static async start(name: string, dir: string, dbs: readonly string[]): Promise<ReplNode> {
    const node = new ReplNode(name, dir, dbs, await freshPorts());
    await node.start();
    return node;
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get admin(): HttpClient {
    if (!this.#admin) throw new Error(`node ${this.name} is not running`);
    return this.#admin;
  }

  /** The public BLIP URL of one of its databases, as a replication's `remote`. */
  remote(db: string): string {
    return `ws://127.0.0.1:${this.ports.port}/${db}`;
  }

  /** Starts the process (on its own ports, or on `ports`, e.g. to run it cut off from its peers); resolves once it answers. */
  async start(ports: Ports = this.ports, label = this.name): Promise<void> {
    if (this.#child) throw new Error(`node ${this.name} is already running`);
    const bin = path.join(REPO_ROOT, 'packages', 'server', 'bin', 'syncline.js');
    const config = {
      interface: `127.0.0.1:${ports.port}`,
      adminInterface: `127.0.0.1:${ports.adminPort}`,
      metricsInterface: `127.0.0.1:${ports.metricsPort}`,
      logging: { console: { log_level: 'warn' } },
      databases: Object.fromEntries(this.#dbs.map((db) => [db, { server: `sqlite:${path.join(this.#dir, `${this.name}-${db}.sqlite`)}`, ...OPEN_GUEST }])),
    };
    const configPath = path.join(this.#dir, `${label}.json`);
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const logPath = path.join(this.#dir, `${this.name}.log`);
    const child = spawnServer(`Syncline replication node ${label}`, process.execPath, [bin, 'serve', '--config', configPath], { cwd: REPO_ROOT, logPath });
    const admin = new HttpClient(`http://127.0.0.1:${ports.adminPort}`);
    try {
      await waitForHttp(`http://127.0.0.1:${ports.port}/`, child);
      for (const db of this.#dbs) await waitForHttp(`${admin.baseUrl}/${db}/`, child, 30_000);
    } catch (err) {
      admin.close();
      await child.stop();
      throw err;
    }
    this.#child = child;
    this.#admin = admin;
  }

  /** SIGTERM (SIGKILL after 5 s); throws if the process had died on its own before. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    this.#admin?.close();
    this.#admin = undefined;
    const exit = child.exitCode();
    await child.stop();
    if (exit !== null) throw new Error(`${child.name} had exited (${exit}) before it was stopped:\n${logTail(child.logPath, 10)}`);
  }
}

async function freshPorts(): Promise<Ports> {
  return { port: await freePort(), adminPort: await freePort(), metricsPort: await freePort() };
}

interface BulkResult {
  id?: string;
  rev?: string;
  error?: string;
  reason?: string;
}

/** One `_bulk_docs` request; returns the new revision of every doc and throws if one was refused. */
async function bulkWrite(admin: HttpClient, db: string, docs: readonly Record<string, unknown>[]): Promise<Map<string, string>> {
  const reqPath = `/${db}/_bulk_docs`;
  const res = await admin.request('POST', reqPath, JSON.stringify({ docs }));
  if (res.status !== 201 && res.status !== 200) throw describeFailure('POST', reqPath, res);
  const results = JSON.parse(res.text) as BulkResult[];
  const revs = new Map<string, string>();
  for (const r of results) {
    if (r.error !== undefined || r.id === undefined || r.rev === undefined) throw new Error(`POST ${reqPath}: ${r.id ?? '?'} refused: ${r.error ?? ''} ${r.reason ?? ''}`);
    revs.set(r.id, r.rev);
  }
  if (revs.size !== docs.length) throw new Error(`POST ${reqPath}: ${revs.size} results for ${docs.length} docs`);
  return revs;
}

/** Current revision of every doc (`_all_docs` on the admin API). */
async function allRevs(admin: HttpClient, db: string): Promise<Map<string, string>> {
  const res = await admin.json<{ rows?: Array<{ id: string; value?: { rev?: string } }> }>('GET', `/${db}/_all_docs`);
  if (res.status !== 200) throw new Error(`GET /${db}/_all_docs: HTTP ${res.status}`);
  return new Map((res.data.rows ?? []).map((row) => [row.id, row.value?.rev ?? '']));
}

async function replicationStatus(admin: HttpClient, db: string, id: string): Promise<ReplicationStatus> {
  const res = await admin.json<ReplicationStatus>('GET', `/${db}/_replicationStatus/${id}`);
  if (res.status !== 200) throw new Error(`GET /${db}/_replicationStatus/${id}: HTTP ${res.status} ${JSON.stringify(res.data).slice(0, 200)}`);
  return res.data;
}

export function replicationSection(settings: Settings): SynclineSection {
  const s = settings.replication;
  const size = settings.batchSize;
  const rows = new Map<Row, Measurement[]>();
  const errors = new Map<Row, string>();
  let detail: CatchUpDetail | undefined;
  const docBytes = averageSize(makeDocs(settings.seed, 200, 7_000_000));
  let round = 0;
  let rootDir: string | undefined;

  const add = (key: Row, m: Measurement): void => void rows.set(key, [...(rows.get(key) ?? []), m]);
  const fail = (key: Row, error: string): void => void (errors.has(key) || errors.set(key, error));
  const measured = (key: Row): boolean => (rows.get(key)?.length ?? 0) >= round;

  const rowDefs: ReadonlyArray<{ key: Row; label: string }> = [
    { key: 'bulk', label: `_bulk_docs into B (reference; admin API, batches of ${size})` },
    { key: 'push', label: 'one-shot push A -> B (POST /src/_replicate on A)' },
    { key: 'pull', label: 'one-shot pull into B from A (POST /pull/_replicate on B)' },
  ];
  const catchUpDefs: ReadonlyArray<{ key: Row; label: string }> = [
    { key: 'catchup', label: 'catch-up: B listening again to both sides equal' },
    { key: 'transfer', label: "transfer: A's replication running again to equal" },
  ];

  function tempDir(): string {
    if (!rootDir) {
      const made = mkdtempSync(path.join(os.tmpdir(), 'syncline-bench-repl-'));
      const remove = (): void => rmSync(made, { recursive: true, force: true });
      track({ name: `temp dir ${made}`, close: () => Promise.resolve(remove()), closeSync: remove });
      rootDir = made;
    }
    const dir = path.join(rootDir, `round-${round}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** `count` generator docs with ids `${prefix}-N` (the same bodies for the same offset). */
  const docsOf = (prefix: string, count: number, offset: number): Array<Record<string, unknown>> =>
    makeDocs(settings.seed, count, offset).map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc }));

  async function load(admin: HttpClient, db: string, docs: ReadonlyArray<Record<string, unknown>>, progress: Progress | undefined): Promise<void> {
    let done = 0;
    for (const group of batches(docs, size)) {
      await bulkWrite(admin, db, group);
      done += group.length;
      progress?.update(done);
    }
  }

  /**
   * A one-shot `POST /{db}/_replicate` on `runner`, timed to its answer, while the doc count of `target`/`targetDb`
   * is polled for progress lines and a stall watchdog (which stops the replication).
   */
  async function oneShot(
    runner: ReplNode,
    db: string,
    body: Record<string, unknown>,
    target: ReplNode,
    targetDb: string,
    expected: number,
    what: string,
    log: Log | undefined,
  ): Promise<Measurement> {
    const id = String(body.replication_id);
    const progress = new Progress(log ?? (() => {}), what, expected);
    let finished = false;
    let stallError: Error | undefined;
    const watch = (async () => {
      let last = -1;
      let lastChange = performance.now();
      while (!finished) {
        await sleep(500);
        if (finished) return;
        const count = await docCount(target.admin, targetDb).catch(() => last);
        if (count !== last) {
          last = count;
          lastChange = performance.now();
          progress.update(count);
        } else if (performance.now() - lastChange > STALL_MS) {
          stallError = new Error(`${what}: stalled, ${int(count)} of ${int(expected)} docs after no progress for ${STALL_MS / 1000} s; replication stopped`);
          await runner.admin.request('PUT', `/${db}/_replicationStatus/${id}?action=stop`).catch(() => {});
          return;
        }
      }
    })();
    let res: { status: number; data: ReplicationStatus };
    try {
      res = await runner.admin.json<ReplicationStatus>('POST', `/${db}/_replicate`, body);
    } finally {
      finished = true;
      await watch;
    }
    const result = progress.finish(expected);
    if (stallError) throw stallError;
    const status = res.data;
    if (res.status !== 200) throw new Error(`${what}: POST /${db}/_replicate: HTTP ${res.status} ${JSON.stringify(status).slice(0, 300)}`);
    if (status.status !== 'stopped' || status.last_error) throw new Error(`${what}: ended "${status.status}": ${status.last_error ?? 'no error message'}`);
    const moved = body.direction === 'push' ? status.docs_written : status.docs_read;
    const count = await docCount(target.admin, targetDb);
    if (count !== expected || moved !== expected || (status.doc_write_failures ?? 0) > 0) {
      throw new Error(`${what}: /${targetDb} holds ${int(count)} docs, status reports ${int(moved ?? -1)} moved and ${status.doc_write_failures ?? '?'} failures; expected ${int(expected)}`);
    }
    return result;
  }

  /** Throughput: one-shot push and pull of the docs on A, and `_bulk_docs` of the same docs into B. */
  async function throughput(a: ReplNode, b: ReplNode, log: Log): Promise<void> {
    // Unmeasured: the first replications and writes warm both processes.
    await load(a.admin, 'warm', docsOf('warm', WARM_UP_DOCS, 7_900_000), undefined);
    await oneShot(a, 'warm', { remote: b.remote('warm'), direction: 'push', replication_id: `warm-push-${round}` }, b, 'warm', WARM_UP_DOCS, 'warm-up push', undefined);
    await oneShot(b, 'warm_pull', { remote: a.remote('warm'), direction: 'pull', replication_id: `warm-pull-${round}` }, b, 'warm_pull', WARM_UP_DOCS, 'warm-up pull', undefined);
    await load(b.admin, 'warm', docsOf('warmb', WARM_UP_DOCS, 7_950_000), undefined);

    const docs = docsOf('doc', s.docs, 7_000_000);
    await load(a.admin, 'src', docs, new Progress(log, 'loading /src on A (_bulk_docs, not measured)', s.docs));
    log(`A holds ${int(await docCount(a.admin, 'src'))} docs in /src`);

    const phases: Array<{ key: Row; run: () => Promise<Measurement> }> = [
      {
        key: 'push',
        run: () =>
          oneShot(a, 'src', { remote: b.remote('push'), direction: 'push', replication_id: `bench-push-${round}` }, b, 'push', s.docs, 'one-shot push A/src -> B/push', log),
      },
      {
        key: 'pull',
        run: () =>
          oneShot(b, 'pull', { remote: a.remote('src'), direction: 'pull', replication_id: `bench-pull-${round}` }, b, 'pull', s.docs, 'one-shot pull A/src -> B/pull (on B)', log),
      },
      {
        key: 'bulk',
        run: async () => {
          const progress = new Progress(log, '_bulk_docs of the same docs into B/bulk', s.docs);
          await load(b.admin, 'bulk', docs, progress);
          return progress.finish(s.docs);
        },
      },
    ];
    // The replications and the reference alternate going first from round to round.
    for (const phase of round % 2 === 1 ? phases : [...phases].reverse()) {
      collectGarbage();
      try {
        add(phase.key, await phase.run());
      } catch (err) {
        log(`replication: ${phase.key} FAILED: ${message(err)}`);
        fail(phase.key, message(err));
      }
    }
  }

  /** The partition's steady writers: each side writes new docs and updates of the shared docs it knows. */
  function sideWriter(name: 'A' | 'B', revs: Map<string, string>, offset: number, stride: number) {
    let written = 0;
    let newDocs = 0;
    let updates = 0;
    const updated = new Map<string, number>();
    const created: string[] = [];
    return {
      get written() {
        return written;
      },
      get newDocs() {
        return newDocs;
      },
      get updates() {
        return updates;
      },
      updated,
      created,
      /** The next `count` writes, as one `_bulk_docs` body. */
      next(count: number): Array<Record<string, unknown>> {
        const batch: Array<Record<string, unknown>> = [];
        const inBatch = new Set<string>();
        for (let i = 0; i < count; i++) {
          const k = written + i;
          const body = makeDoc(settings.seed, offset + k);
          // The u-th update of a side goes to shared doc (u * stride + shift) mod sharedDocs: both sides update some
          // of the same docs (conflicts), and some docs more than once.
          const u = Math.floor(k / s.updateEvery);
          const shared = `shared-${(u * stride + (name === 'A' ? 0 : 1)) % s.sharedDocs}`;
          if ((k + 1) % s.updateEvery === 0 && !inBatch.has(shared)) {
            inBatch.add(shared);
            batch.push({ _id: shared, _rev: revs.get(shared), ...body, edited_on: name });
          } else {
            batch.push({ _id: `${name.toLowerCase()}-new-${k}`, ...body });
          }
        }
        return batch;
      },
      done(batch: ReadonlyArray<Record<string, unknown>>, result: Map<string, string>): void {
        for (const doc of batch) {
          const id = doc._id as string;
          revs.set(id, result.get(id)!);
          if (doc._rev === undefined) {
            newDocs += 1;
            created.push(id);
          } else {
            updates += 1;
            updated.set(id, (updated.get(id) ?? 0) + 1);
          }
        }
        written += batch.length;
      },
    };
  }

  /** Catch-up after a partition of B, with a continuous pushAndPull on A. */
  async function catchUp(a: ReplNode, b: ReplNode, log: Log): Promise<void> {
    // Both sides start with the shared docs, replicated by the continuous replication itself.
    const shared = docsOf('shared', s.sharedDocs, 7_500_000);
    const revsA = new Map<string, string>();
    for (const group of batches(shared, size)) for (const [id, rev] of await bulkWrite(a.admin, CATCHUP_DB, group)) revsA.set(id, rev);
    const definition = { remote: b.remote(CATCHUP_DB), direction: 'pushAndPull', continuous: true };
    const put = await a.admin.request('PUT', `/${CATCHUP_DB}/_replication/${CATCHUP_ID}`, JSON.stringify(definition));
    if (put.status !== 201 && put.status !== 200) throw describeFailure('PUT', `/${CATCHUP_DB}/_replication/${CATCHUP_ID}`, put);
    const initialStart = performance.now();
    const initial = new Progress(log, `continuous pushAndPull on A: initial sync of ${int(s.sharedDocs)} shared docs to B`, s.sharedDocs);
    for (;;) {
      const count = await docCount(b.admin, CATCHUP_DB);
      initial.update(count);
      if (count >= s.sharedDocs) break;
      if (performance.now() - initialStart > STALL_MS) throw new Error(`initial sync: B has ${int(count)} of ${int(s.sharedDocs)} shared docs after ${STALL_MS / 1000} s`);
      await sleep(100);
    }
    const initialSyncSeconds = initial.finish(s.sharedDocs).seconds;
    const revsB = await allRevs(b.admin, CATCHUP_DB);
    for (const [id, rev] of revsA) if (revsB.get(id) !== rev) throw new Error(`initial sync: ${id} is ${revsB.get(id) ?? 'missing'} on B, ${rev} on A`);
    await sleep(500);
    const before = await replicationStatus(a.admin, CATCHUP_DB, CATCHUP_ID);

    // The partition: B stops, then runs on other ports (its replication peer A cannot reach it) and takes writes.
    await b.stop();
    const isolated = await freshPorts();
    await b.start(isolated, `${b.name}-cut-off`);
    log(`partition: B stopped (SIGTERM) and restarted cut off from A (pid ${b.pid}, port ${isolated.port}); ${s.partitionSeconds} s of writes at ${s.writeRate} docs/s on each side`);
    const writerA = sideWriter('A', revsA, 7_600_000, 7);
    const writerB = sideWriter('B', revsB, 7_700_000, 11);
    const total = Math.round(s.partitionSeconds * s.writeRate);
    const writes = new Progress(log, 'partition writes (each side)', total);
    const started = performance.now();
    for (;;) {
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(total, Math.floor(elapsed * s.writeRate));
      const tasks: Array<Promise<void>> = [];
      for (const [writer, node] of [[writerA, a], [writerB, b]] as const) {
        if (due <= writer.written) continue;
        const batch = writer.next(due - writer.written);
        tasks.push(bulkWrite(node.admin, CATCHUP_DB, batch).then((result) => writer.done(batch, result)));
      }
      await Promise.all(tasks);
      writes.update(Math.min(writerA.written, writerB.written));
      if (writerA.written >= total && writerB.written >= total) break;
      await sleep(Math.max(1, started + ((Math.min(writerA.written, writerB.written) + 1) / s.writeRate) * 1000 - performance.now()));
    }
    writes.finish(total);
    await b.stop();

    // Expected end state: every doc of either side; the shared docs updated on both sides are conflicts.
    const expected = new Set<string>([...revsA.keys(), ...revsB.keys()]);
    const conflicting = [...writerA.updated.keys()].filter((id) => writerB.updated.has(id));
    const transfers = writerA.written + writerB.written;

    // B comes back on its own ports: A's replication reconnects (after its retry backoff) and both catch up.
    const restart = performance.now();
    await b.start();
    const up = performance.now();
    const startupSeconds = (up - restart) / 1000;
    log(`B restarted on its own port (pid ${b.pid}) in ${sec(startupSeconds)} s; waiting for both sides to hold all ${int(expected.size)} docs with the same revisions`);
    let reconnectedAt: number | undefined;
    let convergedAt: number | undefined;
    let lastChange = performance.now();
    let lastState = '';
    let status = before;
    let lastLog = up;
    while (convergedAt === undefined) {
      const [st, countA, countB] = await Promise.all([replicationStatus(a.admin, CATCHUP_DB, CATCHUP_ID), docCount(a.admin, CATCHUP_DB), docCount(b.admin, CATCHUP_DB)]);
      const now = performance.now();
      status = st;
      if (reconnectedAt === undefined && st.status === 'running') {
        reconnectedAt = now;
        log(`A's replication is running again ${sec((now - up) / 1000)} s after B came back`);
      }
      if (countA === expected.size && countB === expected.size) {
        const [endA, endB] = await Promise.all([allRevs(a.admin, CATCHUP_DB), allRevs(b.admin, CATCHUP_DB)]);
        if ([...expected].every((id) => endA.has(id) && endA.get(id) === endB.get(id))) convergedAt = performance.now();
      }
      const state = `${countA}/${countB}/${st.status}/${st.docs_written}/${st.docs_read}`;
      if (state !== lastState) {
        lastState = state;
        lastChange = now;
      } else if (now - lastChange > STALL_MS) {
        throw new Error(`catch-up stalled: A ${int(countA)}, B ${int(countB)} of ${int(expected.size)} docs, A's replication ${st.status} (${st.last_error ?? 'no error'}), nothing moved for ${STALL_MS / 1000} s`);
      }
      if (convergedAt === undefined && now - lastLog > 2_000) {
        lastLog = now;
        log(`catch-up: ${sec((now - up) / 1000)} s, A ${int(countA)} / B ${int(countB)} of ${int(expected.size)} docs, A's replication ${st.status}`);
      }
      if (convergedAt === undefined) await sleep(POLL_MS);
    }
    const catchUpSeconds = (convergedAt - up) / 1000;
    add('catchup', { docs: transfers, seconds: catchUpSeconds });
    if (reconnectedAt !== undefined) add('transfer', { docs: transfers, seconds: Math.max(0.001, (convergedAt - reconnectedAt) / 1000) });
    else fail('transfer', "A's replication status was never seen running again");
    log(`catch-up: both sides equal ${sec(catchUpSeconds)} s after B came back (${int(transfers)} revisions written during the partition = ${int(transfers / catchUpSeconds)} docs/s)`);

    // No duplicate revisions: after a short settle, the current revisions are still equal everywhere, and a sample of
    // docs has the same history on both sides, no live conflict, and the generation its writes explain.
    await sleep(1_000);
    const [endA, endB] = await Promise.all([allRevs(a.admin, CATCHUP_DB), allRevs(b.admin, CATCHUP_DB)]);
    const unequal = [...expected].filter((id) => !endA.has(id) || endA.get(id) !== endB.get(id));
    if (unequal.length > 0 || endA.size !== expected.size || endB.size !== expected.size) {
      throw new Error(`after settling: ${unequal.length} docs differ (e.g. ${unequal[0] ?? '-'}), A has ${endA.size} and B ${endB.size} docs of ${expected.size}`);
    }
    const spread = <T>(items: readonly T[]): T[] => items.filter((_, i) => i % Math.max(1, Math.floor(items.length / SAMPLE)) === 0).slice(0, SAMPLE);
    const onlyA = [...writerA.updated.keys()].filter((id) => !writerB.updated.has(id));
    const onlyB = [...writerB.updated.keys()].filter((id) => !writerA.updated.has(id));
    const sample: Array<{ id: string; gens: number[] }> = [
      ...spread(writerA.created).map((id) => ({ id, gens: [1] })),
      ...spread(writerB.created).map((id) => ({ id, gens: [1] })),
      ...spread(onlyA).map((id) => ({ id, gens: [1 + writerA.updated.get(id)!] })),
      ...spread(onlyB).map((id) => ({ id, gens: [1 + writerB.updated.get(id)!] })),
      ...spread(conflicting).map((id) => {
        const [genA, genB] = [1 + writerA.updated.get(id)!, 1 + writerB.updated.get(id)!];
        // The winner is one side's revision, or (when the local side wins) its content written on top of the remote one.
        return { id, gens: [genA, genB, genA + 1, genB + 1] };
      }),
    ];
    const problems: string[] = [];
    for (const { id, gens } of sample) {
      const reqPath = `/${CATCHUP_DB}/${encodeURIComponent(id)}?revs=true&conflicts=true`;
      type Doc = { _rev?: string; _revisions?: { start: number; ids: string[] }; _conflicts?: string[] };
      const [docA, docB] = await Promise.all([a.admin.json<Doc>('GET', reqPath), b.admin.json<Doc>('GET', reqPath)]);
      const rev = docA.data._rev ?? '';
      if (docA.status !== 200 || docB.status !== 200) problems.push(`${id}: HTTP ${docA.status} on A, ${docB.status} on B`);
      else if (rev !== docB.data._rev) problems.push(`${id}: ${rev} on A, ${docB.data._rev} on B`);
      else if (JSON.stringify(docA.data._revisions) !== JSON.stringify(docB.data._revisions)) problems.push(`${id}: different histories`);
      else if ((docA.data._conflicts?.length ?? 0) > 0 || (docB.data._conflicts?.length ?? 0) > 0) problems.push(`${id}: live conflicts left`);
      else if (!gens.includes(generation(rev))) problems.push(`${id}: revision ${rev}, expected generation ${gens.join(' or ')}`);
    }
    status = await replicationStatus(a.admin, CATCHUP_DB, CATCHUP_ID);
    log(`A's replication status before the partition: docs_written ${before.docs_written}, docs_read ${before.docs_read}; now: docs_written ${status.docs_written}, docs_read ${status.docs_read}, conflicts_resolved ${status.conflicts_resolved}, doc_write_conflict ${status.doc_write_conflict}`);
    if (problems.length > 0) throw new Error(`revision check: ${problems.length} of ${sample.length} sampled docs wrong: ${problems.slice(0, 3).join('; ')}`);
    log(`revision check: ${sample.length} sampled docs have the same revision and history on both sides, no live conflict, expected generations`);

    const delta = (after: number | undefined, was: number | undefined): number => {
      const x = after ?? 0;
      const y = was ?? 0;
      return x >= y ? x - y : x;
    };
    detail = {
      partitionSeconds: s.partitionSeconds,
      writesA: writerA.written,
      writesB: writerB.written,
      newDocs: writerA.newDocs + writerB.newDocs,
      updates: writerA.updates + writerB.updates,
      conflicting: conflicting.length,
      totalDocs: expected.size,
      startupSeconds,
      reconnectSeconds: reconnectedAt === undefined ? undefined : (reconnectedAt - up) / 1000,
      pushed: delta(status.docs_written, before.docs_written),
      pulled: delta(status.docs_read, before.docs_read),
      conflictsResolved: delta(status.conflicts_resolved, before.conflicts_resolved),
      writeConflicts: delta(status.doc_write_conflict, before.doc_write_conflict),
      sampleChecked: sample.length,
      initialSyncSeconds,
    };
  }

  async function measure(log: Log): Promise<void> {
    const dir = tempDir();
    const nodes: ReplNode[] = [];
    try {
      const [a, b] = await Promise.all([ReplNode.start('A', dir, A_DBS), ReplNode.start('B', dir, B_DBS)]);
      nodes.push(a, b);
      log(`replication: node A pid ${a.pid} (port ${a.ports.port}, admin ${a.ports.adminPort}), node B pid ${b.pid} (port ${b.ports.port}, admin ${b.ports.adminPort}), SQLite in ${dir}`);
      await throughput(a, b, log);
      collectGarbage();
      try {
        await catchUp(a, b, log);
      } catch (err) {
        log(`replication: catch-up FAILED: ${message(err)}`);
        for (const key of ['catchup', 'transfer'] as const) if (!measured(key)) fail(key, message(err));
      }
    } finally {
      const stopped = await Promise.allSettled(nodes.map((node) => node.stop()));
      const failed = stopped.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) log(`replication: ${message(failed.reason)}`);
    }
  }

  const rate = (key: Row): number | undefined => {
    const samples = rows.get(key);
    return samples && samples.length > 0 && !errors.has(key) ? median(samples.map((m) => m.docs / m.seconds)) : undefined;
  };
  const ratio = (x: Row, y: Row): number | undefined => {
    const a = rate(x);
    const b = rate(y);
    return a !== undefined && b !== undefined ? a / b : undefined;
  };

  function catchUpLines(rounds: number): string[] {
    const d = detail;
    const lines = [
      `Catch-up after a partition: a continuous pushAndPull defined on A (PUT /${CATCHUP_DB}/_replication/${CATCHUP_ID}, remote B) over ${int(s.sharedDocs)} shared docs;`,
      `B stopped (SIGTERM) and run cut off from A (other ports, same files) for ${s.partitionSeconds} s while each side took ${s.writeRate} docs/s`,
      `(_bulk_docs on the admin API; 1 write in ${s.updateEvery} updates a shared doc, the others are new docs), then B restarted on its own ports.`,
      `"docs" = revisions written during the partition; timed until both sides list every doc with the same current revision (polled every ${POLL_MS} ms):`,
      ...throughputLines(catchUpDefs, rows, errors, rounds),
    ];
    if (d) {
      const last = rounds > 1 ? ' (last round)' : '';
      lines.push(
        `  partition${last}: A wrote ${int(d.writesA)}, B ${int(d.writesB)} (${int(d.newDocs)} new docs, ${int(d.updates)} updates; ${int(d.conflicting)} shared docs updated on both sides); ${int(d.totalDocs)} docs in the end`,
        `  B restart to listening: ${sec(d.startupSeconds)} s; A's replication running again after ${d.reconnectSeconds === undefined ? 'n/a' : `${sec(d.reconnectSeconds)} s`} (its retry backoff, 1 s doubling to 10 s)`,
        `  A's status during the catch-up: docs_written ${int(d.pushed)}, docs_read ${int(d.pulled)}, conflicts_resolved ${int(d.conflictsResolved)}, doc_write_conflict ${int(d.writeConflicts)}`,
        `  initial continuous sync of the ${int(s.sharedDocs)} shared docs: ${sec(d.initialSyncSeconds)} s`,
        `  check: every doc on both sides with the same current revision (again after 1 s); ${d.sampleChecked} sampled docs with the same history, no live conflict, no extra revision: OK`,
      );
    }
    return lines;
  }

  return {
    id: 'replication',
    name: 'replication',
    summary: [
      `replication (Syncline only): one-shot server-to-server push and pull of ${int(s.docs)} docs between two nodes, against _bulk_docs of the same docs`,
      `replication catch-up (Syncline only): continuous pushAndPull, ${s.partitionSeconds} s partition with ${s.writeRate} docs/s written on each side`,
    ],

    async run(_target, log) {
      round += 1;
      try {
        await measure(log);
      } catch (err) {
        log(`replication FAILED: ${message(err)}`);
        for (const row of [...rowDefs, ...catchUpDefs]) if (!measured(row.key)) fail(row.key, message(err));
      }
    },

    failAll(error) {
      for (const row of [...rowDefs, ...catchUpDefs]) if (!rows.has(row.key)) fail(row.key, error);
    },

    report(rounds) {
      return [
        'Server-to-server replication (Syncline only): two syncline serve nodes A and B started by the section (SQLite files, GUEST open, log level warn);',
        `${int(s.docs)} generator docs (~${int(docBytes)} bytes of JSON) on A; one-shot replications over BLIP with remote = the other node's ws://127.0.0.1:PORT/{db},`,
        'timed from the request until it answers with the final status (the target doc count and the status counts are checked):',
        ...throughputLines(rowDefs, rows, errors, rounds),
        `  push / _bulk_docs into B: ${pct(ratio('push', 'bulk'))}; pull / _bulk_docs into B: ${pct(ratio('pull', 'bulk'))}`,
        '',
        ...catchUpLines(rounds),
      ];
    },

    hasErrors() {
      return errors.size > 0;
    },
  };
}
