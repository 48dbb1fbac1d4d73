/**
 * `npm run bench`: the same workloads against Syncline, PouchDB Server and raw
 * better-sqlite3, in one run, on loopback only. See bench/README.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closeAll, installExitHandlers, isClosing, track } from './cleanup.ts';
import { averageSize, makeDocs } from './docs.ts';
import { collectGarbage } from './gc.ts';
import { GOALS_SUMMARY, Results, formatGoals, formatWorkload } from './report.ts';
import { TARGET_LABELS, loadSettings, type Settings, type TargetId } from './settings.ts';
import { startPouchdbServer } from './targets/pouchdb-server.ts';
import { sqliteVersion } from './targets/raw-sqlite.ts';
import { startSyncline } from './targets/syncline.ts';
import type { HttpTarget } from './targets/types.ts';
import { accessControlSection } from './workloads/access-control.ts';
import { blipBlobsSection } from './workloads/blip-blobs.ts';
import { blipSection } from './workloads/blip.ts';
import { bulkDocsWorkload } from './workloads/bulk-docs.ts';
import { importSection } from './workloads/import.ts';
import { postgresSection } from './workloads/postgres.ts';
import { replicationSection } from './workloads/replication.ts';
import type { Log, Measurement, SynclineSection, Workload } from './workloads/common.ts';
import { pullReplicationWorkload } from './workloads/pull-replication.ts';
import { pushReplicationWorkload } from './workloads/push-replication.ts';
import { singlePutWorkload } from './workloads/single-put.ts';
import { warmUpReplication } from './workloads/warm-up.ts';

const HTTP_TARGETS: ReadonlyArray<{
  id: Exclude<TargetId, 'sqlite'>;
  start: (tmpRoot: string, settings: Settings) => Promise<HttpTarget>;
}> = [
  { id: 'syncline', start: (tmp, s) => startSyncline(tmp, s.synclineUrl, s.synclineAdminUrl) },
  { id: 'pouchdb', start: (tmp, s) => startPouchdbServer(tmp, s.pouchdbUrl) },
];

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const n = (x: number): string => x.toLocaleString('en-US');

function printHeader(settings: Settings, workloads: readonly Workload[], sections: readonly SynclineSection[]): void {
  const cpus = os.cpus();
  const sample = makeDocs(settings.seed, 200);
  console.log('Syncline benchmark (loopback only)');
  console.log(`  Node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${os.platform()} ${os.arch()}, SQLite ${sqliteVersion()}`);
  console.log(`  Documents: ~${n(averageSize(sample))} bytes of JSON each (seeded generator, seed ${settings.seed}), BENCH_SCALE=${settings.scale}, BENCH_ROUNDS=${settings.rounds}`);
  for (const w of workloads) console.log(`    ${w.name}: ${n(w.docCount)} docs`);
  for (const section of sections) for (const line of section.summary) console.log(`    ${line}`);
  console.log(`  Targets: ${GOALS_SUMMARY}`);
  if (settings.synclineUrl) console.log(`  NOTE: "Syncline" is the external server at ${settings.synclineUrl} (BENCH_SYNCLINE_URL)`);
  if (settings.pouchdbUrl) console.log(`  NOTE: "PouchDB Server" is the external server at ${settings.pouchdbUrl} (BENCH_POUCHDB_URL)`);
  console.log('');
}

interface Runner {
  id: TargetId;
  log: Log;
  run(workload: Workload): Promise<Measurement> | undefined;
  /** Syncline-only sections; undefined on the other targets. */
  runSection?(section: SynclineSection): Promise<void>;
  stop(): Promise<void>;
}

function prefixedLog(id: TargetId): Log {
  return (line) => console.log(`[${TARGET_LABELS[id]}] ${line}`);
}

async function startHttpRunner(entry: (typeof HTTP_TARGETS)[number], settings: Settings, tmpRoot: string, needsWarmUp: boolean): Promise<Runner> {
  const log = prefixedLog(entry.id);
  log('starting...');
  const target = await entry.start(tmpRoot, settings);
  log(target.description);
  if (needsWarmUp) {
    try {
      await warmUpReplication(target, settings, log);
    } catch (err) {
      log(`warm-up FAILED (continuing): ${message(err)}`);
    }
  }
  return {
    id: entry.id,
    log,
    run: (w) => w.runHttp(target, log),
    ...(entry.id === 'syncline' ? { runSection: (section: SynclineSection) => section.run(target, log) } : {}),
    async stop() {
      await target.stop();
      log('stopped');
    },
  };
}

function rawSqliteRunner(tmpRoot: string): Runner {
  const log = prefixedLog('sqlite');
  log('better-sqlite3 in-process, WAL, synchronous=FULL, fresh file per workload');
  return {
    id: 'sqlite',
    log,
    run: (w) => (w.runSqlite ? Promise.resolve(w.runSqlite(tmpRoot, log)) : undefined),
    stop: () => Promise.resolve(),
  };
}

/**
 * Targets run each workload back to back, so load from elsewhere on the
 * machine hits them alike; the HTTP targets take turns going first.
 */
async function runWorkloads(
  runners: readonly Runner[],
  workloads: readonly Workload[],
  sections: readonly SynclineSection[],
  rounds: number,
  results: Results,
): Promise<void> {
  const http = runners.filter((r) => r.id !== 'sqlite');
  const others = runners.filter((r) => r.id === 'sqlite');
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) console.log(`-- round ${round} of ${rounds}`);
    for (const [index, w] of workloads.entries()) {
      const order = (round + index) % 2 === 1 ? http : [...http].reverse();
      for (const runner of [...order, ...others]) {
        if (isClosing()) return;
        if (results.failed(w.id, runner.id)) continue;
        collectGarbage();
        try {
          const measuring = runner.run(w);
          if (measuring) results.add(w.id, runner.id, await measuring);
        } catch (err) {
          if (isClosing()) return;
          runner.log(`${w.name} FAILED: ${message(err)}`);
          results.fail(w.id, runner.id, message(err));
        }
      }
    }
    const syncline = runners.find((r) => r.runSection !== undefined);
    for (const section of sections) {
      if (isClosing()) return;
      if (!syncline?.runSection) continue;
      collectGarbage();
      try {
        await syncline.runSection(section);
      } catch (err) {
        if (isClosing()) return;
        syncline.log(`${section.name} FAILED: ${message(err)}`);
        section.failAll(message(err));
      }
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
  const sections = [accessControlSection(settings), importSection(settings), blipSection(settings), blipBlobsSection(settings), postgresSection(settings), replicationSection(settings)].filter((s) => settings.workloads.includes(s.id));
  printHeader(settings, workloads, sections);

  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'syncline-bench-'));
  const removeTmp = (): void => rmSync(tmpRoot, { recursive: true, force: true });
  track({ name: `temp dir ${tmpRoot}`, close: () => Promise.resolve(removeTmp()), closeSync: removeTmp });

  const results = new Results();
  const runners: Runner[] = [];
  const needsWarmUp = workloads.some((w) => w.id === 'pull' || w.id === 'push');
  for (const entry of HTTP_TARGETS.filter((t) => settings.targets.includes(t.id))) {
    try {
      runners.push(await startHttpRunner(entry, settings, tmpRoot, needsWarmUp));
    } catch (err) {
      prefixedLog(entry.id)(`could not start: ${message(err)}`);
      for (const w of workloads) results.fail(w.id, entry.id, `not started: ${message(err)}`);
      if (entry.id === 'syncline') for (const section of sections) section.failAll(`not started: ${message(err)}`);
    }
  }
  if (settings.targets.includes('sqlite')) runners.push(rawSqliteRunner(tmpRoot));
  try {
    await runWorkloads(runners, workloads, sections, settings.rounds, results);
  } finally {
    for (const runner of runners) await runner.stop();
  }

  console.log('');
  for (const w of workloads) {
    console.log(formatWorkload(w, settings.targets, results, settings.rounds).join('\n'));
    console.log('');
  }
  for (const section of sections) {
    if (!settings.targets.includes('syncline')) {
      console.log(`${section.name}: not run (Syncline is not among BENCH_TARGETS)\n`);
      continue;
    }
    console.log(section.report(settings.rounds).join('\n'));
    console.log('');
  }
  console.log(formatGoals(results).join('\n'));
  for (const section of sections) for (const line of section.goalLines?.(settings.rounds) ?? []) console.log(line);
  console.log(`\nTotal time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await closeAll();
  return results.hasErrors() || sections.some((s) => s.hasErrors()) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error('benchmark crashed:', err);
    await closeAll();
    process.exit(1);
  },
);
