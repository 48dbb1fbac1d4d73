/**
 * `npm run bench`: the same workloads against Syncline, PouchDB Server and raw
 * better-sqlite3, in one run, on loopback only. See bench/README.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeAll, installExitHandlers, track } from './cleanup.ts';
import { averageSize, makeDocs } from './docs.ts';
import { GOALS_SUMMARY, Results, TARGET_LABELS, formatGoals, formatWorkload } from './report.ts';
import { loadSettings, type Settings, type TargetId } from './settings.ts';
import { startPouchdbServer } from './targets/pouchdb-server.ts';
import { sqliteVersion } from './targets/raw-sqlite.ts';
import { startSyncline } from './targets/syncline.ts';
import type { HttpTarget } from './targets/types.ts';
import { bulkDocsWorkload } from './workloads/bulk-docs.ts';
import type { Log, Workload } from './workloads/common.ts';
import { pullReplicationWorkload } from './workloads/pull-replication.ts';
import { pushReplicationWorkload } from './workloads/push-replication.ts';
import { singlePutWorkload } from './workloads/single-put.ts';
import { warmUpReplication } from './workloads/warm-up.ts';

const HTTP_TARGETS: ReadonlyArray<{
  id: Exclude<TargetId, 'sqlite'>;
  start: (tmpRoot: string, settings: Settings) => Promise<HttpTarget>;
}> = [
  { id: 'syncline', start: (tmp, s) => startSyncline(tmp, s.synclineUrl) },
  { id: 'pouchdb', start: (tmp, s) => startPouchdbServer(tmp, s.pouchdbUrl) },
];

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const n = (x: number): string => x.toLocaleString('en-US');

function printHeader(settings: Settings, workloads: readonly Workload[]): void {
  const cpus = os.cpus();
  const sample = makeDocs(settings.seed, 200);
  console.log('Syncline benchmark (loopback only)');
  console.log(`  Node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}, SQLite ${sqliteVersion()}`);
  console.log(`  Documents: ~${n(averageSize(sample))} bytes of JSON each (seeded generator, seed ${settings.seed}), BENCH_SCALE=${settings.scale}`);
  for (const w of workloads) console.log(`    ${w.name}: ${n(w.docCount)} docs`);
  console.log(`  Targets: ${GOALS_SUMMARY}`);
  if (settings.synclineUrl) console.log(`  NOTE: "Syncline" is the external server at ${settings.synclineUrl} (BENCH_SYNCLINE_URL)`);
  if (settings.pouchdbUrl) console.log(`  NOTE: "PouchDB Server" is the external server at ${settings.pouchdbUrl} (BENCH_POUCHDB_URL)`);
  console.log('');
}

async function benchHttpTarget(
  entry: (typeof HTTP_TARGETS)[number],
  workloads: readonly Workload[],
  settings: Settings,
  tmpRoot: string,
  results: Results,
): Promise<void> {
  const label = TARGET_LABELS[entry.id];
  const log: Log = (line) => console.log(`[${label}] ${line}`);
  log('starting...');
  let target: HttpTarget;
  try {
    target = await entry.start(tmpRoot, settings);
  } catch (err) {
    log(`could not start: ${message(err)}`);
    for (const w of workloads) results.set(w.id, entry.id, { error: `not started: ${message(err)}` });
    return;
  }
  log(target.description);
  try {
    if (workloads.some((w) => w.id === 'pull' || w.id === 'push')) {
      try {
        await warmUpReplication(target, settings, log);
      } catch (err) {
        log(`warm-up FAILED (continuing): ${message(err)}`);
      }
    }
    for (const w of workloads) {
      try {
        results.set(w.id, entry.id, await w.runHttp(target, log));
      } catch (err) {
        log(`${w.name} FAILED: ${message(err)}`);
        results.set(w.id, entry.id, { error: message(err) });
      }
    }
  } finally {
    await target.stop();
    log('stopped');
  }
}

function benchRawSqlite(workloads: readonly Workload[], tmpRoot: string, results: Results): void {
  const log: Log = (line) => console.log(`[${TARGET_LABELS.sqlite}] ${line}`);
  log('better-sqlite3 in-process, WAL, synchronous=FULL, fresh file per workload');
  for (const w of workloads) {
    if (!w.runSqlite) continue;
    try {
      results.set(w.id, 'sqlite', w.runSqlite(tmpRoot, log));
    } catch (err) {
      log(`${w.name} FAILED: ${message(err)}`);
      results.set(w.id, 'sqlite', { error: message(err) });
    }
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  installExitHandlers();
  const settings = loadSettings();
  const workloads = [
    singlePutWorkload(settings),
    bulkDocsWorkload(settings),
    pullReplicationWorkload(settings),
    pushReplicationWorkload(settings),
  ].filter((w) => settings.workloads.includes(w.id));
  printHeader(settings, workloads);

  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'syncline-bench-'));
  const removeTmp = (): void => rmSync(tmpRoot, { recursive: true, force: true });
  track({ name: `temp dir ${tmpRoot}`, close: () => Promise.resolve(removeTmp()), closeSync: removeTmp });

  const results = new Results();
  for (const entry of HTTP_TARGETS) {
    if (settings.targets.includes(entry.id)) await benchHttpTarget(entry, workloads, settings, tmpRoot, results);
  }
  if (settings.targets.includes('sqlite')) benchRawSqlite(workloads, tmpRoot, results);

  console.log('');
  for (const w of workloads) {
    console.log(formatWorkload(w, settings.targets, results).join('\n'));
    console.log('');
  }
  console.log(formatGoals(results).join('\n'));
  console.log(`\nTotal time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await closeAll();
  return results.hasErrors() ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error('benchmark crashed:', err);
    await closeAll();
    process.exit(1);
  },
);
