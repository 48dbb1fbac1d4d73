/**
 * Syncline-only section: Couchbase Lite replication over BLIP (`/{db}/_blipsync`), with the replicator of
 * `@syncline/client` and its MemoryStore, as GUEST on the public API.
 *
 *  - Pull: one-shot BLIP pull of N docs into a fresh MemoryStore, against a one-shot REST pull of the same
 *    database into a PouchDB memory database, in the same round.
 *  - Push: one-shot BLIP push of N docs from a MemoryStore into a fresh database.
 *  - Latency: with a continuous BLIP pull running, docs are PUT one at a time over REST and each is timed from
 *    its PUT response to its arrival in the store.
 */
import { MemoryStore, Replicator, type JsonObject } from '@syncline/client';
import { averageSize, makeDocs } from '../docs.ts';
import { collectGarbage } from '../gc.ts';
import { describeFailure, postBulkDocs, type HttpClient } from '../http-client.ts';
import { memoryDatabase, replicate } from '../pouchdb-client.ts';
import { median, throughputLines } from '../report.ts';
import type { Settings } from '../settings.ts';
import type { HttpTarget } from '../targets/types.ts';
import { IDLE_CONNECTIONS, IDLE_GOAL_BYTES, idleConnectionMemory, type IdleMemorySample } from './blip-idle.ts';
import { ROWS, databaseMaker, docCount, runOnce, type Row } from './blip-common.ts';
import { Progress, batches, freshIdPrefix, type Log, type Measurement, type SynclineSection } from './common.ts';

export const BLIP_PULL_DB = 'blip_pull';
export const BLIP_LIVE_DB = 'blip_live';
const BLIP_WARM_DB = 'blip_warm';
/** Stays empty: the idle continuous connections of the memory measurement pull from it. */
const BLIP_IDLE_DB = 'blip_idle';
/** Docs every idle connection pulls before going idle. */
const IDLE_DOCS = 20;
const BLIP_PUSH_PREFIX = 'blip_push';

const PULL_GOAL_RATE = 20_000;
const PULL_GOAL_RATIO = 2;
const LATENCY_GOAL_MS = 50;
const GOAL_RATE_TEXT = `BLIP pull >= ${PULL_GOAL_RATE.toLocaleString('en-US')} docs/s`;
const GOAL_RATIO_TEXT = `BLIP pull >= ${PULL_GOAL_RATIO}x REST/PouchDB pull`;
const GOAL_LATENCY_TEXT = `BLIP continuous pull p99 < ${LATENCY_GOAL_MS} ms`;
const WARM_UP_DOCS = 500;
const LOAD_BATCH = 1_000;
/** Give up on a document that has not reached the store after this long. */
const ARRIVAL_TIMEOUT_MS = 10_000;


interface LatencySample {
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

const GOAL_IDLE_TEXT = `idle BLIP conn. < ${IDLE_GOAL_BYTES / 1024} KiB server RSS`;
const kib = (bytes: number): string => (bytes / 1024).toFixed(1);
const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const perConnection = (s: IdleMemorySample, what: 'rss' | 'heap'): number =>
  what === 'rss' ? (s.rssAfter - s.rssBefore) / s.connections : (s.heapAfter - s.heapBefore) / s.connections;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => x.toFixed(x < 10 ? 2 : 1);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

export function blipSection(settings: Settings): SynclineSection {
  const count = settings.blip.docs;
  const liveDocs = settings.blip.liveDocs;
  const rows = new Map<Row, Measurement[]>();
  const latencies: LatencySample[] = [];
  const idle: IdleMemorySample[] = [];
  const errors = new Map<Row | 'latency' | 'idle', string>();
  const docBytes = averageSize(makeDocs(settings.seed, 200, 8_000_000));
  let round = 0;
  let prepared = false;

  const add = (key: Row, m: Measurement): void => void rows.set(key, [...(rows.get(key) ?? []), m]);
  const fail = (key: Row | 'latency' | 'idle', error: string): void => void (errors.has(key) || errors.set(key, error));

  const ensureDb = databaseMaker('syncline-bench-blip-');

  async function load(admin: HttpClient, db: string, n: number, offset: number, log: Log | undefined): Promise<void> {
    const docs = makeDocs(settings.seed, n, offset).map((doc, i) => ({ _id: `${db}-${i}`, ...doc }));
    const loading = new Progress(log ?? (() => {}), `loading /${db} over the admin API (not measured)`, n);
    let done = 0;
    for (const group of batches(docs, LOAD_BATCH)) {
      await postBulkDocs(admin, db, group);
      done += group.length;
      loading.update(done);
    }
    loading.finish(done);
  }

  async function blipPull(target: HttpTarget, db: string, n: number, log: Log | undefined): Promise<Measurement> {
    const store = new MemoryStore();
    const progress = new Progress(log ?? (() => {}), `BLIP pull /${db}`, n);
    const repl = new Replicator({ url: `${target.client.baseUrl}/${db}`, db: store, type: 'pull' });
    const done = await runOnce(repl, progress, n);
    const measured = progress.finish(done);
    if (store.docIds.length !== n) throw new Error(`MemoryStore holds ${store.docIds.length} docs after the pull, expected ${n}`);
    return measured;
  }

  async function restPull(target: HttpTarget, db: string, n: number, log: Log | undefined): Promise<Measurement> {
    const local = memoryDatabase('bench-blip-rest');
    try {
      const progress = new Progress(log ?? (() => {}), `REST pull /${db} (PouchDB)`, n);
      const replication = replicate(`${target.client.baseUrl}/${db}`, local);
      replication.on('change', (info) => progress.update(info.docs_written));
      const result = await replication;
      if (!result.ok || result.doc_write_failures > 0) throw new Error(`replication failed: ${JSON.stringify(result).slice(0, 300)}`);
      const measured = progress.finish(result.docs_written);
      const { doc_count } = await local.info();
      if (doc_count !== n) throw new Error(`PouchDB memory db has ${doc_count} docs after the pull, expected ${n}`);
      return measured;
    } finally {
      await local.destroy();
    }
  }

  async function blipPush(target: HttpTarget, admin: HttpClient, base: string, n: number, offset: number, log: Log | undefined): Promise<Measurement> {
    let db = base;
    for (let k = 1; (await admin.request('GET', `/${db}/`)).status !== 404; k++) db = `${base}_${k}`;
    await ensureDb(admin, db);
    const store = new MemoryStore();
    const docs = makeDocs(settings.seed, n, offset);
    for (const [i, doc] of docs.entries()) await store.put(`push-${i}`, doc as JsonObject);
    const progress = new Progress(log ?? (() => {}), `BLIP push to /${db}`, n);
    const repl = new Replicator({ url: `${target.client.baseUrl}/${db}`, db: store, type: 'push' });
    const done = await runOnce(repl, progress, n);
    const measured = progress.finish(done);
    const stored = await docCount(admin, db);
    if (stored !== n) throw new Error(`/${db} holds ${stored} docs after the push, expected ${n}`);
    return measured;
  }

  async function latency(target: HttpTarget, admin: HttpClient, log: Log): Promise<LatencySample> {
    await ensureDb(admin, BLIP_LIVE_DB);
    const prefix = await freshIdPrefix(admin, BLIP_LIVE_DB, `live${round}`);
    const store = new MemoryStore();
    const arrived = new Map<string, number>();
    let waiting: { id: string; resolve: () => void } | undefined;
    store.onChange((change) => {
      const at = performance.now();
      if (!arrived.has(change.docId)) arrived.set(change.docId, at);
      if (waiting?.id === change.docId) waiting.resolve();
    });
    const repl = new Replicator({ url: `${target.client.baseUrl}/${BLIP_LIVE_DB}`, db: store, type: 'pull', continuous: true });
    repl.start();
    try {
      const idle = await repl.whenIdle();
      if (idle.error || idle.state === 'stopped') throw new Error(`continuous pull did not go idle: ${idle.error?.message ?? idle.state}`);
      const bodies = makeDocs(settings.seed, liveDocs, 8_500_000);
      const lags: number[] = [];
      const progress = new Progress(log, `continuous BLIP pull of /${BLIP_LIVE_DB}: PUT one at a time, timed to arrival`, liveDocs);
      for (const [i, body] of bodies.entries()) {
        const id = `${prefix}-${i}`;
        const arrival = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${id} did not reach the store within ${ARRIVAL_TIMEOUT_MS / 1000} s`)), ARRIVAL_TIMEOUT_MS);
          waiting = {
            id,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          };
        });
        const reqPath = `/${BLIP_LIVE_DB}/${id}`;
        const res = await target.client.request('PUT', reqPath, JSON.stringify(body));
        const written = performance.now();
        if (res.status !== 201) throw describeFailure('PUT', reqPath, res);
        if (!arrived.has(id)) await arrival;
        waiting = undefined;
        lags.push(Math.max(0, arrived.get(id)! - written));
        progress.update(i + 1);
      }
      progress.finish(liveDocs);
      const sorted = lags.sort((a, b) => a - b);
      return { medianMs: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1]! };
    } finally {
      await repl.stop();
    }
  }

  async function prepare(target: HttpTarget, admin: HttpClient, log: Log): Promise<void> {
    const existing = await ensureDb(admin, BLIP_PULL_DB);
    if (existing === 0) await load(admin, BLIP_PULL_DB, count, 8_000_000, log);
    else if (existing === count) log(`/${BLIP_PULL_DB} already holds ${int(count)} docs; reusing them`);
    else throw new Error(`/${BLIP_PULL_DB} holds ${existing} docs; the section needs it empty or with exactly ${count}`);
    // Unmeasured: warms the replicator, the PouchDB client and the server's BLIP path.
    const warm = await ensureDb(admin, BLIP_WARM_DB);
    if (warm === 0) await load(admin, BLIP_WARM_DB, WARM_UP_DOCS, 8_900_000, undefined);
    await blipPull(target, BLIP_WARM_DB, warm === 0 ? WARM_UP_DOCS : warm, undefined);
    await restPull(target, BLIP_WARM_DB, warm === 0 ? WARM_UP_DOCS : warm, undefined);
    await blipPush(target, admin, `${BLIP_PUSH_PREFIX}_warm`, WARM_UP_DOCS, 8_950_000, undefined);
    log(`BLIP databases ready: /${BLIP_PULL_DB} (${int(count)} docs), warm-up done`);
  }

  async function measure(target: HttpTarget, admin: HttpClient, log: Log): Promise<void> {
    if (!prepared) {
      await prepare(target, admin, log);
      prepared = true;
    }
    const pulls: Array<() => Promise<void>> = [
      async () => add('blipPull', await blipPull(target, BLIP_PULL_DB, count, log)),
      async () => add('restPull', await restPull(target, BLIP_PULL_DB, count, log)),
    ];
    for (const step of round % 2 === 1 ? pulls : [...pulls].reverse()) {
      collectGarbage();
      await step();
    }
    collectGarbage();
    add('blipPush', await blipPush(target, admin, `${BLIP_PUSH_PREFIX}_${round}`, count, 8_000_000, log));
    collectGarbage();
    try {
      const sample = await latency(target, admin, log);
      latencies.push(sample);
      log(`continuous pull: PUT response to arrival p50 ${ms(sample.medianMs)} ms, p99 ${ms(sample.p99Ms)} ms, max ${ms(sample.maxMs)} ms`);
    } catch (err) {
      log(`continuous pull latency FAILED: ${message(err)}`);
      fail('latency', message(err));
    }
    collectGarbage();
    if (target.metricsUrl === undefined) {
      fail('idle', 'needs the server\'s metrics API (only known when the benchmark starts Syncline)');
      return;
    }
    try {
      const held = await ensureDb(admin, BLIP_IDLE_DB);
      if (held === 0) await load(admin, BLIP_IDLE_DB, IDLE_DOCS, 8_990_000, undefined);
      else if (held !== IDLE_DOCS) throw new Error(`/${BLIP_IDLE_DB} must be empty or hold ${IDLE_DOCS} docs, holds ${held}`);
      const sample = await idleConnectionMemory(target.client.baseUrl, target.metricsUrl, BLIP_IDLE_DB);
      idle.push(sample);
      log(`${int(sample.connections)} idle continuous connections: server RSS +${kib(perConnection(sample, 'rss'))} KiB, heap +${kib(perConnection(sample, 'heap'))} KiB per connection`);
    } catch (err) {
      log(`idle connection memory FAILED: ${message(err)}`);
      fail('idle', message(err));
    }
  }

  function idleLines(): string[] {
    const heading = `Server memory per idle continuous BLIP connection: ${int(IDLE_CONNECTIONS)} low-level connections, each a continuous subChanges on /${BLIP_IDLE_DB} (${IDLE_DOCS} docs pulled, compressed both ways), caught up, then 6 s idle; lowest of 5 readings of the server's /_metrics before and after:`;
    const error = errors.get('idle');
    if (error !== undefined) return [heading, `  FAILED: ${error.split('\n')[0]}`];
    if (idle.length === 0) return [heading, '  not measured'];
    const lines = [heading];
    for (const [i, s] of idle.entries()) {
      const prefix = idle.length > 1 ? `  round ${i + 1}: ` : '  ';
      lines.push(
        `${prefix}RSS ${mib(s.rssBefore)} -> ${mib(s.rssAfter)} MiB (+${kib(perConnection(s, 'rss'))} KiB/connection), heap used ${mib(s.heapBefore)} -> ${mib(s.heapAfter)} MiB (+${kib(perConnection(s, 'heap'))} KiB/connection); opened and caught up in ${s.openSeconds.toFixed(1)} s`,
      );
    }
    const worst = idleRss();
    lines.push(`  (goal ${GOAL_IDLE_TEXT}: ${verdict(worst === undefined ? undefined : worst < IDLE_GOAL_BYTES)})`);
    return lines;
  }

  function idleRss(): number | undefined {
    return idle.length > 0 && !errors.has('idle') ? median(idle.map((s) => perConnection(s, 'rss'))) : undefined;
  }

  const rate = (key: Row): number | undefined => {
    const samples = rows.get(key);
    return samples && samples.length > 0 && !errors.has(key) ? median(samples.map((m) => m.docs / m.seconds)) : undefined;
  };

  function ratio(): number | undefined {
    const blip = rate('blipPull');
    const rest = rate('restPull');
    return blip !== undefined && rest !== undefined ? blip / rest : undefined;
  }

  function p99(): number | undefined {
    return latencies.length > 0 && !errors.has('latency') ? median(latencies.map((l) => l.p99Ms)) : undefined;
  }

  const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS');
  const pullRate = (): number | undefined => rate('blipPull');

  function rowLines(rounds: number): string[] {
    const r = ratio();
    const p = pullRate();
    return [
      ...throughputLines(ROWS, rows, errors, rounds),
      `  BLIP pull / REST pull (docs/s): ${r === undefined ? 'n/a' : `${r.toFixed(2)}x`}   (goal ${GOAL_RATIO_TEXT}: ${verdict(r === undefined ? undefined : r >= PULL_GOAL_RATIO)})`,
      `  BLIP pull: ${p === undefined ? 'n/a' : `${int(p)} docs/s`}   (goal ${GOAL_RATE_TEXT}: ${verdict(p === undefined ? undefined : p >= PULL_GOAL_RATE)})`,
    ];
  }

  function latencyLines(rounds: number): string[] {
    const heading = `Continuous BLIP pull of /${BLIP_LIVE_DB}: ${int(liveDocs)} docs PUT one at a time over REST (GUEST), each timed from its PUT response to its arrival in the MemoryStore (0 if it arrived first):`;
    const error = errors.get('latency');
    if (error !== undefined) return [heading, `  FAILED: ${error.split('\n')[0]}`];
    if (latencies.length === 0) return [heading, '  not measured'];
    const pick = (f: (l: LatencySample) => number): number => median(latencies.map(f));
    const note = rounds > 1 ? ` (medians over ${latencies.length} rounds)` : '';
    const worst = p99();
    return [
      heading,
      `  p50 ${ms(pick((l) => l.medianMs))} ms, p99 ${ms(pick((l) => l.p99Ms))} ms, max ${ms(pick((l) => l.maxMs))} ms${note}   (goal ${GOAL_LATENCY_TEXT}: ${verdict(worst === undefined ? undefined : worst < LATENCY_GOAL_MS)})`,
    ];
  }

  return {
    id: 'blip',
    name: 'blip',
    summary: [
      `blip (Syncline only): one-shot BLIP pull of ${int(count)} docs into a MemoryStore against a REST/PouchDB pull of the same db; BLIP push of ${int(count)} docs`,
      `blip latency (Syncline only): ${int(liveDocs)} single PUTs to arrival in a continuous BLIP pull; goals ${GOAL_RATE_TEXT}, ${GOAL_RATIO_TEXT}, p99 < ${LATENCY_GOAL_MS} ms`,
      `blip idle (Syncline only): server memory per idle continuous BLIP connection with ${int(IDLE_CONNECTIONS)} open; goal ${GOAL_IDLE_TEXT}`,
    ],

    async run(target: HttpTarget, log) {
      round += 1;
      const admin = target.adminClient;
      if (!admin) {
        for (const row of ROWS) fail(row.key, 'needs the Syncline admin API: set BENCH_SYNCLINE_ADMIN_URL along with BENCH_SYNCLINE_URL');
        fail('latency', 'needs the Syncline admin API');
        fail('idle', 'needs the Syncline admin API');
        return;
      }
      try {
        await measure(target, admin, log);
      } catch (err) {
        log(`blip FAILED: ${message(err)}`);
        for (const row of ROWS) if ((rows.get(row.key)?.length ?? 0) < round) fail(row.key, message(err));
        if (latencies.length < round) fail('latency', message(err));
        if (idle.length < round) fail('idle', message(err));
      }
    },

    failAll(error) {
      for (const row of ROWS) if (!rows.has(row.key)) fail(row.key, error);
      if (latencies.length === 0) fail('latency', error);
      if (idle.length === 0) fail('idle', error);
    },

    report(rounds) {
      return [
        'Couchbase Lite replication over BLIP (Syncline only; ratios against Syncline in the same run)',
        `The generator's docs (~${int(docBytes)} bytes of JSON); @syncline/client Replicator + MemoryStore over ws://.../{db}/_blipsync, as GUEST`,
        ...rowLines(rounds),
        '',
        ...latencyLines(rounds),
        '',
        ...idleLines(),
      ];
    },

    goalLines() {
      const p = pullRate();
      const r = ratio();
      const worst = p99();
      const idleBytes = idleRss();
      return [
        `  ${verdict(p === undefined ? undefined : p >= PULL_GOAL_RATE).padEnd(4)}  ${GOAL_RATE_TEXT.padEnd(34)} measured ${p === undefined ? 'not measured' : `${int(p)} docs/s`}`,
        `  ${verdict(r === undefined ? undefined : r >= PULL_GOAL_RATIO).padEnd(4)}  ${GOAL_RATIO_TEXT.padEnd(34)} measured ${r === undefined ? 'not measured' : `${r.toFixed(2)}x`}`,
        `  ${verdict(worst === undefined ? undefined : worst < LATENCY_GOAL_MS).padEnd(4)}  ${GOAL_LATENCY_TEXT.padEnd(34)} measured ${worst === undefined ? 'not measured' : `${ms(worst)} ms`}`,
        `  ${verdict(idleBytes === undefined ? undefined : idleBytes < IDLE_GOAL_BYTES).padEnd(4)}  ${GOAL_IDLE_TEXT.padEnd(34)} measured ${idleBytes === undefined ? 'not measured' : `${kib(idleBytes)} KiB`}`,
      ];
    },

    hasErrors() {
      return errors.size > 0;
    },
  };
}
